"""The planner's rules one by one, each with the whole message a user reads: located
problems for references, held values, pins, renames and double claims; deletes, kept
rulesets, the order of changes and --target.

Files and live rulesets are built by the helpers below: the one place to adapt when the live
ruleset or the desired ruleset changes type.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pytest

from rulesync.desired import Desired
from rulesync.documents import fingerprint
from rulesync.errors import PlanError, PlanProblems
from rulesync.live import LiveRuleset, LiveRulesets, live_rulesets
from rulesync.plan import Create, Delete, Plan, Update
from rulesync.planner import Settings, build_plan
from rulesync.policy import Policy
from rulesync.references import References

C = TypeVar("C")
STAGES = References({"stage": {2: "Approaching", 3: "Replied"}})


def ruleset(
    rid: Any, name: str, attributes: dict[str, Any] | None = None, **meta: bool
) -> dict[str, Any]:
    """A live ruleset as the API lists it; ``meta``: the credentials' canWrite/canDelete."""
    out: dict[str, Any] = {
        "type": "ruleset",
        "id": rid,
        "attributes": {"name": name, "stepOverridesEnabled": False, **(attributes or {})},
        "relationships": {"startedStage": {"data": {"type": "stage", "id": 2}}},
    }
    if meta:
        out["meta"] = meta
    return out


def listing(*resources: dict[str, Any]) -> LiveRulesets:
    """The live rulesets as the planner receives them."""
    return live_rulesets(resources)


def typed(resource: dict[str, Any]) -> LiveRuleset:
    """One live ruleset as the planner reads it."""
    (live,) = listing(resource).rulesets
    return live


def want(
    name: str,
    fields: dict[str, Any] | None = None,
    *,
    previous: tuple[str, ...] = (),
    pinned: int | None = None,
    held: dict[str, str] | None = None,
) -> Desired:
    """A ruleset file: `name`, `id`, `previousNames` then the fields, one a line."""
    fields = {"stepOverridesEnabled": False, **(fields or {})}
    keys = ["name", "id", "previousNames", *fields]
    path = f"rulesets/{name}.yaml"
    item = Desired(
        name=name,
        previous_names=previous,
        fields=fields,
        source=f"{path}:1",
        pinned_id=pinned,
        file_positions={key: (line, len(key) + 3) for line, key in enumerate(keys, 1)},
    )
    for field, why in (held or {}).items():
        item.held[field] = item.problem(field, why)
    return item


def plan_of(
    wanted: list[Desired],
    live: list[dict[str, Any]],
    *,
    prune: bool = True,
    manage: tuple[str, ...] = ("*",),
    protect: tuple[str, ...] = (),
    targets: tuple[str, ...] = (),
    refs: References = STAGES,
) -> Plan:
    settings = Settings(
        environment="staging",
        api_url="http://api",
        policy=Policy(manage=manage, protect=protect),
        prune=prune,
        targets=targets,
        api_requests=7,
    )
    return build_plan(wanted, listing(*live), refs=refs, settings=settings)


def problems_of(wanted: list[Desired], live: list[dict[str, Any]], **options: Any) -> list[str]:
    """The located problems the plan is refused with."""
    with pytest.raises(PlanProblems) as raised:
        plan_of(wanted, live, **options)
    return [str(p) for p in raised.value.problems]


def actions(plan: Plan) -> list[tuple[str, str, int | None]]:
    """(action, name, live id) of each change, in the plan's order."""
    return [(c.action, c.name, None if isinstance(c, Create) else c.id) for c in plan.changes]


def the(kind: type[C], plan: Plan) -> C:
    """The plan's one change, which must be a ``kind``."""
    (change,) = plan.changes
    assert isinstance(change, kind)
    return change


