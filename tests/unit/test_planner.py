"""The pure planner, safety gate and renderers: unit and property tests (no I/O)."""

from __future__ import annotations

import json
from typing import Any

import jsonpatch
from hypothesis import given, settings
from hypothesis import strategies as st

from rulesync.desired import Desired
from rulesync.documents import fingerprint
from rulesync.fields import (
    ATTRIBUTES,
    BOOL_FIELDS,
    COUNT_FIELDS,
    DURATION_FIELDS,
    ENUMS,
    RELATIONSHIPS,
    STRING_LIMITS,
)
from rulesync.live import LiveRulesets, live_rulesets
from rulesync.plan import Create, Plan
from rulesync.planfile import dumps, plan_from_json, plan_to_json
from rulesync.planner import Settings, build_plan
from rulesync.policy import Policy
from rulesync.references import References
from rulesync.render import render_markdown, render_text
from rulesync.safety import refusals

SETTINGS = Settings(environment="test", api_url="http://api", prune=True)
# `{id: N}` references must exist in the org's reference data: ids 1-5 of each kind do.
REFS = References(
    {kind: {i: f"{kind} {i}" for i in range(1, 6)} for kind in set(RELATIONSHIPS.values())}
)


def attr_value(field: str) -> st.SearchStrategy[Any]:
    if field in ENUMS:
        return st.sampled_from([*ENUMS[field], None])
    if field in BOOL_FIELDS:
        return st.sampled_from([True, False, None])
    if field in DURATION_FIELDS or field in COUNT_FIELDS:
        return st.one_of(st.none(), st.integers(0, 10**7))
    return st.one_of(st.none(), st.text(max_size=STRING_LIMITS[field]))


def live_value(field: str) -> st.SearchStrategy[Any]:
    """Live data may break every documented rule."""
    return st.one_of(
        attr_value(field), st.text(max_size=300), st.integers(-5, 5), st.booleans(), st.none()
    )


desired_fields = st.fixed_dictionaries(
    {},
    optional={
        **{f: attr_value(f) for f in ATTRIBUTES},
        **{
            r: st.one_of(st.none(), st.builds(lambda i: {"id": i}, st.integers(1, 5)))
            for r in RELATIONSHIPS
        },
    },
)
live_attrs = st.fixed_dictionaries({}, optional={f: live_value(f) for f in ATTRIBUTES})
live_rels = st.fixed_dictionaries(
    {},
    optional={
        r: st.one_of(
            st.none(),
            st.just({}),
            st.just({"data": None}),
            st.builds(lambda i, t=t: {"data": {"type": t, "id": i}}, st.integers(1, 5)),
        )
        for r, t in RELATIONSHIPS.items()
    },
)


def live_resource(
    rid: int, name: str, attrs: dict[str, Any], rels: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "ruleset",
        "id": rid,
        "attributes": {**attrs, "name": name},
        "relationships": rels,
    }


def as_live(rid: int, doc: dict[str, Any]) -> dict[str, Any]:
    """A live resource exactly equal to a desired document."""
    return live_resource(
        rid,
        doc["attributes"]["name"],
        doc["attributes"],
        {k: {"data": v} for k, v in doc["relationships"].items()},
    )


def desired(name: str, fields: dict[str, Any], previous: tuple[str, ...] = ()) -> Desired:
    return Desired(name=name, previous_names=previous, fields=fields, source=f"{name}.yaml:1")


@settings(max_examples=200, deadline=None)
@given(fields=desired_fields, attrs=live_attrs, rels=live_rels)
def test_patch_applied_to_live_gives_desired(
    fields: dict[str, Any], attrs: dict[str, Any], rels: dict[str, Any]
) -> None:
    live = [live_resource(1, "R", attrs, rels)]
    plan = build_plan([desired("R", fields)], live_rulesets(live), refs=REFS, settings=SETTINGS)
    if not plan.changes:
        assert plan.unchanged == 1
        return
    (change,) = plan.changes
    assert change.action == "update"
    assert all(op["op"] in ("add", "replace", "remove") for op in change.patch)
    assert all(op["path"].count("/") == 2 for op in change.patch)
    assert jsonpatch.apply_patch(change.before, list(change.patch)) == change.after


@settings(max_examples=200, deadline=None)
@given(fields=desired_fields)
def test_planning_desired_against_itself_gives_no_changes(fields: dict[str, Any]) -> None:
    first = build_plan([desired("R", fields)], LiveRulesets(), refs=REFS, settings=SETTINGS)
    (create,) = first.changes
    assert isinstance(create, Create)
    again = build_plan(
        [desired("R", fields)],
        live_rulesets([as_live(9, create.after)]),
        refs=REFS,
        settings=SETTINGS,
    )
    assert again.changes == () and again.unchanged == 1


@settings(max_examples=50, deadline=None)
@given(
    names=st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=8, unique=True),
    live_names=st.lists(st.text(min_size=1, max_size=8), max_size=8, unique=True),
)
def test_plan_is_ordered_and_deterministic(names: list[str], live_names: list[str]) -> None:
    wanted = [desired(n, {"stepOverridesEnabled": True}) for n in names]
    live = [live_resource(i + 1, n, {}, {}) for i, n in enumerate(live_names)]
    one = build_plan(wanted, live_rulesets(live), refs=REFS, settings=SETTINGS)
    two = build_plan(
        list(reversed(wanted)), live_rulesets(reversed(live)), refs=REFS, settings=SETTINGS
    )
    assert plan_to_json(one) | {"generated_at": ""} == plan_to_json(two) | {"generated_at": ""}
    order = {"create": 0, "update": 1, "delete": 2}
    keys = [(order[c.action], c.name) for c in one.changes]
    assert keys == sorted(keys)
    assert plan_to_json(plan_from_json(json.loads(dumps(one)))) == plan_to_json(one)


