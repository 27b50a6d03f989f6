"""`id: N` pins a file to one live ruleset (SPEC §10): duplicates, renames, bad pins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Org, Project, api_project


@pytest.fixture
def setup(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


def test_duplicate_live_names_plan_and_apply_cleanly_when_each_file_pins_one(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    first = org.create("Inbound", includeUnsubscribeLinks=False)
    second = org.create("Inbound", includeUnsubscribeLinks=False)
    project.ruleset("Inbound", f"id: {first}\nincludeUnsubscribeLinks: true\n", file="a")
    project.ruleset("Inbound", f"id: {second}\nincludeUnsubscribeLinks: false\n", file="b")

    result = project.run("plan", "--format", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert [(c["action"], c["id"]) for c in plan["changes"]] == [("update", first)]
    assert plan["summary"]["unchanged"] == 1

    assert project.run("apply", "--yes").exit_code == 0
    live = {int(str(r["id"])): r["attributes"] for r in org.rulesets()}
    assert live[first]["includeUnsubscribeLinks"] is True  # type: ignore[index]
    assert live[second]["includeUnsubscribeLinks"] is False  # type: ignore[index]
    assert "No changes." in project.run("plan").output


def test_a_pin_with_another_name_renames_that_ruleset(setup: tuple[Project, Org]) -> None:
    project, org = setup
    rid = org.create("Old name")
    project.ruleset("New name", f"id: {rid}\n")
    result = project.run("plan", "--format", "json")
    change = json.loads(result.stdout)["changes"][0]
    assert (change["action"], change["id"], change["renamed_from"]) == ("update", rid, "Old name")
    assert project.run("apply", "--yes").exit_code == 0
    assert org.names() == ["New name"]


def test_a_pin_to_a_missing_ruleset_is_an_error_naming_the_file(
    setup: tuple[Project, Org],
) -> None:
    project, _ = setup
    project.ruleset("Ghost", "id: 9999\n")
    result = project.run("plan")
    assert result.exit_code == 1
    assert "rulesets/ghost.yaml:2:5: id: 'Ghost': id 9999" in result.output
    assert "id 9999" in result.output and "does not exist" in result.output


def test_same_name_without_pins_is_still_a_duplicate(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.ruleset("Inbound", "id: 5\n", file="a")
    project.ruleset("Inbound", "", file="b")
    result = project.run("validate")
    assert result.exit_code == 1
    assert "rulesets/b.yaml:1:7: name: 'Inbound' is also declared at rulesets/a.yaml:1" in (
        result.output
    )


def test_one_id_pinned_by_two_files_is_an_error(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.ruleset("One", "id: 5\n")
    project.ruleset("Two", "id: 5\n")
    result = project.run("validate")
    assert result.exit_code == 1
    assert "rulesets/two.yaml:2:5: id: id 5 is also pinned at rulesets/one.yaml:1" in result.output


@pytest.mark.parametrize("value", ["0", "'5'", "true", "-3"])
def test_a_pin_must_be_a_positive_integer(setup: tuple[Project, Org], value: str) -> None:
    project, _ = setup
    project.ruleset("One", f"id: {value}\n")
    result = project.run("validate")
    assert result.exit_code == 1
    assert "rulesets/one.yaml:2:5: id:" in result.output