def test_an_update_patches_only_the_fields_that_differ() -> None:
    live = ruleset(4, "R", {"smsReceivedAction": "x"}, canWrite=True)
    plan = plan_of(
        [want("R", {"stepOverridesEnabled": True, "startedStage": "Approaching"})], [live]
    )
    change = the(Update, plan)
    assert (change.action, change.name, change.id, change.renamed_from) == ("update", "R", 4, None)
    assert list(change.patch) == [
        {"op": "replace", "path": "/attributes/stepOverridesEnabled", "value": True}
    ]
    assert change.before == {
        "attributes": {"name": "R", "stepOverridesEnabled": False},
        "relationships": {"startedStage": {"type": "stage", "id": 2}},
    }
    assert change.after == {
        "attributes": {"name": "R", "stepOverridesEnabled": True},
        "relationships": {"startedStage": {"type": "stage", "id": 2}},
    }
    assert change.live_version == fingerprint(typed(live))
    assert change.denied is None
    assert plan.unchanged == 0


def test_unchanged_rulesets_are_counted_not_planned() -> None:
    wanted = [want("A"), want("B", {"stepOverridesEnabled": True}), want("C")]
    plan = plan_of(wanted, [ruleset(1, "A"), ruleset(2, "B"), ruleset(3, "C")])
    assert actions(plan) == [("update", "B", 2)]
    assert plan.unchanged == 2
    assert plan_of([want("A")], [ruleset(1, "A")]).unchanged == 1


def test_the_plan_carries_the_settings_and_what_was_read() -> None:
    plan = plan_of([want("A")], [ruleset(1, "A"), ruleset(2, "B")], prune=False)
    assert (plan.environment, plan.api_url, plan.api_requests) == ("staging", "http://api", 7)
    assert (plan.prune, plan.live_managed, plan.references) == (False, 2, STAGES)
    assert plan_of([], [], prune=True).prune is True


def test_default_settings_manage_everything_and_prune_nothing() -> None:
    settings = Settings(environment="e", api_url="u")
    plan = build_plan(
        [want("A")], listing(ruleset(1, "A"), ruleset(2, "B")), refs=STAGES, settings=settings
    )
    assert plan.changes == () and plan.live_managed == 2 and plan.api_requests == 0
    assert plan.prune is False  # the plan file says `"prune": false`
    assert [(k.id, k.name) for k in plan.kept] == [(2, "B")]


def test_credentials_that_may_not_write_or_delete_mark_the_change() -> None:
    plan = plan_of(
        [want("A", {"stepOverridesEnabled": True})],
        [
            ruleset(1, "A", canWrite=False),
            ruleset(2, "B", canDelete=False),
            ruleset(3, "C", canWrite=False),
        ],
    )
    assert [(c.action, c.name, getattr(c, "denied", "-")) for c in plan.changes] == [
        (
            "update",
            "A",
            "Outreach says canWrite: false for these credentials; the token needs the"
            " 'rulesets.write' scope (or that permission in Outreach)",
        ),
        (
            "delete",
            "B",
            "Outreach says canDelete: false for these credentials; the token needs the"
            " 'rulesets.delete' scope (or that permission in Outreach)",
        ),
        ("delete", "C", None),
    ]


# ---- references in files ---------------------------------------------------------------------


def test_a_reference_the_org_lacks_is_a_located_problem() -> None:
    wanted = [want("R", {"startedStage": "Aproaching", "completedStage": {"id": 9}})]
    with pytest.raises(PlanProblems) as raised:
        plan_of(wanted, [])
    assert str(raised.value) == (
        "rulesets/R.yaml:5:15: startedStage: no stage named 'Aproaching' in this org; did you"
        " mean 'Approaching'?\n"
        "1 problem found; fix them and plan again."
    )


def test_a_new_ruleset_may_not_point_at_an_id_the_org_lacks() -> None:
    assert problems_of([want("R", {"completedStage": {"id": 9}})], []) == [
        "rulesets/R.yaml:5:17: completedStage: no stage with id 9 in this org; check the id,"
        " or use its name"
    ]


