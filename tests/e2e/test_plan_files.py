"""A saved plan applies only to what was reviewed: bound to its org, read strictly, sent as
its patch, and re-checked against today's config and live state (SPEC §10 "Plans")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rulesync.applier import patch_body
from rulesync.emulator.server import EmulatorServer
from tests.helpers import Org, Project, api_project


@pytest.fixture
def setup(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


def saved(project: Project) -> dict[str, Any]:
    return dict(json.loads((project.root / "plan.json").read_text()))


def save(project: Project, data: dict[str, Any]) -> None:
    (project.root / "plan.json").write_text(json.dumps(data))


def test_a_plan_for_another_org_at_the_same_url_is_refused(tmp_path: Path) -> None:
    """Outreach serves every org from one URL: the stage ids and names tell them apart."""
    other_seed = tmp_path / "other.yaml"
    other_seed.write_text("stages: [{id: 1, name: Cold}, {id: 2, name: Prospecting}]\n")
    with EmulatorServer(token="t") as first:
        port = (
            first.port_bound if hasattr(first, "port_bound") else int(first.url.rsplit(":", 1)[1])
        )
        project, _ = api_project(tmp_path / "p", first)
        project.ruleset("Inbound", "startedStage: Approaching\n")
        assert project.run("plan", "--out", "plan.json").exit_code == 0
    with EmulatorServer(token="t", port=port, seed_path=other_seed) as second:
        org = Org(second.url, second.api_url, second.token)
        result = project.run("apply", "plan.json")
        assert result.exit_code == 3, result.output
        assert "belongs to another org" in result.output
        assert "stage 2 was 'Approaching' when planned; here it is 'Prospecting'" in result.output
        assert org.writes() == 0


def test_a_plan_for_another_api_url_is_refused(setup: tuple[Project, Org]) -> None:
    project, org = setup
    project.ruleset("C")
    assert project.run("plan", "--out", "plan.json").exit_code == 0
    data = saved(project)
    data["api_url"] = "https://api.outreach.io/api/v2"
    save(project, data)
    result = project.run("apply", "plan.json")
    assert result.exit_code == 3
    assert "planned against https://api.outreach.io/api/v2" in result.output
    assert org.names() == []


def _update_plan(project: Project, org: Org) -> dict[str, Any]:
    org.create("U", includeUnsubscribeLinks=False)
    org.create("Other")
    project.ruleset("U", "includeUnsubscribeLinks: true\n")
    project.ruleset("Other")
    project.ruleset("C")
    assert project.run("plan", "--out", "plan.json").exit_code == 0
    return saved(project)


def _edit(data: dict[str, Any], edit: str) -> None:
    update = next(c for c in data["changes"] if c["action"] == "update")
    if edit == "string id":
        update["id"] = str(update["id"])
    elif edit == "unknown action":
        update["action"] = "upsert"
    elif edit == "move op":
        update["patch"][0]["op"] = "move"
    elif edit == "path to no field":
        update["patch"][0]["path"] = "/attributes/nonsense"
    elif edit == "patch disagrees with after":
        update["patch"][0]["value"] = False
    elif edit == "no live_version":
        del update["live_version"]
    elif edit == "summary lies":
        data["summary"]["delete"] = 3
    elif edit == "changes not a list":
        data["changes"] = {"0": update}
    elif edit == "blast radius removed":
        del update["sequences"]
    elif edit == "assign to a ruleset not created":
        data["changes"].append(
            {
                "action": "assign",
                "name": "S",
                "id": 1,
                "ruleset_from": None,
                "ruleset_to": {"id": None, "name": "Nowhere"},
                "denied": None,
            }
        )
        data["summary"]["assign"] = 1


EDITS = {
    "string id": "changes[1].id: Input should be a valid integer",
    "unknown action": "changes[1]: Input tag 'upsert' found using 'action'",
    "move op": "changes[1].patch[0].op: Input should be 'add', 'replace' or 'remove'",
    "path to no field": "changes[1].patch[0].path: no such field '/attributes/nonsense'",
    "patch disagrees with after": "changes[1].patch: applied to before, it does not give after",
    "no live_version": "changes[1].live_version: Field required",
    "summary lies": "summary.delete: says 3, the plan has 0",
    "changes not a list": "changes: Input should be a valid list",
    "blast radius removed": "changes[1].sequences: Field required",
    "assign to a ruleset not created": (
        "changes[2].ruleset_to.id: null, but the plan creates no such ruleset"
    ),
}


@pytest.mark.parametrize("command", ["apply", "show"])
@pytest.mark.parametrize("edit", list(EDITS))
def test_a_damaged_or_edited_plan_is_one_clear_error(
    setup: tuple[Project, Org], edit: str, command: str
) -> None:
    project, org = setup
    data = _update_plan(project, org)
    _edit(data, edit)
    save(project, data)
    writes = org.writes()
    result = project.run(command, "plan.json")
    assert result.exit_code == 1, result.output
    assert "plan.json: damaged or edited plan file, refused" in result.output
    assert EDITS[edit] in result.output
    assert "Traceback" not in result.output
    assert org.writes() == writes


def test_a_plan_that_is_not_json_is_one_clear_error(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    (project.root / "plan.json").write_text("{not json")
    for command in ("apply", "show"):
        result = project.run(command, "plan.json")
        assert result.exit_code == 1
        assert "plan.json: not JSON" in result.output


def test_an_id_that_belongs_to_another_ruleset_is_refused(setup: tuple[Project, Org]) -> None:
    project, org = setup
    data = _update_plan(project, org)
    other = org.by_name()["Other"]["id"]
    update = next(c for c in data["changes"] if c["action"] == "update")
    update["id"] = int(str(other))
    save(project, data)
    writes = org.writes()
    result = project.run("apply", "plan.json")
    assert result.exit_code == 3, result.output
    assert f"id {other} is the live ruleset 'Other', not 'U' as the plan says" in result.output
    assert org.writes() == writes


def test_an_update_sends_its_reviewed_patch_and_remove_sends_null(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    rid = org.create("U", includeUnsubscribeLinks=False, stepOverridesEnabled=True)
    project.ruleset("U", "includeUnsubscribeLinks: true\n")
    assert project.run("plan", "--out", "plan.json").exit_code == 0
    data = saved(project)
    (update,) = data["changes"]
    # a reviewer-visible remove: before has the field, after does not, the patch removes it
    update["before"]["attributes"]["stepOverridesEnabled"] = True
    update["patch"].append({"op": "remove", "path": "/attributes/stepOverridesEnabled"})
    save(project, data)
    result = project.run("apply", "plan.json")
    assert result.exit_code == 0, result.output
    attrs = org.by_name()["U"]["attributes"]
    assert attrs["includeUnsubscribeLinks"] is True  # type: ignore[index]
    assert attrs["stepOverridesEnabled"] is None  # type: ignore[index]
    assert org.by_name()["U"]["id"] == rid


def test_patch_body_is_the_patch_alone() -> None:
    body = patch_body(
        4,
        [
            {"op": "replace", "path": "/attributes/includeUnsubscribeLinks", "value": True},
            {"op": "add", "path": "/relationships/owner", "value": {"type": "user", "id": 2}},
            {"op": "remove", "path": "/attributes/smsReceivedAction"},
        ],
    )
    assert body == {
        "type": "ruleset",
        "id": 4,
        "attributes": {"includeUnsubscribeLinks": True, "smsReceivedAction": None},
        "relationships": {"owner": {"data": {"type": "user", "id": 2}}},
    }


def test_a_delete_protected_since_planning_is_refused(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("Legacy")
    org.create("Keep")
    project.ruleset("Keep")
    assert project.run("plan", "--prune", "--out", "plan.json").exit_code == 0
    project.configure("safety: {protect: [Legacy]}\n")
    result = project.run("apply", "plan.json")
    assert result.exit_code == 3
    assert "deletes 'Legacy', which safety.protect ['Legacy'] protects" in result.output
    assert org.names() == ["Keep", "Legacy"]


def test_an_update_outside_manage_since_planning_is_refused(setup: tuple[Project, Org]) -> None:
    project, org = setup
    _update_plan(project, org)
    project.configure('manage: ["Team *"]\n')
    result = project.run("apply", "plan.json")
    assert result.exit_code == 3
    assert "updates 'U', which is outside manage ['Team *']" in result.output
    assert org.by_name()["U"]["attributes"]["includeUnsubscribeLinks"] is False  # type: ignore[index]


def test_renaming_a_protected_ruleset_is_unsafe(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("Default inbound")
    project.configure("safety: {protect: ['Default*']}\n")
    project.ruleset("Inbound", "previousNames: [Default inbound]\n")
    planned = project.run("plan")
    assert planned.exit_code == 3
    assert "renames 'Default inbound' to 'Inbound', which safety.protect" in planned.output
    assert project.run("apply", "--yes").exit_code == 3
    assert org.names() == ["Default inbound"]
    assert project.run("apply", "--yes", "--force").exit_code == 0
    assert org.names() == ["Inbound"]


def test_renaming_a_protected_ruleset_through_a_pin_is_unsafe(setup: tuple[Project, Org]) -> None:
    project, org = setup
    rid = org.create("Default inbound")
    project.configure("safety: {protect: ['Default*']}\n")
    project.ruleset("Inbound", f"id: {rid}\n")
    result = project.run("apply", "--yes")
    assert result.exit_code == 3
    assert "renames 'Default inbound' to 'Inbound'" in result.output
    assert org.names() == ["Default inbound"]
