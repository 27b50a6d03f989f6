"""Plan values and the plan file: one type per action, and a format that does not move.

``data/plan-v1.json`` was written by rulesync before changes became one type per action
(``Plan.dumps`` of a plan holding every kind of change, a renamed update, add/replace/remove
ops, unknown blast radius, denied changes, a lone surrogate and non-ASCII names). Plans saved
by that version must read back, and write back, to the byte."""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rulesync.errors import ConfigError
from rulesync.plan import (
    Assign,
    Change,
    Create,
    Delete,
    Detach,
    Document,
    Plan,
    RulesetRef,
    SequenceRef,
    Update,
    sort_key,
)
from rulesync.planfile import (
    change_to_json,
    dumps,
    plan_from_json,
    plan_to_json,
    read_plan,
    write_plan,
)

OLD_PLAN = Path(__file__).parent / "data" / "plan-v1.json"
TYPES = {"create": Create, "update": Update, "assign": Assign, "detach": Detach, "delete": Delete}


def old_data() -> dict[str, Any]:
    return dict(json.loads(OLD_PLAN.read_text(encoding="utf-8")))


def test_a_plan_saved_by_the_previous_version_writes_back_byte_identical(tmp_path: Path) -> None:
    plan = read_plan(OLD_PLAN)
    out = tmp_path / "again.json"
    write_plan(plan, out)
    assert out.read_bytes() == OLD_PLAN.read_bytes()


def test_the_old_plan_holds_every_kind_of_change() -> None:
    actions = [c["action"] for c in old_data()["changes"]]
    assert set(actions) == set(TYPES)
    ops = {op["op"] for c in old_data()["changes"] for op in c.get("patch", [])}
    assert ops == {"add", "replace", "remove"}


@pytest.mark.parametrize("action", list(TYPES))
def test_each_change_type_round_trips_json_to_value_to_json(action: str) -> None:
    data = old_data()
    plan = plan_from_json(data)
    pairs = [
        (raw, c)
        for raw, c in zip(data["changes"], plan.changes, strict=True)
        if raw["action"] == action
    ]
    assert pairs
    for raw, change in pairs:
        assert type(change) is TYPES[action]
        assert change.action == action
        assert change_to_json(change) == raw
        assert list(change_to_json(change)) == list(raw)  # the keys in the file's order


def test_a_plan_round_trips_through_its_values() -> None:
    data = old_data()
    plan = plan_from_json(data)
    assert plan_to_json(plan) == data
    assert plan_from_json(json.loads(dumps(plan))) == plan


def test_values_carry_what_the_file_says() -> None:
    plan = read_plan(OLD_PLAN)
    (create,) = plan.of("create")
    assert create.name == "Входящие лиды"
    renamed, quiet = plan.of("update")
    assert (renamed.id, renamed.renamed_from) == (42, "Outbound v1")
    assert renamed.sequences == (
        SequenceRef(id=5, name='Cold "outreach"'),
        SequenceRef(id=6, name="<b>bold</b>"),
    )
    assert quiet.sequences is None and quiet.denied == "no update permission on this ruleset"
    assert [op["op"] for op in quiet.patch] == ["add", "remove", "replace"]
    assert "value" not in quiet.patch[1]  # a remove carries no value
    to_new, fresh = plan.of("assign")
    assert to_new.ruleset_from == RulesetRef(id=42, name="Outbound")
    assert to_new.ruleset_to == RulesetRef(id=None, name="Входящие лиды")
    assert fresh.ruleset_from is None and fresh.denied == "sequence is locked"
    (detach,) = plan.of("detach")
    assert detach.ruleset_from == RulesetRef(id=7, name="Legacy") and detach.ruleset_to is None
    (delete,) = plan.of("delete")
    assert delete.before["attributes"]["extra"] == {"nested": [1, 2.5, "x"]}
    assert plan.summary == {
        "create": 1,
        "update": 2,
        "assign": 2,
        "detach": 1,
        "delete": 1,
        "unchanged": 9,
    }


def test_each_value_holds_only_the_fields_of_its_action() -> None:
    after = {"attributes": {"name": "N"}, "relationships": {}}
    create = Create(name="N", after=after)
    for absent in ("id", "before", "patch", "live_version", "sequences", "denied"):
        assert not hasattr(create, absent), absent
    with pytest.raises(TypeError):
        Create(name="N", after=after, patch=())  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Delete(name="N", id=1, before=after, live_version="v", after=after)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Update(name="N", id=1, before=after, after=after, live_version="v")  # type: ignore[call-arg]
    detach = Detach(name="S", id=3, ruleset_from=RulesetRef(id=1, name="R"))
    assert detach.ruleset_to is None
    with pytest.raises(TypeError):
        Detach(name="S", id=3, ruleset_from=None, ruleset_to=None)  # type: ignore[call-arg,arg-type]