def test_an_unknown_id_live_already_holds_is_not_sent() -> None:
    # the org's stages are not all listed (a deleted stage, a stage the token may not read):
    # a live ruleset that already points there is left as it is
    live = ruleset(1, "R")
    live["relationships"]["completedStage"] = {"data": {"type": "stage", "id": 9}}
    assert plan_of([want("R", {"completedStage": {"id": 9}})], [live]).unchanged == 1
    changed = plan_of(
        [want("R", {"completedStage": {"id": 9}, "stepOverridesEnabled": True})], [live]
    )
    change = the(Update, changed)
    assert [op["path"] for op in change.patch] == ["/attributes/stepOverridesEnabled"]
    assert problems_of([want("R", {"completedStage": {"id": 8}})], [live]) == [
        "rulesets/R.yaml:5:17: completedStage: no stage with id 8 in this org; check the id,"
        " or use its name"
    ]


def test_a_relationship_a_file_empties_is_sent_as_null() -> None:
    change = the(Update, plan_of([want("R", {"startedStage": None})], [ruleset(1, "R")]))
    assert list(change.patch) == [
        {"op": "replace", "path": "/relationships/startedStage", "value": None}
    ]
    create = the(Create, plan_of([want("N", {"startedStage": None, "owner": None})], []))
    assert create.after == {
        "attributes": {"name": "N", "stepOverridesEnabled": False},
        "relationships": {"owner": None, "startedStage": None},
    }


# ---- held values -----------------------------------------------------------------------------


def test_a_held_value_live_still_holds_is_left_alone() -> None:
    live = ruleset(1, "R", {"smsReceivedAction": "legacy"})
    wanted = [want("R", {"smsReceivedAction": "legacy"}, held={"smsReceivedAction": "why"})]
    assert plan_of(wanted, [live]).unchanged == 1
    # another field may still change
    wanted = [
        want(
            "R",
            {"smsReceivedAction": "legacy", "stepOverridesEnabled": True},
            held={"smsReceivedAction": "why"},
        )
    ]
    change = the(Update, plan_of(wanted, [live]))
    assert [op["path"] for op in change.patch] == ["/attributes/stepOverridesEnabled"]


def test_a_held_value_the_plan_would_send_is_refused() -> None:
    wanted = [
        want(
            "R",
            {"smsReceivedAction": "legacy", "callTaskPriority": None},
            held={"smsReceivedAction": "no such action", "stepOverridesEnabled": "not writable"},
        )
    ]
    live = ruleset(1, "R", {"smsReceivedAction": "new"})
    assert problems_of(wanted, [live]) == [
        "rulesets/R.yaml:5:20: smsReceivedAction: 'R': the plan would have to send a held value"
        " (live differs from it, or the ruleset is new), which Outreach refuses:"
        " rulesets/R.yaml:5:20: smsReceivedAction: no such action"
    ]
    # a new ruleset sends every field: each held value is named, at the first one
    assert problems_of(wanted, []) == [
        "rulesets/R.yaml:5:20: smsReceivedAction: 'R': the plan would have to send a held value"
        " (live differs from it, or the ruleset is new), which Outreach refuses:"
        " rulesets/R.yaml:5:20: smsReceivedAction: no such action;"
        " rulesets/R.yaml:4:23: stepOverridesEnabled: not writable"
    ]


# ---- renames and pins ------------------------------------------------------------------------


def test_a_file_whose_previous_name_is_live_renames_that_ruleset() -> None:
    plan = plan_of([want("New", previous=("Gone", "Old"))], [ruleset(3, "Old")])
    change = the(Update, plan)
    assert (change.action, change.name, change.id, change.renamed_from) == (
        "update",
        "New",
        3,
        "Old",
    )
    assert list(change.patch) == [{"op": "replace", "path": "/attributes/name", "value": "New"}]


