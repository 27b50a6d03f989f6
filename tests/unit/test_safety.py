"""The safety gate: what a plan may do without --force, and the sentences that refuse it.

Plans are made the way `rulesync plan` makes them (the planner, then the sequences that use
each changed ruleset), from live rulesets and files built by the helpers below; a plan that
apply reads back from a saved file goes through `reread`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from rulesync.auth import StaticToken
from rulesync.client import Client
from rulesync.desired import Desired
from rulesync.errors import UnsafePlan
from rulesync.live import live_rulesets
from rulesync.plan import Plan, Update
from rulesync.planfile import dumps, plan_from_json
from rulesync.planner import Settings, build_plan
from rulesync.policy import Policy
from rulesync.references import References
from rulesync.safety import check, denials, refusals, unmatched_patterns
from rulesync.sequences import plan_assignments, with_blast_radius

# ---- helpers: the one place to adapt when the plan or live types change -------------------

NO_THRESHOLD = Policy(min_existing=1000)


def live(rid: int, name: str, *, can_write: bool = True, can_delete: bool = True) -> dict[str, Any]:
    """A live ruleset as the API lists it, with the credentials' authorization meta."""
    return {
        "type": "ruleset",
        "id": rid,
        "attributes": {"name": name, "stepOverridesEnabled": False},
        "relationships": {},
        "meta": {"canWrite": can_write, "canDelete": can_delete},
    }


def sequence(sid: int, name: str, ruleset: int | None, *, can_write: bool = True) -> dict[str, Any]:
    """A live sequence using the ruleset ``ruleset`` (None: none)."""
    data = None if ruleset is None else {"type": "ruleset", "id": ruleset}
    return {
        "type": "sequence",
        "id": sid,
        "attributes": {"name": name},
        "relationships": {"ruleset": {"data": data}},
        "meta": {"canWrite": can_write},
    }


def want(
    name: str,
    *,
    changed: bool = False,
    previous: tuple[str, ...] = (),
    sequences: tuple[str, ...] | None = None,
) -> Desired:
    """A ruleset file; ``changed`` makes it differ from the live ruleset of ``live``."""
    return Desired(
        name=name,
        previous_names=previous,
        fields={"stepOverridesEnabled": changed},
        source=f"rulesets/{name}.yaml:1",
        sequences=sequences,
    )


def plan_of(
    wanted: Sequence[Desired],
    rulesets: Sequence[dict[str, Any]],
    *,
    sequences: Sequence[dict[str, Any]] = (),
    prune: bool = True,
    manage: tuple[str, ...] = ("*",),
    protect: tuple[str, ...] = (),
) -> Plan:
    """The plan `rulesync plan` would show: rulesets, sequences as code, blast radius."""
    settings = Settings(
        environment="test",
        api_url="http://api.invalid",
        policy=Policy(manage=manage, protect=protect),
        prune=prune,
    )
    listing = live_rulesets(rulesets)
    plan = build_plan(wanted, listing, refs=References(), settings=settings)
    if any(d.sequences is not None for d in wanted):
        plan, _ = plan_assignments(plan, wanted, listing, sequences)
    # the sequences are given: the client is never asked for them
    with Client("http://api.invalid", StaticToken("t", origin="test")) as client:
        plan, _ = with_blast_radius(plan, client, list(sequences))
    return plan


def reread(plan: Plan, edit: Callable[[dict[str, Any]], None]) -> Plan:
    """The plan as apply reads it back from a saved file that ``edit`` changed."""
    data = json.loads(dumps(plan))
    edit(data)
    return plan_from_json(data)


def counts(updates: int, deletes: int, unchanged: int) -> Plan:
    """A plan over ``updates + deletes + unchanged`` live rulesets."""
    wanted = [want(f"U{i}", changed=True) for i in range(updates)]
    wanted += [want(f"K{i}") for i in range(unchanged)]
    names = [d.name for d in wanted] + [f"D{i}" for i in range(deletes)]
    return plan_of(wanted, [live(i + 1, n) for i, n in enumerate(names)])


# ---- deletes ------------------------------------------------------------------------------


def test_a_delete_inside_manage_with_prune_is_safe() -> None:
    plan = plan_of([want("Keep")], [live(1, "Keep"), live(2, "Old")])
    assert [(c.action, c.name) for c in plan.changes] == [("delete", "Old")]
    assert refusals(plan, NO_THRESHOLD) == []
    assert check(plan, NO_THRESHOLD, force=False) == []


def test_a_delete_with_prune_off_in_the_saved_plan_is_refused() -> None:
    plan = plan_of([want("Keep")], [live(1, "Keep"), live(2, "Old")])
    edited = reread(plan, lambda data: data.update(prune=False))
    assert refusals(edited, NO_THRESHOLD) == ["deletes 'Old' but prune is off"]


