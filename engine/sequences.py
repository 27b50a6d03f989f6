"""The sequences that use a ruleset: the blast radius of updating or deleting it.

Outreach's sequences document makes a sequence's ``ruleset`` relationship filterable
(``filter[ruleset][id]=1,2,3``), so one filtered listing (1000 a page) answers for every
changed ruleset at once; ids are sent in chunks that keep the URL short."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from rulesync.api import PAGE_SIZE, Api
from rulesync.desired import Desired, matches
from rulesync.errors import AuthError, PlanProblems, Problem, StalePlan, UnsafePlan
from rulesync.live import LiveRulesets, resource_id, resource_name, ruleset_of
from rulesync.permissions import AUTHORIZATION_META, denied
from rulesync.plan import (
    Assign,
    Change,
    Create,
    Delete,
    Detach,
    Plan,
    RulesetRef,
    SequenceRef,
    Update,
    describe,
    sort_key,
)
from rulesync.suggest import closest

IDS_PER_REQUEST = 1000
QUERY_CHARS = 6000  # ids per request also stop here: URLs stay well under 8 KB


def id_chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    """Sorted ids in chunks of at most IDS_PER_REQUEST whose comma list fits QUERY_CHARS."""
    chunk: list[int] = []
    size = 0
    for rid in sorted(set(ids)):
        width = len(str(rid)) + 1
        if chunk and (len(chunk) >= IDS_PER_REQUEST or size + width > QUERY_CHARS):
            yield chunk
            chunk, size = [], 0
        chunk.append(rid)
        size += width
    if chunk:
        yield chunk


def sequences_using(client: Api, ruleset_ids: Iterable[int]) -> dict[int, list[SequenceRef]]:
    """``{ruleset id: [sequences whose ruleset is it]}`` for every id asked for, sorted by
    name. Sequences the server returns for another ruleset are ignored."""
    found: dict[int, list[SequenceRef]] = {}
    for chunk in id_chunks(ruleset_ids):
        query = [
            ("filter[ruleset][id]", ",".join(str(i) for i in chunk)),
            ("fields[sequence]", "name,ruleset"),
            AUTHORIZATION_META,
            ("page[size]", str(PAGE_SIZE)),
            ("count", "false"),
        ]
        found.update(grouped(client.list_query("sequences", query), chunk))
    return found


def grouped(
    sequences: Iterable[dict[str, Any]], ruleset_ids: Iterable[int]
) -> dict[int, list[SequenceRef]]:
    """``{ruleset id: [its sequences, by name]}`` for ``ruleset_ids``, from listed sequences."""
    found: dict[int, list[SequenceRef]] = {rid: [] for rid in ruleset_ids}
    for sequence in sequences:
        sid, rid = resource_id(sequence), ruleset_of(sequence)
        if sid is None or rid is None or rid not in found:
            continue
        name = resource_name(sequence)
        found[rid].append(SequenceRef(id=sid, name=name if name is not None else ""))
    return {rid: sorted(refs, key=lambda s: (s.name, s.id)) for rid, refs in found.items()}


def with_blast_radius(
    plan: Plan, client: Api, listed: Sequence[dict[str, Any]] | None = None
) -> tuple[Plan, list[str]]:
    """The plan with the sequences using each updated or deleted ruleset (one filtered
    listing, only when there are such changes), and warnings. When the credentials may not
    read sequences, the changes say so (sequences unknown) and a warning names the scope."""
    ids = [c.id for c in plan.changes if isinstance(c, Update | Delete)]
    if not ids:
        return plan, []
    warnings: list[str] = []
    try:
        using: dict[int, list[SequenceRef]] | None = (
            sequences_using(client, ids) if listed is None else grouped(listed, ids)
        )
    except AuthError as err:
        if err.status != 403:
            raise
        using = None
        warnings.append(
            f"cannot read which sequences use the changed rulesets ({scope_detail(err)});"
            " their blast radius is unknown, and a delete is unsafe without it"
        )
    changes = tuple(_with(c, using) for c in plan.changes)
    return replace(plan, changes=changes, api_requests=client.requests), warnings


def _with(change: Change, using: dict[int, list[SequenceRef]] | None) -> Change:
    if not isinstance(change, Update | Delete):
        return change
    if using is None:
        return replace(change, sequences=None)
    return replace(change, sequences=tuple(using.get(change.id, [])))


def check_still_unused(plan: Plan, client: Api) -> None:
    """Before applying a saved plan: a ruleset it deletes must not be used by a sequence the
    plan did not show (one filtered listing). Otherwise the plan is stale."""
    deletes = {c.id: c for c in plan.of("delete") if c.sequences is not None}
    if not deletes:
        return
    moved = []
    for rid, now in sorted(sequences_using(client, deletes).items()):
        change = deletes[rid]
        shown = {s.id for s in change.sequences or ()}
        new = [s for s in now if s.id not in shown]
        if new:
            moved.append(
                f"{change.name!r} (id {rid}) is now used by {describe(new)}, which the plan"
                " did not show"
            )
    if moved:
        raise StalePlan(
            "the saved plan is stale, nothing was applied:\n  - "
            + "\n  - ".join(moved)
            + "\nRun `rulesync plan` again and review it."
        )


def scope_detail(err: AuthError) -> str:
    """The API's own words for a 403 (they name the missing scope), else the status."""
    details = [str(e.get("detail") or e.get("title") or "") for e in err.errors]
    return "; ".join(d for d in details if d) or "403 Forbidden"