def test_the_current_name_wins_over_a_previous_one() -> None:
    plan = plan_of([want("New", previous=("Old",))], [ruleset(3, "Old"), ruleset(4, "New")])
    assert plan.changes == () and plan.unchanged == 1  # Old is declared (previousNames): kept


def test_several_live_previous_names_are_a_problem() -> None:
    live = [ruleset(3, "Old"), ruleset(4, "Older")]
    assert problems_of([want("New", previous=("Old", "Older"))], live) == [
        "rulesets/New.yaml:3:16: previousNames: 'New': several previousNames are live ('Old',"
        " 'Older'); keep only the one to rename and delete the others"
    ]


def test_a_previous_name_several_live_rulesets_hold_is_a_problem() -> None:
    live = [ruleset(5, "Old"), ruleset(3, "Old")]
    assert problems_of([want("New", previous=("Old",))], live) == [
        "rulesets/New.yaml:3:16: previousNames: 2 live rulesets are named 'Old' (ids 3, 5); pin"
        " one with `id: N`, or rename or delete all but one in Outreach, then plan again"
    ]


def test_a_previous_name_held_also_by_a_ruleset_without_a_usable_id_says_so() -> None:
    live = [ruleset(5, "Old"), ruleset("x", "Old")]
    assert problems_of([want("New", previous=("Old",))], live) == [
        "rulesets/New.yaml:3:16: previousNames: 2 live rulesets are named 'Old' (ids 5 and 1"
        " without a usable id); pin one with `id: N`, or rename or delete all but one in"
        " Outreach, then plan again"
    ]
    live = [ruleset(None, "Old"), ruleset("x", "Old")]
    assert problems_of([want("New", previous=("Old",))], live) == [
        "rulesets/New.yaml:3:16: previousNames: 2 live rulesets are named 'Old' (2 without a"
        " usable id); pin one with `id: N`, or rename or delete all but one in Outreach, then"
        " plan again"
    ]


def test_a_duplicated_live_name_is_left_out_and_the_rest_still_plans() -> None:
    live = [ruleset(5, "A"), ruleset(3, "A"), ruleset(1, "B")]
    plan = plan_of(
        [want("A", {"stepOverridesEnabled": True}), want("B", {"stepOverridesEnabled": True})],
        live,
    )
    assert actions(plan) == [("update", "B", 1)]


def test_a_pin_picks_one_of_duplicated_live_names() -> None:
    live = [ruleset(5, "Dup"), ruleset(3, "Dup")]
    plan = plan_of([want("Dup", {"stepOverridesEnabled": True}, pinned=5)], live, prune=False)
    change = the(Update, plan)
    assert (change.action, change.id, change.renamed_from) == ("update", 5, None)
    # the other one bears a declared name: neither kept nor, with prune, deleted
    assert plan.kept == ()
    assert actions(plan_of([want("Dup", pinned=5)], live)) == []


def test_a_pin_to_a_live_ruleset_of_another_name_renames_it() -> None:
    change = the(Update, plan_of([want("New", pinned=3)], [ruleset(3, "Old")]))
    assert (change.action, change.name, change.id, change.renamed_from) == (
        "update",
        "New",
        3,
        "Old",
    )


def test_a_pin_to_a_missing_or_unmanaged_ruleset_is_a_problem() -> None:
    assert problems_of([want("R", pinned=9)], [ruleset(3, "R")]) == [
        "rulesets/R.yaml:2:5: id: 'R': id 9: the live ruleset does not exist; remove `id:` to"
        " create the ruleset, or fix the id"
    ]
    assert problems_of([want("R", pinned=3)], [ruleset(3, "Other")], manage=("R*",)) == [
        "rulesets/R.yaml:2:5: id: 'R': id 3: the live ruleset is outside `manage`; widen manage"
        " or remove the pin"
    ]


