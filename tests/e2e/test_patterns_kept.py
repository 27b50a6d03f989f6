"""Patterns mean what users read (`*` and `?` only), and a plan names what it keeps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rulesync.desired import matches
from tests.helpers import Org, Project, api_project


@pytest.fixture
def setup(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("[EMEA] Inbound", "[EMEA] Inbound", True),
        ("[EMEA] Inbound", "E Inbound", False),
        ("[EMEA]*", "[EMEA] Outbound", True),
        ("Team ?", "Team A", True),
        ("Team ?", "Team AB", False),
        ("team *", "Team A", False),
        ("a.b+c", "a.b+c", True),
        ("a.b+c", "aXbbc", False),
        ("[!x]", "y", False),
    ],
)
def test_only_star_and_question_mark_are_wildcards(pattern: str, name: str, expected: bool) -> None:
    assert matches(name, [pattern]) is expected


def test_a_bracketed_protect_pattern_protects_that_name_only(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("[EMEA] Inbound")
    org.create("E Inbound")
    org.create("Keep")
    project.configure(
        "safety: {protect: ['[EMEA] Inbound'], max_change_percent: 100, min_existing: 0}\n"
    )
    project.ruleset("Keep")
    result = project.run("plan", "--prune", "--format", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert [(c["action"], c["name"]) for c in plan["changes"]] == [("delete", "E Inbound")]
    assert [k["name"] for k in plan["kept"]] == ["[EMEA] Inbound"]
    assert project.run("apply", "--yes", "--prune").exit_code == 0
    assert org.names() == ["Keep", "[EMEA] Inbound"]


def test_targets_are_patterns_with_literal_brackets(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.write("rulesets/emea.yaml", "name: '[EMEA] Inbound'\n")
    project.ruleset("E Inbound", file="e")
    project.ruleset("Team A", file="a")
    project.ruleset("Team B", file="b")

    def targeted(*targets: str) -> list[str]:
        args = [a for t in targets for a in ("--target", t)]
        result = project.run("plan", "--format", "json", *args)
        assert result.exit_code == 0, result.output
        return [c["name"] for c in json.loads(result.stdout)["changes"]]

    assert targeted("[EMEA] Inbound") == ["[EMEA] Inbound"]
    assert targeted("Team ?") == ["Team A", "Team B"]
    missing = project.run("plan", "--target", "[EMEA]")
    assert missing.exit_code == 1
    assert "--target names no declared or live ruleset: '[EMEA]'" in missing.output


def test_a_pattern_that_matches_no_live_ruleset_is_warned_about(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    org.create("Default inbound")
    project.configure("manage: ['*']\nsafety: {protect: ['default*']}\n")
    project.ruleset("Default inbound")
    result = project.run("plan")
    assert result.exit_code == 0
    assert (
        "Warning: safety.protect pattern 'default*' matches no live ruleset "
        "(patterns are case-sensitive" in result.stderr
    )
    assert "manage pattern" not in result.stderr


def test_without_prune_the_plan_names_live_rulesets_it_keeps(setup: tuple[Project, Org]) -> None:
    project, org = setup
    legacy = org.create("Legacy")
    org.create("Keep")
    project.ruleset("Keep")
    project.ruleset("New")

    text = project.run("plan")
    assert "Kept, not declared (1): no file declares these; use --prune to delete:" in text.stdout
    assert f"  = 'Legacy' (id {legacy})" in text.stdout

    markdown = project.run("plan", "--format", "markdown").stdout
    assert "<summary>Kept, not declared (1): no file declares these; use --prune" in markdown
    assert f"- Legacy (id {legacy})" in markdown

    plan = json.loads(project.run("plan", "--format", "json").stdout)
    assert plan["kept"] == [{"id": legacy, "name": "Legacy"}]

    assert project.run("plan", "--out", "plan.json").exit_code == 0
    assert f"'Legacy' (id {legacy})" in project.run("show", "plan.json").stdout

    pruned = json.loads(project.run("plan", "--format", "json", "--prune").stdout)
    assert pruned["kept"] == []
    assert [c["name"] for c in pruned["changes"] if c["action"] == "delete"] == ["Legacy"]