def test_a_delete_outside_manage_is_refused_naming_the_patterns() -> None:
    plan = plan_of([want("Keep")], [live(1, "Keep"), live(2, "Old")])
    policy = Policy(manage=("Keep", "K*"), min_existing=1000)
    assert refusals(plan, policy) == ["deletes 'Old', which is outside manage ['Keep', 'K*']"]


def test_a_delete_of_a_protected_ruleset_is_refused_naming_the_patterns() -> None:
    plan = plan_of([want("Keep")], [live(1, "Keep"), live(2, "Old")])
    policy = Policy(protect=("O*", "Gold"), min_existing=1000)
    assert refusals(plan, policy) == ["deletes 'Old', which safety.protect ['O*', 'Gold'] protects"]


def test_a_delete_whose_sequences_are_unknown_is_refused() -> None:
    plan = plan_of([want("Keep")], [live(1, "Keep"), live(2, "Old")])

    def unknown(data: dict[str, Any]) -> None:
        for change in data["changes"]:
            change["sequences"] = None

    assert refusals(reread(plan, unknown), NO_THRESHOLD) == [
        "deletes 'Old', but which sequences use it could not be read"
    ]


def test_a_delete_of_a_ruleset_sequences_still_use_is_refused_naming_them() -> None:
    plan = plan_of(
        [want("Keep")],
        [live(1, "Keep"), live(2, "Old")],
        sequences=[sequence(11, "Welcome", 2), sequence(12, "Nurture", 2), sequence(13, "X", 1)],
    )
    assert refusals(plan, NO_THRESHOLD) == [
        "deletes 'Old', which 2 sequences: 'Nurture' (id 12), 'Welcome' (id 11) still use"
        " (they would be left without a ruleset); assign them another ruleset first"
    ]


def test_a_delete_is_safe_when_the_plan_moves_its_sequences_elsewhere() -> None:
    sequences = [sequence(11, "Welcome", 2), sequence(12, "Nurture", 2)]
    plan = plan_of(
        [want("Keep", sequences=("Welcome", "Nurture"))],
        [live(1, "Keep"), live(2, "Old")],
        sequences=sequences,
    )
    assert [(c.action, c.name) for c in plan.changes] == [
        ("assign", "Nurture"),
        ("assign", "Welcome"),
        ("delete", "Old"),
    ]
    assert refusals(plan, NO_THRESHOLD) == []


def test_moving_only_some_sequences_off_a_deleted_ruleset_names_the_rest() -> None:
    sequences = [sequence(11, "Welcome", 2), sequence(12, "Nurture", 2)]
    plan = plan_of(
        [want("Keep", sequences=("Welcome",))],
        [live(1, "Keep"), live(2, "Old")],
        sequences=sequences,
    )
    assert refusals(plan, NO_THRESHOLD) == [
        "deletes 'Old', which 1 sequence: 'Nurture' (id 12) still use"
        " (they would be left without a ruleset); assign them another ruleset first"
    ]


def test_a_sequence_moved_off_another_ruleset_does_not_clear_a_delete() -> None:
    # sequence 11 uses Old (2); the plan moves sequence 12 off Other (3) only
    sequences = [sequence(11, "Welcome", 2), sequence(12, "Nurture", 3)]
    plan = plan_of(
        [want("Keep", sequences=("Nurture",)), want("Other")],
        [live(1, "Keep"), live(2, "Old"), live(3, "Other")],
        sequences=sequences,
    )
    assert [(c.action, c.name) for c in plan.changes] == [
        ("assign", "Nurture"),
        ("delete", "Old"),
    ]
    assert refusals(plan, NO_THRESHOLD) == [
        "deletes 'Old', which 1 sequence: 'Welcome' (id 11) still use"
        " (they would be left without a ruleset); assign them another ruleset first"
    ]


def test_a_sequence_with_the_deleted_rulesets_id_does_not_clear_the_delete() -> None:
    # sequence 2 (same id as the deleted ruleset) is assigned away from ruleset 3: the
    # ruleset's id and a sequence's id are different things
    sequences = [sequence(2, "Same id", 3), sequence(11, "Welcome", 2)]
    plan = plan_of(
        [want("Keep", sequences=("Same id",)), want("Other")],
        [live(1, "Keep"), live(2, "Old"), live(3, "Other")],
        sequences=sequences,
    )
    assert refusals(plan, NO_THRESHOLD) == [
        "deletes 'Old', which 1 sequence: 'Welcome' (id 11) still use"
        " (they would be left without a ruleset); assign them another ruleset first"
    ]