def test_two_files_claiming_one_live_ruleset_is_a_problem() -> None:
    # A renames B by previousNames and B declares B: both claim id 1
    live = [ruleset(1, "B")]
    assert problems_of([want("A", previous=("B",)), want("B")], live) == [
        "rulesets/B.yaml:1:7: name: live ruleset id 1 is claimed by both 'A' and 'B' (check"
        " previousNames)"
    ]
    assert problems_of([want("A"), want("Z", pinned=1)], [ruleset(1, "A")]) == [
        "rulesets/Z.yaml:3:16: previousNames: live ruleset id 1 is claimed by both 'A' and 'Z'"
        " (check previousNames)"
    ]


def test_a_live_ruleset_without_a_usable_id_is_a_problem_for_its_file() -> None:
    assert problems_of([want("R")], [ruleset("r-1", "R")]) == [
        "rulesets/R.yaml:1:7: name: live ruleset 'R' has no usable id"
    ]


def test_reference_problems_are_reported_before_matching_live_rulesets() -> None:
    wanted = [want("A", pinned=8), want("C", {"startedStage": "x"})]
    assert problems_of(wanted, []) == [
        "rulesets/C.yaml:5:15: startedStage: no stage named 'x' in this org"
    ]


def test_every_problem_is_reported_at_once_by_name() -> None:
    held = {"smsReceivedAction": "refused"}
    wanted = [
        want("H", pinned=99),
        want("G", {"completedStage": {"id": 9}}),
        want("F", {"smsReceivedAction": "legacy"}, held=held),
        want("E", pinned=4),
        want("D"),
        want("C"),
        want("B", {"completedStage": {"id": 9}}),
        want("A", {"smsReceivedAction": "legacy"}, held=held),
    ]
    live = [
        ruleset("c", "C"),
        ruleset(4, "D"),
        ruleset(6, "F", {"smsReceivedAction": "new"}),
        ruleset(7, "G"),
    ]
    held_value = (
        "the plan would have to send a held value (live differs from it, or the ruleset is"
        " new), which Outreach refuses:"
    )
    no_stage_9 = "no stage with id 9 in this org; check the id, or use its name"
    assert problems_of(wanted, live) == [
        f"rulesets/A.yaml:5:20: smsReceivedAction: 'A': {held_value}"
        " rulesets/A.yaml:5:20: smsReceivedAction: refused",
        f"rulesets/B.yaml:5:17: completedStage: {no_stage_9}",
        "rulesets/C.yaml:1:7: name: live ruleset 'C' has no usable id",
        "rulesets/E.yaml:3:16: previousNames: live ruleset id 4 is claimed by both 'D' and 'E'"
        " (check previousNames)",
        f"rulesets/F.yaml:5:20: smsReceivedAction: 'F': {held_value}"
        " rulesets/F.yaml:5:20: smsReceivedAction: refused",
        f"rulesets/G.yaml:5:17: completedStage: {no_stage_9}",
        "rulesets/H.yaml:2:5: id: 'H': id 99: the live ruleset does not exist; remove `id:` to"
        " create the ruleset, or fix the id",
    ]


def test_files_sharing_a_name_are_planned_in_the_order_of_their_pins() -> None:
    wanted = [want("Dup", pinned=9), want("Dup", pinned=8)]
    assert problems_of(wanted, []) == [
        "rulesets/Dup.yaml:2:5: id: 'Dup': id 8: the live ruleset does not exist; remove `id:`"
        " to create the ruleset, or fix the id",
        "rulesets/Dup.yaml:2:5: id: 'Dup': id 9: the live ruleset does not exist; remove `id:`"
        " to create the ruleset, or fix the id",
    ]


# ---- deletes, kept rulesets and --target -----------------------------------------------------


