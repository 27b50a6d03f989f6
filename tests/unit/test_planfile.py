"""The strict reader of saved plans (SPEC §10 "Plans"): a plan file someone edited or damaged
is refused with every problem named by its place in the JSON, and a sound one reads back as
the plan that was written. Each test edits one thing in a sound plan and asserts the exact
problems the user reads."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from rulesync.errors import ConfigError
from rulesync.fields import INT_MAX
from rulesync.plan import Plan
from rulesync.planfile import plan_to_json, read_plan

VERSION = "sha256:" + "0123456789abcdef" * 4
HEADER = ": damaged or edited plan file, refused:"
FOOTER = "Make a new one with `rulesync plan --out`."


def read(path: Path) -> Plan:
    """The one public way a saved plan is read (the only lines to change if they move)."""
    return read_plan(path)


def as_json(plan: Plan) -> dict[str, Any]:
    return plan_to_json(plan)


def sound() -> dict[str, Any]:
    """A plan with every kind of change, every op, every relationship type and edge value."""
    return {
        "format_version": 1,
        "environment": "production",
        "api_url": "https://api.example.test/api/v2",
        "generated_at": "2026-11-27T08:00:00Z",
        "summary": {
            "create": 1,
            "update": 2,
            "assign": 2,
            "detach": 1,
            "delete": 1,
            "unchanged": 0,
        },
        "api_requests": 0,
        "live_managed": 4,
        "prune": True,
        "changes": [
            {
                "action": "create",
                "name": "New",
                "id": None,
                "after": {
                    "attributes": {"name": "New", "includeUnsubscribeLinks": True},
                    "relationships": {
                        "startedStage": {"type": "stage", "id": 2},
                        "callTaskPriority": {"type": "taskPriority", "id": 1},
                        "owner": None,
                    },
                },
            },
            {
                "action": "update",
                "name": "Renamed",
                "id": INT_MAX,
                "renamed_from": "Old name",
                "before": {
                    "attributes": {
                        "name": "Old name",
                        "includeUnsubscribeLinks": False,
                        "smsReceivedAction": "stop",
                    },
                    "relationships": {"owner": None},
                },
                "after": {
                    "attributes": {
                        "name": "Renamed",
                        "includeUnsubscribeLinks": True,
                        "meetingBookedAction": "pause",
                    },
                    "relationships": {"owner": {"type": "user", "id": 1}},
                },
                "patch": [
                    {"op": "replace", "path": "/attributes/name", "value": "Renamed"},
                    {"op": "replace", "path": "/attributes/includeUnsubscribeLinks", "value": True},
                    {"op": "remove", "path": "/attributes/smsReceivedAction"},
                    {"op": "add", "path": "/attributes/meetingBookedAction", "value": "pause"},
                    {
                        "op": "replace",
                        "path": "/relationships/owner",
                        "value": {"type": "user", "id": 1},
                    },
                ],
                "live_version": VERSION,
                "sequences": [{"id": 3, "name": "Outbound"}],
                "denied": None,
            },
            {
                "action": "update",
                "name": "Same",
                "id": 1,
                "renamed_from": None,
                "before": {"attributes": {"name": "Same"}, "relationships": {}},
                "after": {
                    "attributes": {"name": "Same", "stepOverridesEnabled": True},
                    "relationships": {},
                },
                "patch": [{"op": "add", "path": "/attributes/stepOverridesEnabled", "value": True}],
                "live_version": VERSION,
                "sequences": None,
                "denied": "the token may not update rulesets",
            },
            {
                "action": "assign",
                "name": "Inbound",
                "id": 4,
                "ruleset_from": None,
                "ruleset_to": {"id": 1, "name": "Same"},
                "denied": None,
            },
            {
                "action": "assign",
                "name": "Outbound",
                "id": 3,
                "ruleset_from": {"id": INT_MAX, "name": "Old name"},
                "ruleset_to": {"id": None, "name": "New"},
                "denied": None,
            },
            {
                "action": "detach",
                "name": "Nurture",
                "id": 5,
                "ruleset_from": {"id": 9, "name": "Gone"},
                "ruleset_to": None,
                "denied": None,
            },
            {
                "action": "delete",
                "name": "Gone",
                "id": 9,
                "before": {
                    "attributes": {"name": "Gone", "createdAt": "2024-01-01T00:00:00Z"},
                    "relationships": {"owner": {"data": {"type": "user", "id": 1}}},
                },
                "live_version": VERSION,
                "sequences": [],
                "denied": None,
            },
        ],
        "references": {
            "stage": {"2": "Approaching"},
            "taskPriority": {"1": "High"},
            "user": {"1": "Ann", "2147483647": "Max"},
        },
        "kept": [{"id": 8, "name": "Left alone"}],
    }


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def problems(tmp_path: Path, data: Any) -> list[str]:
    """The problems listed in the refusal, in order (the refusal's frame checked once here)."""
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        read(path)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"{path}{HEADER}"
    assert lines[-1] == FOOTER
    assert all(line.startswith("  - ") for line in lines[1:-1])
    return [line[4:] for line in lines[1:-1]]


def edited(edit: Any) -> dict[str, Any]:
    data = copy.deepcopy(sound())
    edit(data)
    return data


def test_a_sound_plan_reads_back_as_written(tmp_path: Path) -> None:
    data = sound()
    plan = read(write(tmp_path, data))
    assert as_json(plan) == data
    assert [c.action for c in plan.changes] == [
        "create",
        "update",
        "update",
        "assign",
        "assign",
        "detach",
        "delete",
    ]


def test_a_plan_without_kept_rulesets_reads(tmp_path: Path) -> None:
    """Plans written before `kept` existed still read: no ruleset was kept."""
    data = sound()
    del data["kept"]
    assert read(write(tmp_path, data)).kept == ()


# edits that break one rule of the format, and the one problem the user reads for each
EDITS: dict[str, tuple[Any, list[str]]] = {
    "an id of 0": (
        lambda d: d["changes"][2].update(id=0),
        ["changes[2].id: Input should be greater than or equal to 1"],
    ),
    "an id past the API's integer range": (
        lambda d: d["changes"][1].update(id=INT_MAX + 1),
        ["changes[1].id: Input should be less than or equal to 2147483647"],
    ),
    "a string id": (
        lambda d: d["changes"][6].update(id="9"),
        ["changes[6].id: Input should be a valid integer"],
    ),
    "a create with an id": (
        lambda d: d["changes"][0].update(id=5),
        ["changes[0].id: Input should be None"],
    ),
    "a negative count": (
        lambda d: d.update(api_requests=-1),
        ["api_requests: Input should be greater than or equal to 0"],
    ),
    "a count that is a boolean": (
        lambda d: d["summary"].update(create=True),
        ["summary.create: Input should be a valid integer"],
    ),
    "prune as a string": (
        lambda d: d.update(prune="yes"),
        ["prune: Input should be a valid boolean"],
    ),
    "an unknown key": (
        lambda d: d["changes"][3].update(force=True),
        ["changes[3].force: Extra inputs are not permitted"],
    ),
    "an unknown top-level key": (
        lambda d: d.update(comment="reviewed"),
        ["comment: Extra inputs are not permitted"],
    ),
    "a short live_version": (
        lambda d: d["changes"][6].update(live_version="sha256:abc"),
        ["changes[6].live_version: String should match pattern '^sha256:[0-9a-f]{64}$'"],
    ),
    "an unknown action": (
        lambda d: d["changes"][4].update(action="upsert"),
        [
            "changes[4]: Input tag 'upsert' found using 'action' does not match any of the"
            " expected tags: 'create', 'update', 'assign', 'detach', 'delete'"
        ],
    ),
    "a relationship of an unknown type": (
        lambda d: d["changes"][0]["after"]["relationships"].update(
            startedStage={"type": "mailbox", "id": 2}
        ),
        [
            "changes[0].after.relationships.startedStage.type: Input should be 'stage',"
            " 'taskPriority' or 'user'"
        ],
    ),
    "a move op": (
        lambda d: d["changes"][2]["patch"][0].update(op="move"),
        ["changes[2].patch[0].op: Input should be 'add', 'replace' or 'remove'"],
    ),
    "a path below a field": (
        lambda d: d["changes"][2]["patch"][0].update(path="/attributes/name/0"),
        [
            "changes[2].patch[0].path: String should match pattern"
            " '^/(attributes|relationships)/[^/]+$'"
        ],
    ),
    "an empty patch": (
        lambda d: d["changes"][2].update(patch=[]),
        ["changes[2].patch: List should have at least 1 item after validation, not 0"],
    ),
    "a detach to a ruleset": (
        lambda d: d["changes"][5].update(ruleset_to={"id": 1, "name": "Same"}),
        ["changes[5].ruleset_to: Input should be None"],
    ),
    "an assign from a ruleset to be created": (
        lambda d: d["changes"][3].update(ruleset_from={"id": None, "name": "New"}),
        ["changes[3].ruleset_from.id: Input should be a valid integer"],
    ),
    "a blast radius removed from a delete": (
        lambda d: d["changes"][6].pop("sequences"),
        ["changes[6].sequences: Field required"],
    ),
    "a sequence id of 0": (
        lambda d: d["changes"][1]["sequences"].append({"id": 0, "name": "Zero"}),
        ["changes[1].sequences[1].id: Input should be greater than or equal to 1"],
    ),
    "a kept ruleset without a name": (
        lambda d: d["kept"][0].pop("name"),
        ["kept[0].name: Field required"],
    ),
    "a reference id of 0": (
        lambda d: d["references"]["stage"].update({"0": "Zero"}),
        ["references.stage.0.[key]: String should match pattern '^[1-9][0-9]{0,9}$'"],
    ),
    "a reference of an unknown kind": (
        lambda d: d["references"].update(mailbox={"1": "Inbox"}),
        ["references.mailbox.[key]: Input should be 'stage', 'taskPriority' or 'user'"],
    ),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_each_broken_rule_is_one_located_problem(tmp_path: Path, edit: str) -> None:
    change, expected = EDITS[edit]
    assert problems(tmp_path, edited(change)) == expected


@pytest.mark.parametrize(
    ("index", "action"),
    [(0, "create"), (1, "update"), (3, "assign"), (5, "detach"), (6, "delete")],
)
def test_a_problem_inside_each_kind_of_change_names_its_place_not_the_kind(
    tmp_path: Path, index: int, action: str
) -> None:
    """pydantic names the union's branch (`changes.1.update.name`); the user reads the place."""
    data = edited(lambda d: d["changes"][index].update(name=7))
    assert problems(tmp_path, data) == [f"changes[{index}].name: Input should be a valid string"]
    assert data["changes"][index]["action"] == action


def test_the_format_version_is_checked_first(tmp_path: Path) -> None:
    path = write(tmp_path, edited(lambda d: d.update(format_version=2)))
    with pytest.raises(ConfigError) as caught:
        read(path)
    assert str(caught.value) == (
        f"{path}: plan format_version 2 is not supported (this rulesync reads 1); plan again"
    )


# edits the schema allows but the plan's own consistency does not
CONSISTENCY: dict[str, tuple[Any, list[str]]] = {
    "a ruleset changed twice": (
        lambda d: d["changes"][6].update(id=1),
        ["changes[6].id: ruleset 1 is also changed at changes[2]"],
    ),
    "a sequence assigned twice": (
        lambda d: d["changes"][5].update(id=3),
        ["changes[5].id: sequence 3 is also changed at changes[4]"],
    ),
    "a sequence and a ruleset with the same id": (
        lambda d: d["changes"][3].update(id=1),
        [],
    ),
    "an assign to a ruleset the plan does not create": (
        lambda d: d["changes"][4]["ruleset_to"].update(name="Nowhere"),
        ["changes[4].ruleset_to.id: null, but the plan creates no such ruleset"],
    ),
    "an assign to a live ruleset not created by the plan": (
        lambda d: d["changes"][3]["ruleset_to"].update(name="Not in this plan"),
        [],
    ),
    "a summary that hides a delete": (
        lambda d: d["summary"].update(delete=0),
        ["summary.delete: says 0, the plan has 1"],
    ),
    "a summary that invents creates": (
        lambda d: d["summary"].update(create=3),
        ["summary.create: says 3, the plan has 1"],
    ),
    "an unknown attribute in after": (
        lambda d: d["changes"][0]["after"]["attributes"].update(colour="red"),
        ["changes[0].after.attributes: no such field 'colour'"],
    ),
    "an unknown relationship in after": (
        lambda d: d["changes"][0]["after"]["relationships"].update(
            manager={"type": "user", "id": 1}
        ),
        ["changes[0].after.relationships: no such relationship 'manager'"],
    ),
    "a relationship of the wrong type": (
        lambda d: d["changes"][0]["after"]["relationships"].update(
            startedStage={"type": "user", "id": 1}
        ),
        ["changes[0].after.relationships.startedStage.type: must be 'stage', got 'user'"],
    ),
    "a create whose after has another name": (
        lambda d: d["changes"][0]["after"]["attributes"].update(name="Other"),
        ["changes[0].after.attributes.name: does not match the change's name"],
    ),
    "an update whose before has an unknown field": (
        lambda d: d["changes"][2]["before"]["attributes"].update(colour="red"),
        [
            "changes[2].before.attributes: no such field 'colour'",
            "changes[2].patch: applied to before, it does not give after",
        ],
    ),
    "an update whose after has an unknown field": (
        lambda d: d["changes"][2]["after"]["attributes"].update(colour="red"),
        [
            "changes[2].after.attributes: no such field 'colour'",
            "changes[2].patch: applied to before, it does not give after",
        ],
    ),
    "renamed_from that is not the name before": (
        lambda d: d["changes"][1].update(renamed_from="Someone else"),
        ["changes[1].renamed_from: does not match the name in before ('Old name')"],
    ),
    "a rename hidden by dropping renamed_from": (
        lambda d: d["changes"][1].update(renamed_from=None),
        ["changes[1].renamed_from: does not match the name in before ('Old name')"],
    ),
    "an update whose before has another name": (
        lambda d: d["changes"][2]["before"]["attributes"].update(name="Other"),
        [
            "changes[2].renamed_from: does not match the name in before ('Other')",
            "changes[2].patch: applied to before, it does not give after",
        ],
    ),
    "a rename to the same name": (
        lambda d: d["changes"][2].update(renamed_from="Same"),
        ["changes[2].renamed_from: is the ruleset's own name"],
    ),
    "a replace without a value": (
        lambda d: d["changes"][1]["patch"][1].pop("value"),
        [
            "changes[1].patch[1].value: required for replace",
            "changes[1].patch: does not apply to before (The operation does not contain a"
            " 'value' member)",
        ],
    ),
    "an add without a value": (
        lambda d: d["changes"][2]["patch"][0].pop("value"),
        [
            "changes[2].patch[0].value: required for add",
            "changes[2].patch: does not apply to before (The operation does not contain a"
            " 'value' member)",
        ],
    ),
    "a remove with a value": (
        lambda d: d["changes"][1]["patch"][2].update(value="ignored"),
        [],
    ),
    "a patch to no such attribute": (
        lambda d: d["changes"][2]["patch"][0].update(path="/attributes/nonsense"),
        [
            "changes[2].patch[0].path: no such field '/attributes/nonsense'",
            "changes[2].patch: applied to before, it does not give after",
        ],
    ),
    "a patch to a relationship under attributes": (
        lambda d: d["changes"][1]["patch"][4].update(path="/attributes/owner"),
        [
            "changes[1].patch[4].path: no such field '/attributes/owner'",
            "changes[1].patch: does not apply to before (can't replace a non-existent object"
            " 'owner')",
        ],
    ),
    "a patch to an attribute under relationships": (
        lambda d: d["changes"][2]["patch"][0].update(path="/relationships/stepOverridesEnabled"),
        [
            "changes[2].patch[0].path: no such field '/relationships/stepOverridesEnabled'",
            "changes[2].patch: applied to before, it does not give after",
        ],
    ),
    "a patch whose value disagrees with after": (
        lambda d: d["changes"][2]["patch"][0].update(value=False),
        ["changes[2].patch: applied to before, it does not give after"],
    ),
    "a patch that replaces what before lacks": (
        lambda d: d["changes"][2]["patch"][0].update(op="replace"),
        [
            "changes[2].patch: does not apply to before (can't replace a non-existent object"
            " 'stepOverridesEnabled')"
        ],
    ),
    "a patch that removes what before lacks": (
        lambda d: d["changes"][2]["patch"].append(
            {"op": "remove", "path": "/attributes/smsReceivedAction"}
        ),
        [
            "changes[2].patch: does not apply to before (can't remove a non-existent object"
            " 'smsReceivedAction')"
        ],
    ),
}


@pytest.mark.parametrize("edit", list(CONSISTENCY))
def test_each_inconsistency_is_named(tmp_path: Path, edit: str) -> None:
    change, expected = CONSISTENCY[edit]
    data = edited(change)
    if expected:
        assert problems(tmp_path, data) == expected
    else:  # allowed: reads without complaint
        assert as_json(read(write(tmp_path, data))) == data


def test_problems_in_several_changes_are_all_listed_in_order(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["changes"][0]["after"]["attributes"]["name"] = "Other"
        d["changes"][1]["renamed_from"] = "Old name 2"
        d["changes"][4]["ruleset_to"]["name"] = "Nowhere"
        d["changes"][6]["id"] = 1
        d["summary"]["detach"] = 0

    assert problems(tmp_path, edited(edit)) == [
        "changes[0].after.attributes.name: does not match the change's name",
        "changes[1].renamed_from: does not match the name in before ('Old name')",
        "changes[4].ruleset_to.id: null, but the plan creates no such ruleset",
        "changes[6].id: ruleset 1 is also changed at changes[2]",
        "summary.detach: says 0, the plan has 1",
    ]


def test_at_most_ten_problems_are_listed_then_a_count(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        for n in range(12):
            d["changes"][0]["after"]["attributes"][f"colour{n:02}"] = "red"

    assert problems(tmp_path, edited(edit)) == [
        *(f"changes[0].after.attributes: no such field 'colour{n:02}'" for n in range(10)),
        "... and 2 more",
    ]