def test_deleting_every_live_managed_ruleset_is_refused() -> None:
    plan = plan_of([], [live(1, "A"), live(2, "B")])
    assert refusals(plan, NO_THRESHOLD) == [
        "deletes every live managed ruleset (2 of 2); is the rulesets directory or manage right?"
    ]


def test_deleting_all_but_one_is_not_deleting_everything() -> None:
    plan = plan_of([want("A")], [live(1, "A"), live(2, "B")])
    assert refusals(plan, NO_THRESHOLD) == []


def test_an_empty_plan_over_no_live_rulesets_is_safe() -> None:
    plan = plan_of([], [])
    assert refusals(plan, Policy(min_existing=0)) == []


# ---- updates and renames ------------------------------------------------------------------


def test_an_update_outside_manage_is_refused() -> None:
    plan = plan_of([want("Mine", changed=True)], [live(1, "Mine")])
    policy = Policy(manage=("Other*",), min_existing=1000)
    assert refusals(plan, policy) == ["updates 'Mine', which is outside manage ['Other*']"]
    assert refusals(plan, NO_THRESHOLD) == []


def test_a_rename_checks_both_names_against_manage() -> None:
    plan = plan_of([want("New", changed=True, previous=("Old",))], [live(1, "Old")])
    (change,) = plan.changes
    assert isinstance(change, Update)
    assert (change.name, change.renamed_from) == ("New", "Old")
    assert refusals(plan, Policy(manage=("New",), min_existing=1000)) == [
        "updates 'Old', which is outside manage ['New']"
    ]
    assert refusals(plan, Policy(manage=("Old",), min_existing=1000)) == [
        "updates 'New', which is outside manage ['Old']"
    ]
    assert refusals(plan, Policy(manage=("Old", "New"), min_existing=1000)) == []


def test_renaming_a_protected_ruleset_is_refused() -> None:
    plan = plan_of([want("New", previous=("Gold",))], [live(1, "Gold")])
    assert refusals(plan, Policy(protect=("Gold",), min_existing=1000)) == [
        "renames 'Gold' to 'New', which safety.protect ['Gold'] protects (a rename must not"
        " take a ruleset out of protection unseen)"
    ]


def test_updating_a_protected_ruleset_in_place_is_allowed() -> None:
    plan = plan_of([want("Gold", changed=True)], [live(1, "Gold")])
    assert refusals(plan, Policy(protect=("Gold",), min_existing=1000)) == []


def test_renaming_an_unprotected_ruleset_is_allowed() -> None:
    plan = plan_of([want("New", previous=("Old",))], [live(1, "Old")])
    assert refusals(plan, Policy(protect=("Gold",), min_existing=1000)) == []


# ---- sequences detached -------------------------------------------------------------------


def test_a_detach_with_prune_off_in_the_saved_plan_is_refused() -> None:
    plan = plan_of(
        [want("Keep", sequences=())],
        [live(1, "Keep")],
        sequences=[sequence(11, "Welcome", 1)],
    )
    assert [(c.action, c.name) for c in plan.changes] == [("detach", "Welcome")]
    assert refusals(plan, NO_THRESHOLD) == []
    edited = reread(plan, lambda data: data.update(prune=False))
    assert refusals(edited, NO_THRESHOLD) == [
        "detaches sequence 'Welcome' (id 11) but prune is off"
    ]


# ---- the mass-change threshold ------------------------------------------------------------


def test_the_default_threshold_is_30_percent_from_10_live_rulesets() -> None:
    assert refusals(counts(3, 0, 7), Policy()) == []
    assert refusals(counts(2, 1, 7), Policy()) == []
    assert refusals(counts(3, 1, 6), Policy()) == [
        "updates and deletes 4 of 10 live managed rulesets (40.0%), over"
        " safety.max_change_percent 30% (applies from min_existing 10)"
    ]
    assert refusals(counts(5, 0, 4), Policy()) == []  # 9 live: under min_existing


def test_the_threshold_counts_deletes_and_updates_alike() -> None:
    policy = Policy(max_change_percent=20, min_existing=5)
    assert refusals(counts(0, 2, 8), policy) == []
    (reason,) = refusals(counts(1, 2, 7), policy)
    assert reason == (
        "updates and deletes 3 of 10 live managed rulesets (30.0%), over"
        " safety.max_change_percent 20% (applies from min_existing 5)"
    )


def test_the_threshold_shows_a_fractional_percent() -> None:
    policy = Policy(max_change_percent=12.5, min_existing=3)
    assert refusals(counts(1, 0, 7), policy) == []  # 12.5% exactly
    assert refusals(counts(1, 0, 5), policy) == [
        "updates and deletes 1 of 6 live managed rulesets (16.7%), over"
        " safety.max_change_percent 12.5% (applies from min_existing 3)"
    ]