def test_prune_deletes_undeclared_managed_rulesets_and_protect_keeps_them() -> None:
    live = [
        ruleset(1, "A"),
        ruleset(2, "Gold"),
        ruleset(5, "Old"),
        ruleset(4, "Other team"),
        ruleset(3, "Old", canDelete=True),
    ]
    plan = plan_of([want("A")], live, manage=("A", "Gold", "Old"), protect=("Gold",))
    assert actions(plan) == [("delete", "Old", 3), ("delete", "Old", 5)]
    delete = plan.changes[0]
    assert isinstance(delete, Delete)
    assert delete.before["attributes"] == {"name": "Old", "stepOverridesEnabled": False}
    assert delete.before["relationships"]["startedStage"] == {"type": "stage", "id": 2}
    assert delete.live_version == fingerprint(typed(live[4]))
    assert delete.denied is None
    assert [(k.id, k.name) for k in plan.kept] == [(2, "Gold")]
    assert plan.live_managed == 4


def test_without_prune_undeclared_rulesets_are_kept_and_listed_by_name() -> None:
    live = [ruleset(9, "B"), ruleset(2, "C"), ruleset(1, "B"), ruleset(3, "A")]
    plan = plan_of([want("A")], live, prune=False)
    assert plan.changes == ()
    assert [(k.id, k.name) for k in plan.kept] == [(1, "B"), (9, "B"), (2, "C")]


def test_renamed_and_previously_named_rulesets_are_not_deleted() -> None:
    plan = plan_of(
        [want("New", previous=("Old",)), want("X", previous=("Y",))],
        [ruleset(1, "Old"), ruleset(2, "Y"), ruleset(3, "X")],
    )
    assert actions(plan) == [("update", "New", 1)]
    assert plan.kept == ()


def test_a_live_ruleset_without_a_usable_id_is_never_deleted() -> None:
    plan = plan_of([want("A")], [ruleset(1, "A"), ruleset("x", "Ghost")])
    assert plan.changes == () and plan.kept == ()


def test_the_plan_is_ordered_create_update_delete_then_by_name_then_id() -> None:
    changed = {"stepOverridesEnabled": True}
    wanted = [want("Z"), want("Y"), want("N", changed), want("M", changed)]
    live = [ruleset(4, "N"), ruleset(3, "M"), ruleset(9, "B"), ruleset(6, "B"), ruleset(5, "A")]
    assert actions(plan_of(wanted, live)) == [
        ("create", "Y", None),
        ("create", "Z", None),
        ("update", "M", 3),
        ("update", "N", 4),
        ("delete", "A", 5),
        ("delete", "B", 6),
        ("delete", "B", 9),
    ]


def test_targets_plan_only_the_rulesets_they_name() -> None:
    live = [ruleset(1, "Inbound EU"), ruleset(2, "Inbound US"), ruleset(3, "Outbound")]
    wanted = [
        want("Inbound EU", {"stepOverridesEnabled": True}),
        want("Outbound", {"stepOverridesEnabled": True}),
        want("Inbound New"),
    ]
    plan = plan_of(wanted, live, targets=("Inbound *",))
    assert actions(plan) == [
        ("create", "Inbound New", None),
        ("update", "Inbound EU", 1),
        ("delete", "Inbound US", 2),
    ]
    assert actions(plan_of(wanted, live, targets=("Outbound",))) == [("update", "Outbound", 3)]


def test_a_target_that_names_nothing_is_refused_with_a_suggestion() -> None:
    live = [ruleset(1, "Inbound")]
    with pytest.raises(PlanError) as raised:
        plan_of([want("Sales")], live, targets=("Inbund", "Sales", "zzz"))
    assert str(raised.value) == (
        "--target names no declared or live ruleset: 'Inbund' (did you mean 'Inbound'?), 'zzz'"
    )
    with pytest.raises(PlanError) as raised:
        plan_of([want("Inbound B")], [ruleset(1, "Inbound A")], targets=("Inbound",))
    assert str(raised.value) == (
        "--target names no declared or live ruleset: 'Inbound' (did you mean 'Inbound B' or"
        " 'Inbound A'?)"
    )
