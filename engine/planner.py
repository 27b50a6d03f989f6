"""Pure planning: desired rulesets + live rulesets + reference labels -> Plan. No I/O."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rulesync.desired import Desired, matches
from rulesync.documents import (
    Document,
    compare,
    fingerprint,
    full_document,
    matches_live,
)
from rulesync.errors import PlanError, PlanProblems, Problem
from rulesync.fields import RELATIONSHIPS
from rulesync.live import LiveRuleset, LiveRulesets
from rulesync.permissions import denied
from rulesync.plan import Change, Create, Delete, Kept, Plan, Update, sort_key
from rulesync.policy import Policy
from rulesync.references import References, resolve
from rulesync.suggest import closest


@dataclass(frozen=True)
class Settings:
    environment: str
    api_url: str
    policy: Policy = dataclasses.field(default_factory=Policy)  # manage and protect
    prune: bool = False  # this run's: --prune, or the policy's default
    targets: tuple[str, ...] = ()
    api_requests: int = 0


def desired_document(
    item: Desired, refs: References
) -> tuple[Document, list[Problem], dict[str, Problem]]:
    """The file's ruleset as a normalized document, relationships resolved to ids; the
    problems; and the ``{id: N}`` references the org's reference data does not hold (an
    error only if the plan would send one: a live ruleset may already point there)."""
    doc: Document = {"attributes": {"name": item.name}, "relationships": {}}
    problems: list[Problem] = []
    unknown_ids: dict[str, Problem] = {}
    for field, value in item.fields.items():
        kind = RELATIONSHIPS.get(field)
        if kind is None:
            doc["attributes"][field] = value
        elif value is None:
            doc["relationships"][field] = None
        else:
            ref_id, message = resolve(kind, value, refs)
            if ref_id is None and isinstance(value, dict):
                ref_id = value["id"]
                unknown_ids[field] = item.problem(field, message)
            elif ref_id is None:
                problems.append(item.problem(field, message))
            doc["relationships"][field] = {"type": kind, "id": ref_id}
    doc["attributes"] = dict(sorted(doc["attributes"].items()))
    doc["relationships"] = dict(sorted(doc["relationships"].items()))
    return doc, problems, unknown_ids


def build_plan(
    desired: Sequence[Desired],
    live: LiveRulesets,
    *,
    refs: References,
    settings: Settings,
) -> Plan:
    """Creates, updates and deletes (each by name) that make live match desired. A live
    ruleset without a usable id is never changed: a file that declares its name is refused."""
    managed = [r for r in live.rulesets if matches(r.name, settings.policy.manage)]
    by_name: dict[str, list[LiveRuleset | None]] = defaultdict(list)  # None: no usable id
    for resource in managed:
        by_name[resource.name].append(resource)
    for name in live.without_id:
        if matches(name, settings.policy.manage):
            by_name[name].append(None)

    wanted = _targeted(desired, by_name, settings.targets)
    docs: dict[tuple[str, int | None], Document] = {}
    problems: list[Problem] = []
    unknown_ids: dict[tuple[str, int | None], dict[str, Problem]] = {}
    for item in wanted:
        docs[_key(item)], item_problems, unknown = desired_document(item, refs)
        if unknown:  # most files name no unknown id: no empty dict each (memory at 50,000)
            unknown_ids[_key(item)] = unknown
        problems.extend(item_problems)
    if problems:
        raise PlanProblems(problems)

    changes: list[Change] = []
    claimed: dict[int, str] = {}
    unchanged = 0
    errors: list[Problem] = []
    by_id = {r.id: r for r in managed}
    for item in sorted(wanted, key=lambda d: (d.name, d.pinned_id or 0)):
        if item.pinned_id is not None:
            found, renamed_from, error = _pinned(item, by_id, live.ids())
        elif len(by_name.get(item.name, [])) > 1:
            continue  # ambiguous: left out, the others still plan (duplicates.notes says why)
        else:
            found, renamed_from, error = _match(item, by_name)
        if error:
            errors.append(error)
            continue
        if found == [None]:
            errors.append(item.problem("name", f"live ruleset {item.name!r} has no usable id"))
            continue
        match = found[0] if found else None
        after = docs.pop(_key(item))  # an unchanged ruleset's document is not kept
        held = _held_problem(item, after["attributes"] if match is None else ())
        if held:
            errors.append(held)
            continue
        if match is None:
            if _key(item) in unknown_ids:
                errors.extend(unknown_ids[_key(item)].values())
                continue
            changes.append(Create(name=item.name, after=after))
            continue
        rid = match.id
        if rid in claimed:
            errors.append(
                item.problem(
                    "previousNames" if renamed_from else "name",
                    f"live ruleset id {rid} is claimed by both {claimed[rid]!r} and"
                    f" {item.name!r} (check previousNames)",
                )
            )
            continue
        claimed[rid] = item.name
        # the common case: nothing to patch, nothing to check. Otherwise the patch is not
        # empty: matches_live answers exactly "the diff is empty" (a property test proves it)
        if matches_live(match, after):
            unchanged += 1
            continue
        before, patch = compare(match, after)
        held = _held_problem(item, [op["path"].rsplit("/", 1)[-1] for op in patch])
        if held:
            errors.append(held)
            continue
        sent = {op["path"].rsplit("/", 1)[-1] for op in patch}
        unsendable = [p for f, p in sorted(unknown_ids.get(_key(item), {}).items()) if f in sent]
        if unsendable:
            errors.extend(unsendable)
            continue
        changes.append(
            Update(
                name=item.name,
                id=rid,
                renamed_from=renamed_from,
                before=before,
                after=after,
                patch=tuple(patch),
                live_version=fingerprint(match),
                denied=denied(match.raw, "update"),
            )
        )
    if errors:
        raise PlanProblems(errors)

    declared = {d.name for d in desired} | {p for d in desired for p in d.previous_names}
    kept: list[Kept] = []
    for resource in managed:
        name, rid = resource.name, resource.id
        if (
            rid in claimed
            or name in declared
            or (settings.targets and not matches(name, settings.targets))
        ):
            continue
        if not settings.prune or matches(name, settings.policy.protect):
            kept.append(Kept(id=rid, name=name))
            continue
        changes.append(
            Delete(
                name=name,
                id=rid,
                before=full_document(resource),
                live_version=fingerprint(resource),
                denied=denied(resource.raw, "delete"),
            )
        )

    changes.sort(key=sort_key)
    return Plan(
        environment=settings.environment,
        api_url=settings.api_url,
        changes=tuple(changes),
        unchanged=unchanged,
        api_requests=settings.api_requests,
        live_managed=len(managed),
        prune=settings.prune,
        references=refs,
        kept=tuple(sorted(kept, key=lambda k: (k.name, k.id))),
    )


def _key(item: Desired) -> tuple[str, int | None]:
    return (item.name, item.pinned_id)


def _pinned(
    item: Desired, by_id: dict[int, LiveRuleset], live_ids: set[int]
) -> tuple[list[LiveRuleset | None], str | None, Problem | None]:
    """The live ruleset a file pins with `id: N`; a different live name makes it a rename."""
    rid = item.pinned_id
    found = by_id.get(rid) if rid is not None else None
    if found is None:
        outside = rid in live_ids
        why = (
            "is outside `manage`; widen manage or remove the pin"
            if outside
            else "does not exist; remove `id:` to create the ruleset, or fix the id"
        )
        return [], None, item.problem("id", f"{item.name!r}: id {rid}: the live ruleset {why}")
    return [found], (found.name if found.name != item.name else None), None


def _held_problem(item: Desired, sent: Iterable[str]) -> Problem | None:
    """A held value (see held.py) the plan would have to send: Outreach would refuse it."""
    fields = sorted(set(item.held) & set(sent))
    if not fields:
        return None
    whys = "; ".join(str(item.held[f]) for f in fields)
    return item.problem(
        fields[0],
        f"{item.name!r}: the plan would have to send a held value (live differs from it, or"
        f" the ruleset is new), which Outreach refuses: {whys}",
    )


def _targeted(
    desired: Sequence[Desired],
    by_name: dict[str, list[LiveRuleset | None]],
    targets: tuple[str, ...],
) -> list[Desired]:
    if not targets:
        return list(desired)
    declared = {d.name for d in desired}
    known = [*declared, *by_name]
    unknown = [t for t in targets if not any(matches(n, (t,)) for n in known)]
    if unknown:
        hints = []
        for name in unknown:
            near = closest(name, known)
            hint = f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""
            hints.append(f"{name!r}{hint}")
        raise PlanError(f"--target names no declared or live ruleset: {', '.join(hints)}")
    return [d for d in desired if matches(d.name, targets)]


def _match(
    item: Desired, by_name: dict[str, list[LiveRuleset | None]]
) -> tuple[list[LiveRuleset | None], str | None, Problem | None]:
    """(the live ruleset found: none, or one (None: it has no usable id), renamed_from,
    problem). A name several live rulesets hold never comes here: build_plan leaves it out."""
    found = by_name.get(item.name, [])
    if found:
        return found, None, None
    hits = [(old, by_name[old]) for old in item.previous_names if by_name.get(old)]
    if not hits:
        return [], None, None
    if len(hits) > 1:
        olds = ", ".join(repr(old) for old, _ in hits)
        return (
            [],
            None,
            item.problem(
                "previousNames",
                f"{item.name!r}: several previousNames are live ({olds}); keep only the one"
                " to rename and delete the others",
            ),
        )
    old, resources = hits[0]
    if len(resources) > 1:
        return [], None, _duplicates(item, "previousNames", old, resources)
    return resources, old, None


def _duplicates(item: Desired, field: str, name: str, found: list[LiveRuleset | None]) -> Problem:
    known = ", ".join(str(i) for i in sorted(r.id for r in found if r))
    unusable = sum(r is None for r in found)
    ids = f"ids {known}" if known else ""
    if unusable:
        ids += f"{' and ' if known else ''}{unusable} without a usable id"
    return item.problem(
        field,
        f"{len(found)} live rulesets are named {name!r} ({ids}); pin one with `id: N`,"
        " or rename or delete all but one in Outreach, then plan again",
    )