# ---- sequences as code: `sequences: [NAME | {id: N}]` in a ruleset file ------------------


def list_sequences(client: Api) -> list[dict[str, Any]]:
    """Every sequence with its ruleset and what the credentials may do (1000 a page)."""
    query = [
        ("fields[sequence]", "name,ruleset"),
        AUTHORIZATION_META,
        ("page[size]", str(PAGE_SIZE)),
        ("count", "false"),
    ]
    return client.list_query("sequences", query)


def plan_assignments(
    plan: Plan,
    desired: Sequence[Desired],
    live: LiveRulesets,
    sequences: Sequence[dict[str, Any]],
    *,
    targets: tuple[str, ...] = (),
) -> tuple[Plan, list[str]]:
    """The plan with the assign and detach changes that make exactly the sequences each file
    lists use its ruleset; detaches only with prune. Raises PlanProblems (located at the
    file's `sequences:`) for a name no sequence or several sequences have, an id no sequence
    has, or a sequence two files claim."""
    managing = [d for d in desired if d.sequences is not None]
    if targets:
        managing = [d for d in managing if matches(d.name, targets)]
    by_id = {sid: s for s in sequences if (sid := resource_id(s)) is not None}
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sequence in sequences:
        by_name[resource_name(sequence) or ""].append(sequence)
    live_names = {**dict.fromkeys(live.without_name, ""), **{r.id: r.name for r in live.rulesets}}

    problems: list[Problem] = []
    claims: dict[int, tuple[Desired, RulesetRef | None]] = {}  # sequence id -> file, target
    for item in sorted(managing, key=lambda d: d.source):
        target = _target(item, plan, live)
        for entry in item.sequences or ():
            found, problem = _resolve(item, entry, by_id, by_name)
            if problem or found is None:
                problems.extend([problem] if problem else [])
                continue
            sid = resource_id(found) or 0
            if sid in claims and claims[sid][0] is not item:
                first = claims[sid][0]
                problems.append(
                    item.problem(
                        "sequences",
                        f"sequence {resource_name(found)!r} (id {sid}) is claimed by both"
                        f" {first.name!r} ({first.source}) and {item.name!r}; list it in one"
                        " file only",
                    )
                )
                continue
            claims[sid] = (item, target)
    if problems:
        raise PlanProblems(problems)

    changes: list[Change] = []
    for sid, (_, target) in claims.items():
        if target is None:
            continue  # the ruleset is left out of this plan (a duplicate live name)
        sequence = by_id[sid]
        current = ruleset_of(sequence)
        if target.id is not None and current == target.id:
            continue
        was = None if current is None else RulesetRef(id=current, name=live_names.get(current, ""))
        changes.append(
            Assign(
                name=resource_name(sequence) or "",
                id=sid,
                ruleset_from=was,
                ruleset_to=target,
                denied=_denied(sequence),
            )
        )
    warnings: list[str] = []
    for item in managing:
        owner = _target(item, plan, live)
        if owner is None or owner.id is None:
            continue
        for sequence in sequences:
            sid = resource_id(sequence)
            if sid is None or sid in claims or ruleset_of(sequence) != owner.id:
                continue
            if plan.prune:
                changes.append(
                    Detach(
                        name=resource_name(sequence) or "",
                        id=sid,
                        ruleset_from=owner,
                        denied=_denied(sequence),
                    )
                )
            else:
                warnings.append(
                    f"sequence {resource_name(sequence)!r} (id {sid}) uses {item.name!r}, whose"
                    f" file does not list it ({item.source}); --prune detaches it"
                )
    every = sorted([*plan.changes, *changes], key=sort_key)
    return replace(plan, changes=tuple(every)), warnings