def test_references_resolve_by_name_email_and_id() -> None:
    refs = References(
        {
            "stage": {2: "Approaching", 3: "Replied"},
            "user": {7: "Ada@Example.com"},
            "taskPriority": {1: "High"},
        }
    )
    fields = {
        "startedStage": "Approaching",
        "owner": "ada@example.com",
        "deliveredStage": {"id": 3},
        "callTaskPriority": "High",
        "completedStage": None,
    }
    (change,) = build_plan(
        [desired("R", fields)], LiveRulesets(), refs=refs, settings=SETTINGS
    ).changes
    assert isinstance(change, Create)
    assert change.after["relationships"] == {
        "callTaskPriority": {"type": "taskPriority", "id": 1},
        "completedStage": None,
        "deliveredStage": {"type": "stage", "id": 3},
        "owner": {"type": "user", "id": 7},
        "startedStage": {"type": "stage", "id": 2},
    }


def test_fingerprint_changes_with_any_live_field() -> None:
    base = live_resource(1, "R", {"includeUnsubscribeLinks": True}, {})
    (typed,) = live_rulesets([base]).rulesets
    (copied,) = live_rulesets([json.loads(json.dumps(base))]).rulesets
    assert fingerprint(typed) == fingerprint(copied)
    other = live_resource(1, "R", {"includeUnsubscribeLinks": True, "smsReceivedAction": "x"}, {})
    assert fingerprint(typed) != fingerprint(live_rulesets([other]).rulesets[0])


def plan_with(updates: int, deletes: int, live: int, prune: bool = True) -> Plan:
    wanted = [desired(f"U{i}", {"stepOverridesEnabled": True}) for i in range(updates)]
    wanted += [desired(f"K{i}", {}) for i in range(live - updates - deletes)]
    resources = [
        live_resource(i + 1, n, {}, {})
        for i, n in enumerate(
            [f"U{i}" for i in range(updates)]
            + [f"K{i}" for i in range(live - updates - deletes)]
            + [f"D{i}" for i in range(deletes)]
        )
    ]
    return build_plan(
        wanted,
        live_rulesets(resources),
        refs=REFS,
        settings=Settings(environment="t", api_url="x", prune=prune),
    )


def test_threshold_applies_only_from_min_existing() -> None:
    policy = Policy(max_change_percent=30, min_existing=10)
    assert refusals(plan_with(3, 0, 10), policy) == []  # 30% is allowed
    (reason,) = refusals(plan_with(3, 1, 10), policy)
    assert "updates and deletes 4 of 10 live managed rulesets (40.0%)" in reason
    assert refusals(plan_with(5, 0, 9), policy) == []  # under min_existing


def test_deleting_everything_is_refused() -> None:
    reasons = refusals(plan_with(0, 3, 3), Policy(min_existing=100))
    assert reasons == [
        "deletes every live managed ruleset (3 of 3); is the rulesets directory or manage right?"
    ]


def test_hand_edited_plans_cannot_delete_protected_or_unmanaged() -> None:
    plan = plan_with(0, 1, 5)
    reasons = refusals(plan, Policy(manage=("K*",), protect=("D*",), min_existing=100))
    assert any("outside manage" in r for r in reasons)
    assert any("safety.protect" in r for r in reasons)
    unpruned = Plan(
        environment="t", api_url="x", changes=plan.changes, unchanged=0, live_managed=5, prune=False
    )
    assert any("prune is off" in r for r in refusals(unpruned, Policy(min_existing=100)))


def test_renderers_show_names_and_readable_durations() -> None:
    refs = References({"stage": {2: "Approaching", 3: "Replied"}})
    live = [
        live_resource(
            4,
            "R",
            {"autoResumeOotoProspectsIn": 3600},
            {"startedStage": {"data": {"type": "stage", "id": 3}}},
        )
    ]
    wanted = [desired("R", {"autoResumeOotoProspectsIn": 259200, "startedStage": {"id": 2}})]
    plan = build_plan(wanted, live_rulesets(live), refs=refs, settings=SETTINGS)
    text = render_text(plan)
    assert "autoResumeOotoProspectsIn  1h → 3d" in text
    assert "startedStage               Replied (#3) → Approaching (#2)" in text
    colored = render_text(plan, color=True)
    assert "\033[33m~ update\033[0m" in colored
    markdown = render_markdown(plan)
    # "#3" would link to issue 3 in a PR comment: a zero-width space keeps it plain text
    assert "| `startedStage` | Replied (#&#8203;3) | Approaching (#&#8203;2) |" in markdown
    assert '"path": "/relationships/startedStage"' in markdown


def test_live_rulesets_without_a_usable_name_are_never_touched() -> None:
    live = [
        {"type": "ruleset", "id": 1, "attributes": {"name": None}},
        {"type": "ruleset", "id": 2},
        {"type": "ruleset", "id": 3, "attributes": "garbage", "relationships": []},
        live_resource(4, "Real", {"unknownNewAttribute": {"nested": 1}}, {"owner": "odd"}),
    ]
    plan = build_plan(
        [desired("Real", {"owner": None, "stepOverridesEnabled": True})],
        live_rulesets(live),
        refs=REFS,
        settings=SETTINGS,
    )
    (change,) = plan.changes
    assert change.action == "update" and change.id == 4
    assert plan.live_managed == 1
