"""The planner's invariant, stated against the live resource and the file, not against the
planner's own documents: after Outreach applies the planned update (a PATCH carries only the
patched fields, SPEC §4), every field the file declares holds the file's value and every other
field holds what it held. With no change planned, live must already hold the file's values."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import example, given, settings

from rulesync.fields import RELATIONSHIPS
from rulesync.live import live_rulesets
from rulesync.planner import build_plan
from tests.unit.test_planner import REFS, SETTINGS, desired, desired_fields, live_attrs, live_rels


def outreach_applies(resource: dict[str, Any], patch: list[dict[str, Any]]) -> dict[str, Any]:
    """What the API holds after a PATCH of these fields, as Outreach's JSON:API update works:
    each sent attribute or relationship replaces the stored one; `remove` is sent as null."""
    after = copy.deepcopy(resource)
    for op in patch:
        _, section, name = op["path"].split("/")
        value = None if op["op"] == "remove" else op["value"]
        if section == "attributes":
            after["attributes"][name] = value
        else:
            after.setdefault("relationships", {})[name] = {"data": value}
    return after


def held(resource: dict[str, Any], field: str) -> Any:
    """One field of a live resource; a reference as (type, id), no reference as None."""
    if field not in RELATIONSHIPS:
        return ("value", type(resource["attributes"].get(field)), resource["attributes"].get(field))
    data = (resource.get("relationships") or {}).get(field) or {}
    target = data.get("data")
    return None if target is None else (target["type"], int(target["id"]))


def wanted(field: str, value: Any) -> Any:
    """The file's value in the same shape as `held`."""
    if field not in RELATIONSHIPS:
        return ("value", type(value), value)
    return None if value is None else (RELATIONSHIPS[field], value["id"])


@settings(max_examples=300, deadline=None)
@given(fields=desired_fields, attrs=live_attrs, rels=live_rels)
# True == 1 and 0 == False in Python, but not in Outreach's JSON
@example(fields={"includeUnsubscribeLinks": True}, attrs={"includeUnsubscribeLinks": 1}, rels={})
@example(
    fields={"clicksNeededBeforeCallTaskCreated": 0},
    attrs={"clicksNeededBeforeCallTaskCreated": False},
    rels={},
)
# a reference the API sends with a string id is the same reference
@example(
    fields={"owner": {"id": 2}}, attrs={}, rels={"owner": {"data": {"type": "user", "id": "2"}}}
)
@example(fields={"owner": None}, attrs={}, rels={"owner": {}})
def test_after_the_update_live_holds_the_files_values_and_nothing_else_moved(
    fields: dict[str, Any], attrs: dict[str, Any], rels: dict[str, Any]
) -> None:
    live = {"type": "ruleset", "id": 1, "attributes": {**attrs, "name": "R"}, "relationships": rels}
    listing = live_rulesets([copy.deepcopy(live)])
    plan = build_plan([desired("R", fields)], listing, refs=REFS, settings=SETTINGS)
    patch: list[dict[str, Any]] = []
    if plan.changes:
        (change,) = plan.changes
        assert change.action == "update"
        patch = [dict(op) for op in change.patch]
    after = outreach_applies(live, patch)
    every = {*attrs, *fields, *RELATIONSHIPS}
    for field in every:
        if field in fields:
            assert held(after, field) == wanted(field, fields[field]), field
        else:
            assert held(after, field) == held(live, field), field
    # the patch touches declared fields only
    assert {op["path"].rsplit("/", 1)[1] for op in patch} <= set(fields)