def test_plan_order_is_phase_then_name_then_id() -> None:
    after: Document = {"attributes": {}, "relationships": {}}
    changes: list[Change] = [
        Delete(name="A", id=1, before=after, live_version="v"),
        Assign(name="A", id=9, ruleset_from=None, ruleset_to=RulesetRef(id=None, name="B")),
        Update(name="B", id=3, before=after, after=after, patch=(), live_version="v"),
        Update(name="B", id=2, before=after, after=after, patch=(), live_version="v"),
        Create(name="Z", after=after),
        Detach(name="A", id=8, ruleset_from=RulesetRef(id=1, name="A")),
    ]
    ordered = sorted(changes, key=sort_key)
    assert [(c.action, c.name) for c in ordered] == [
        ("create", "Z"),
        ("update", "B"),
        ("update", "B"),
        ("assign", "A"),
        ("detach", "A"),
        ("delete", "A"),
    ]
    assert [c.id for c in ordered if isinstance(c, Update)] == [2, 3]
    plan = Plan(environment="e", api_url="u", changes=tuple(ordered), unchanged=0)
    assert [type(c) for c in plan.of("update")] == [Update, Update]
    assert plan.of("create") == [ordered[0]]


def _refused(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        plan_from_json(data, source="plan.json")
    return str(err.value)


def _first(data: dict[str, Any], action: str) -> dict[str, Any]:
    return next(c for c in data["changes"] if c["action"] == action)


def test_an_update_without_a_patch_is_refused() -> None:
    data = old_data()
    _first(data, "update")["patch"] = []
    assert "changes[1].patch: List should have at least 1 item" in _refused(data)
    data = old_data()
    del _first(data, "update")["patch"]
    assert "changes[1].patch: Field required" in _refused(data)


def test_a_create_that_carries_what_only_an_update_has_is_refused() -> None:
    for extra, value in (
        ("patch", [{"op": "replace", "path": "/attributes/name", "value": "x"}]),
        ("before", {"attributes": {}, "relationships": {}}),
        ("live_version", "sha256:" + "0" * 64),
    ):
        data = old_data()
        _first(data, "create")[extra] = value
        assert f"changes[0].{extra}: Extra inputs are not permitted" in _refused(data)
    data = old_data()
    _first(data, "create")["id"] = 5
    assert "changes[0].id: Input should be None" in _refused(data)


def test_a_detach_to_a_ruleset_or_an_assign_to_none_is_refused() -> None:
    data = old_data()
    _first(data, "detach")["ruleset_to"] = {"id": 42, "name": "Outbound"}
    assert "changes[5].ruleset_to: Input should be None" in _refused(data)
    data = old_data()
    _first(data, "assign")["ruleset_to"] = None
    assert "changes[3].ruleset_to: Input should be a valid dictionary" in _refused(data)
    data = old_data()
    _first(data, "detach")["ruleset_from"] = None
    assert "changes[5].ruleset_from: Input should be a valid dictionary" in _refused(data)


def test_a_delete_without_its_live_version_is_refused() -> None:
    data = old_data()
    del _first(data, "delete")["live_version"]
    assert "changes[6].live_version: Field required" in _refused(data)


def test_reading_leaves_the_decoded_json_as_it_was() -> None:
    data = old_data()
    kept = copy.deepcopy(data)
    plan = plan_from_json(data)
    assert data == kept
    (create,) = plan.of("create")
    create.after["attributes"]["name"] = "changed"
    assert data == kept


def test_plan_values_import_no_file_format_or_validation() -> None:
    """plan.py is pure data: the standard library and rulesync's pure modules only."""
    source = (Path(__file__).parents[2] / "engine" / "plan.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    ours = {m for m in imported if m.startswith("rulesync.")}
    assert ours <= {"rulesync.documents", "rulesync.references", "rulesync.errors"}
    others = {m.split(".")[0] for m in imported - ours}
    assert others <= sys.stdlib_module_names | {"__future__"}, others


def _edit(data: dict[str, Any], edit: str) -> None:
    renamed, quiet = (c for c in data["changes"] if c["action"] == "update")
    if edit == "add without value":
        del quiet["patch"][0]["value"]
    elif edit == "renamed_from not the name before":
        renamed["renamed_from"] = "Someone else"
    elif edit == "renamed to itself":
        quiet["renamed_from"] = quiet["name"]
    elif edit == "after named otherwise":
        _first(data, "create")["after"]["attributes"]["name"] = "Other"
    elif edit == "unknown attribute in after":
        _first(data, "create")["after"]["attributes"]["colour"] = "red"
    elif edit == "unknown relationship in before":
        renamed["before"]["relationships"]["mentor"] = None
    elif edit == "relationship of the wrong kind":
        _first(data, "create")["after"]["relationships"]["owner"]["type"] = "stage"
    elif edit == "the same ruleset twice":
        quiet["id"] = renamed["id"]
    elif edit == "the same sequence twice":
        data["changes"][4]["id"] = data["changes"][3]["id"]
    elif edit == "a ruleset and a sequence may share an id":
        data["changes"][3]["id"] = renamed["id"]
    elif edit == "escaped path to no field":
        quiet["patch"][2]["path"] = "/attributes/step~1Overrides"
    elif edit == "patch to a missing field":
        quiet["patch"][1]["path"] = "/attributes/callOptOutAction"
    elif edit == "patch that does not give after":
        renamed["patch"][0]["value"] = 1
    elif edit == "assign to a ruleset not created":
        data["changes"][3]["ruleset_to"]["name"] = "Nowhere"
    elif edit == "summary lies":
        data["summary"]["delete"] = 3


EDITS = {
    "add without value": [
        "changes[2].patch[0].value: required for add",
        "changes[2].patch: does not apply to before"
        " (The operation does not contain a 'value' member)",
    ],
    "renamed_from not the name before": [
        "changes[1].renamed_from: does not match the name in before ('Outbound v1')"
    ],
    "renamed to itself": ["changes[2].renamed_from: is the ruleset's own name"],
    "after named otherwise": ["changes[0].after.attributes.name: does not match the change's name"],
    "unknown attribute in after": ["changes[0].after.attributes: no such field 'colour'"],
    "unknown relationship in before": [
        "changes[1].before.relationships: no such relationship 'mentor'",
        "changes[1].patch: applied to before, it does not give after",
    ],
    "relationship of the wrong kind": [
        "changes[0].after.relationships.owner.type: must be 'user', got 'stage'"
    ],
    "the same ruleset twice": ["changes[2].id: ruleset 42 is also changed at changes[1]"],
    "the same sequence twice": ["changes[4].id: sequence 11 is also changed at changes[3]"],
    "escaped path to no field": [
        "changes[2].patch[2].path: no such field '/attributes/step~1Overrides'",
        "changes[2].patch: does not apply to before"
        " (can't replace a non-existent object 'step/Overrides')",
    ],
    "patch to a missing field": [
        "changes[2].patch: does not apply to before"
        " (can't remove a non-existent object 'callOptOutAction')"
    ],
    "patch that does not give after": [
        "changes[1].patch: applied to before, it does not give after"
    ],
    "assign to a ruleset not created": [
        "changes[3].ruleset_to.id: null, but the plan creates no such ruleset"
    ],
    "summary lies": ["summary.delete: says 3, the plan has 1"],
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_an_edited_plan_is_refused_naming_the_place(edit: str) -> None:
    data = old_data()
    _edit(data, edit)
    lines = _refused(data).splitlines()
    assert lines[0] == "plan.json: damaged or edited plan file, refused:"
    assert lines[1:-1] == [f"  - {problem}" for problem in EDITS[edit]]
    assert lines[-1] == "Make a new one with `rulesync plan --out`."


def test_a_sequence_may_have_the_id_of_a_ruleset() -> None:
    data = old_data()
    _edit(data, "a ruleset and a sequence may share an id")
    assert plan_from_json(data).changes[3].id == 42  # type: ignore[union-attr]


def test_many_problems_are_listed_ten_and_counted() -> None:
    data = old_data()
    data["kept"] = [{"id": "x", "name": 1}] * 12
    message = _refused(data)
    assert message.count("\n  - ") == 11
    assert message.splitlines()[-2] == "  - ... and 14 more"


def test_not_a_plan_and_another_format_version_are_refused() -> None:
    assert "not a rulesync plan file" in _refused({"changes": []})
    assert "not a rulesync plan file" in _refused([])  # type: ignore[arg-type]
    data = old_data()
    data["format_version"] = 2
    assert "plan format_version 2 is not supported (this rulesync reads 1)" in _refused(data)


def test_a_plan_is_written_into_folders_that_do_not_exist_yet(tmp_path: Path) -> None:
    out = tmp_path / "plans" / "production" / "plan.json"
    write_plan(read_plan(OLD_PLAN), out)
    assert out.read_bytes() == OLD_PLAN.read_bytes()


def test_unreadable_unwritable_and_non_json_plan_files_are_one_clear_error(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(ConfigError) as err:
        read_plan(missing)
    assert str(err.value) == f"{missing}: cannot read the plan file: No such file or directory"
    with pytest.raises(ConfigError) as err:
        write_plan(read_plan(OLD_PLAN), tmp_path)  # a folder
    assert str(err.value) == f"{tmp_path}: cannot write the plan file: Is a directory"
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(ConfigError) as err:
        read_plan(garbage)
    assert str(err.value).startswith(f"{garbage}: not JSON (")
    assert str(err.value).endswith("); pass a file made by `rulesync plan --out`")


def test_the_refusal_lists_each_problem_on_its_own_line() -> None:
    with pytest.raises(ConfigError) as err:
        plan_from_json({"format_version": 1})
    lines = str(err.value).splitlines()
    assert lines[0] == "plan: damaged or edited plan file, refused:"
    assert lines[1] == "  - environment: Field required"
    assert all(line.startswith("  - ") for line in lines[1:-1])
    assert lines[-1] == "Make a new one with `rulesync plan --out`."
    with pytest.raises(ConfigError) as err:
        plan_from_json({"changes": []})
    assert str(err.value) == "plan: not a rulesync plan file (no format_version)"


def test_a_plan_with_no_changes_and_zero_counts_round_trips() -> None:
    plan = Plan(environment="e", api_url="embedded", changes=(), unchanged=0)
    data = json.loads(dumps(plan))
    assert data["summary"] == dict.fromkeys(
        ("create", "update", "assign", "detach", "delete", "unchanged"), 0
    )
    assert plan_from_json(data) == plan
    data["api_requests"] = -1
    assert "api_requests: Input should be greater than or equal to 0" in _refused(data)


def test_a_plan_file_without_the_kept_list_reads_as_keeping_nothing() -> None:
    data = old_data()
    del data["kept"]
    assert plan_from_json(data).kept == ()


def test_writing_a_plan_loads_no_validation_or_patch_library() -> None:
    """Only reading a saved plan needs pydantic and jsonpatch: `plan --out` and
    `plan --format json` stay as light as the plan itself."""
    code = (
        "import json, sys\n"
        "import rulesync.plan, rulesync.planfile\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert loaded & {"pydantic", "jsonpatch", "yaml", "requests", "click", "ruamel"} == set()
    assert "rulesync" in loaded


def test_plans_and_their_values_cannot_be_changed_once_made() -> None:
    """A reviewed plan is what gets applied: nothing may edit it on the way."""
    plan = read_plan(OLD_PLAN)
    values: list[object] = [plan, *plan.changes, *plan.kept, RulesetRef(id=1, name="R")]
    values += [s for c in plan.changes if isinstance(c, Update) for s in c.sequences or ()]
    assert {type(v).__name__ for v in values} >= {*(t.__name__ for t in TYPES.values()), "Plan"}
    for value in values:
        with pytest.raises(dataclasses.FrozenInstanceError):
            value.name = "edited"  # type: ignore[attr-defined]


def test_what_a_change_says_when_the_planner_leaves_the_optional_parts_out() -> None:
    """No rename, no refusal, and (until the blast radius is read) used by no sequence."""
    doc: Document = {"attributes": {"name": "R"}, "relationships": {}}
    version = "sha256:" + "0" * 64
    update = Update(name="R", id=1, before=doc, after=doc, patch=(), live_version=version)
    delete = Delete(name="R", id=1, before=doc, live_version=version)
    assign = Assign(name="S", id=2, ruleset_from=None, ruleset_to=RulesetRef(id=1, name="R"))
    detach = Detach(name="S", id=2, ruleset_from=RulesetRef(id=1, name="R"))
    for change in (update, delete):
        out = change_to_json(change)
        assert (out["sequences"], out["denied"]) == ([], None)
    assert change_to_json(update)["renamed_from"] is None
    assert change_to_json(assign)["denied"] is None
    assert change_to_json(detach)["denied"] is None
    assert change_to_json(detach)["ruleset_to"] is None