def test_a_zero_percent_threshold_refuses_any_update() -> None:
    policy = Policy(max_change_percent=0, min_existing=0)
    assert refusals(counts(0, 0, 3), policy) == []
    assert len(refusals(counts(1, 0, 2), policy)) == 1


def test_the_threshold_ignores_creates_and_an_org_with_no_rulesets() -> None:
    plan = plan_of([want("A"), want("B")], [])
    assert [c.action for c in plan.changes] == ["create", "create"]
    assert refusals(plan, Policy(max_change_percent=0, min_existing=0)) == []


# ---- credentials ---------------------------------------------------------------------------


def test_changes_the_credentials_may_not_make_are_refused_even_with_force() -> None:
    plan = plan_of(
        [want("Mine", changed=True, sequences=("Welcome",))],
        [live(1, "Mine", can_write=False), live(2, "Old", can_delete=False)],
        sequences=[sequence(11, "Welcome", None, can_write=False)],
    )
    assert denials(plan) == [
        "updates 'Mine' (id 1), which these credentials may not: Outreach says canWrite:"
        " false for these credentials; the token needs the 'rulesets.write' scope (or that"
        " permission in Outreach)",
        "assigns 'Welcome' (id 11), which these credentials may not: Outreach says canWrite:"
        " false for these credentials; the token needs the 'sequences.write' scope (or that"
        " permission in Outreach)",
        "deletes 'Old' (id 2), which these credentials may not: Outreach says canDelete:"
        " false for these credentials; the token needs the 'rulesets.delete' scope (or that"
        " permission in Outreach)",
    ]
    assert refusals(plan, NO_THRESHOLD) == denials(plan)
    with pytest.raises(UnsafePlan) as raised:
        check(plan, NO_THRESHOLD, force=True)
    assert str(raised.value) == (
        "refusing a plan with changes these credentials may not make (nothing was written):\n"
        + "".join(f"  - {line}\n" for line in denials(plan))
        + "Use credentials with that scope or permission, or leave those rulesets out"
        " (--target, or restore their files)."
    )


def test_changes_the_credentials_may_make_are_not_denied() -> None:
    plan = plan_of([want("Mine", changed=True)], [live(1, "Mine"), live(2, "Old")])
    assert denials(plan) == []


# ---- check: refuse, or --force ------------------------------------------------------------


def test_an_unsafe_plan_is_refused_with_every_reason_and_what_to_do() -> None:
    plan = plan_of([], [live(1, "A"), live(2, "B")])
    policy = Policy(protect=("B",), min_existing=1000)
    with pytest.raises(UnsafePlan) as raised:
        check(plan, policy, force=False)
    assert str(raised.value) == (
        "refusing an unsafe plan:\n"
        "  - deletes 'B', which safety.protect ['B'] protects\n"
        "  - deletes every live managed ruleset (2 of 2); is the rulesets directory or manage"
        " right?\n"
        "Review it; pass --force to apply it anyway."
    )


def test_force_applies_an_unsafe_plan_and_returns_what_it_overrode() -> None:
    plan = plan_of([], [live(1, "A"), live(2, "B")])
    assert check(plan, NO_THRESHOLD, force=True) == [
        "deletes every live managed ruleset (2 of 2); is the rulesets directory or manage right?"
    ]


def test_a_safe_plan_passes_without_force() -> None:
    plan = plan_of([want("A", changed=True)], [live(1, "A"), live(2, "B")])
    assert check(plan, NO_THRESHOLD, force=False) == []


# ---- patterns that match nothing ----------------------------------------------------------


def test_manage_and_protect_patterns_that_match_no_live_ruleset_are_named() -> None:
    policy = Policy(manage=("Sales *", "sales *", "*"), protect=("Gold", "[EMEA]*"))
    assert unmatched_patterns(["Sales EU", "Gold"], policy) == [
        "manage pattern 'sales *' matches no live ruleset (patterns are case-sensitive; only"
        " * and ? are wildcards, [ and ] are literal)",
        "safety.protect pattern '[EMEA]*' matches no live ruleset (patterns are"
        " case-sensitive; only * and ? are wildcards, [ and ] are literal)",
    ]


def test_patterns_are_not_checked_against_an_empty_org() -> None:
    assert unmatched_patterns([], Policy(manage=("Sales *",), protect=("Gold",))) == []


def test_patterns_that_all_match_give_no_warning() -> None:
    names = iter(["Sales EU", "Gold"])  # any iterable, read once
    assert unmatched_patterns(names, Policy(manage=("Sales *", "Gold"), protect=("G?ld",))) == []