def _denied(sequence: dict[str, Any]) -> str | None:
    return denied(sequence, "update", collection="sequences")


def _target(item: Desired, plan: Plan, live: LiveRulesets) -> RulesetRef | None:
    """The ruleset a file's sequences must use (id None: created by this plan), or None when
    the plan leaves the ruleset out."""
    for change in plan.changes:
        if change.name != item.name:
            continue
        if isinstance(change, Create) and item.pinned_id is None:
            return RulesetRef(id=None, name=item.name)
        if isinstance(change, Update) and item.pinned_id in (None, change.id):
            return RulesetRef(id=change.id, name=item.name)
    if item.pinned_id is not None:
        return RulesetRef(id=item.pinned_id, name=item.name)
    found: list[int | None] = [r.id for r in live.rulesets if r.name == item.name]
    found += [None for name in live.without_id if name == item.name]
    rid = found[0] if len(found) == 1 else None
    return None if rid is None else RulesetRef(id=rid, name=item.name)


def _resolve(
    item: Desired,
    entry: str | dict[str, int],
    by_id: dict[int, dict[str, Any]],
    by_name: dict[str, list[dict[str, Any]]],
) -> tuple[dict[str, Any] | None, Problem | None]:
    if isinstance(entry, dict):
        sequence = by_id.get(entry["id"])
        if sequence is None:
            return None, item.problem(
                "sequences", f"no sequence has id {entry['id']}; fix the id or remove it"
            )
        return sequence, None
    found = by_name.get(entry, [])
    if len(found) == 1:
        return found[0], None
    if not found:
        near = closest(entry, list(by_name))
        hint = (
            f"; did you mean {' or '.join(repr(n) for n in near)}?"
            if near
            else " (names are exact, case included; or write {id: N})"
        )
        return None, item.problem("sequences", f"no sequence is named {entry!r}{hint}")
    ids = ", ".join(str(i) for i in sorted(resource_id(s) or 0 for s in found))
    return None, item.problem(
        "sequences",
        f"{len(found)} sequences are named {entry!r} (ids {ids}); write {{id: N}} for the one"
        " that should use this ruleset",
    )


def read_sequences(client: Api) -> list[dict[str, Any]]:
    """Every sequence, for files that list theirs; credentials that may not read sequences
    refuse the plan, naming the scope."""
    try:
        return list_sequences(client)
    except AuthError as err:
        if err.status != 403:
            raise
        raise UnsafePlan(
            f"ruleset files list their sequences, but these credentials may not read sequences"
            f" ({scope_detail(err)}); use a token with that scope, or remove `sequences:`"
        ) from None


def check_sequences_unmoved(plan: Plan, client: Api) -> None:
    """Before applying: every sequence the plan assigns or detaches still has its name and
    the ruleset the plan shows it leaving (else the plan is stale, nothing is written)."""
    changes = {c.id: c for c in plan.changes if isinstance(c, Assign | Detach) and c.id}
    if not changes:
        return
    live = {resource_id(s): s for s in client.list_by_ids("sequences", changes)}
    moved = []
    for sid, change in sorted(changes.items(), key=lambda kv: (kv[1].name, kv[0])):
        current = live.get(sid)
        was = None if change.ruleset_from is None else change.ruleset_from.id
        if current is None:
            moved.append(f"sequence {change.name!r} (id {sid}) was deleted")
        elif resource_name(current) != change.name:
            moved.append(
                f"id {sid} is the sequence {resource_name(current)!r}, not {change.name!r}"
                " as the plan says"
            )
        elif ruleset_of(current) != was:
            moved.append(
                f"sequence {change.name!r} (id {sid}) now uses ruleset {ruleset_of(current)},"
                f" not {was} as planned"
            )
    if moved:
        raise StalePlan(
            "the saved plan is stale, nothing was applied:\n  - "
            + "\n  - ".join(moved)
            + "\nRun `rulesync plan` again and review it."
        )
