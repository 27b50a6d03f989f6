"""Pure safety gate over a plan: prune, manage, protect and the mass-change threshold."""

from __future__ import annotations

from collections.abc import Iterable

from rulesync.desired import matches
from rulesync.errors import UnsafePlan
from rulesync.plan import Assign, Create, Delete, Detach, Plan, SequenceRef, Update, describe
from rulesync.policy import Policy


def refusals(plan: Plan, policy: Policy) -> list[str]:
    """Every reason the plan is unsafe; empty when it is safe."""
    reasons: list[str] = []
    deletes = plan.of("delete")
    for change in deletes:
        if not plan.prune:
            reasons.append(f"deletes {change.name!r} but prune is off")
        if not matches(change.name, policy.manage):
            reasons.append(
                f"deletes {change.name!r}, which is outside manage {list(policy.manage)}"
            )
        if matches(change.name, policy.protect):
            reasons.append(
                f"deletes {change.name!r}, which safety.protect {list(policy.protect)} protects"
            )
        if change.sequences is None:
            reasons.append(f"deletes {change.name!r}, but which sequences use it could not be read")
        elif remaining := _still_using(plan, change):
            reasons.append(
                f"deletes {change.name!r}, which {describe(remaining)} still use"
                " (they would be left without a ruleset); assign them another ruleset first"
            )
    for update in plan.of("update"):
        reasons.extend(_update_refusals(update, policy))
    for detach in plan.of("detach"):
        if not plan.prune:
            reasons.append(f"detaches sequence {detach.name!r} (id {detach.id}) but prune is off")
    live = plan.live_managed
    if deletes and live and len(deletes) >= live:
        reasons.append(
            f"deletes every live managed ruleset ({len(deletes)} of {live}); "
            "is the rulesets directory or manage right?"
        )
    touched = len(plan.of("update")) + len(deletes)
    if live >= policy.min_existing and live and touched * 100 > policy.max_change_percent * live:
        reasons.append(
            f"updates and deletes {touched} of {live} live managed rulesets "
            f"({touched * 100 / live:.1f}%), over safety.max_change_percent "
            f"{policy.max_change_percent:g}% (applies from min_existing "
            f"{policy.min_existing})"
        )
    return [*reasons, *denials(plan)]


def _still_using(plan: Plan, delete: Delete) -> list[SequenceRef]:
    """The sequences using a deleted ruleset that the plan does not move or detach."""
    leaving = {
        c.id
        for c in plan.changes
        if isinstance(c, Assign | Detach)
        and c.ruleset_from is not None
        and c.ruleset_from.id == delete.id
    }
    return [s for s in delete.sequences or () if s.id not in leaving]


def denials(plan: Plan) -> list[str]:
    """Changes the credentials may not make: refused even with --force (they would fail)."""
    return [
        f"{c.action}s {c.name!r} (id {c.id}), which these credentials may not: {c.denied}"
        for c in plan.changes
        if not isinstance(c, Create) and c.denied
    ]


def _update_refusals(change: Update, policy: Policy) -> list[str]:
    reasons = []
    names = [change.name] if change.renamed_from is None else [change.renamed_from, change.name]
    for name in names:
        if not matches(name, policy.manage):
            reasons.append(f"updates {name!r}, which is outside manage {list(policy.manage)}")
    old = change.renamed_from
    if old is not None and matches(old, policy.protect):
        reasons.append(
            f"renames {old!r} to {change.name!r}, which safety.protect {list(policy.protect)}"
            " protects (a rename must not take a ruleset out of protection unseen)"
        )
    return reasons


def check(plan: Plan, policy: Policy, *, force: bool) -> list[str]:
    """Raise UnsafePlan unless ``force``; return the reasons that were overridden."""
    reasons = refusals(plan, policy)
    denied = denials(plan)
    if denied:
        raise UnsafePlan(
            "refusing a plan with changes these credentials may not make (nothing was"
            " written):\n  - "
            + "\n  - ".join(denied)
            + "\nUse credentials with that scope or permission, or leave those rulesets out"
            " (--target, or restore their files)."
        )
    if reasons and not force:
        raise UnsafePlan(
            "refusing an unsafe plan:\n  - "
            + "\n  - ".join(reasons)
            + "\nReview it; pass --force to apply it anyway."
        )
    return reasons


def unmatched_patterns(live_names: Iterable[str], policy: Policy) -> list[str]:
    """Warnings for `manage` and `protect` patterns that match no live ruleset: usually a
    typo or a case slip, and a protect pattern that matches nothing protects nothing."""
    names = list(live_names)
    if not names:
        return []
    warnings = []
    for setting, patterns in (("manage", policy.manage), ("safety.protect", policy.protect)):
        for pattern in patterns:
            if not any(matches(name, (pattern,)) for name in names):
                warnings.append(
                    f"{setting} pattern {pattern!r} matches no live ruleset (patterns are"
                    " case-sensitive; only * and ? are wildcards, [ and ] are literal)"
                )
    return warnings
