"""The sequences that use a ruleset: the blast radius of updating or deleting it.

Outreach's sequences document makes a sequence's ``ruleset`` relationship filterable
(``filter[ruleset][id]=1,2,3``), so one filtered listing (1000 a page) answers for every
changed ruleset at once; ids are sent in chunks that keep the URL short."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from rulesync.client import PAGE_SIZE, Client
from rulesync.documents import rel_value, resource_id, resource_name
from rulesync.errors import AuthError, StalePlan
from rulesync.permissions import AUTHORIZATION_META
from rulesync.plan import Change, Plan, SequenceRef, describe

IDS_PER_REQUEST = 1000
QUERY_CHARS = 6000  # ids per request also stop here: URLs stay well under 8 KB
BLAST_ACTIONS = ("update", "delete")


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


def sequences_using(client: Client, ruleset_ids: Iterable[int]) -> dict[int, list[SequenceRef]]:
    """``{ruleset id: [sequences whose ruleset is it]}`` for every id asked for, sorted by
    name. Sequences the server returns for another ruleset are ignored."""
    found: dict[int, list[SequenceRef]] = {}
    for chunk in id_chunks(ruleset_ids):
        asked = set(chunk)
        found.update({rid: [] for rid in chunk})
        query = [
            ("filter[ruleset][id]", ",".join(str(i) for i in chunk)),
            ("fields[sequence]", "name,ruleset"),
            AUTHORIZATION_META,
            ("page[size]", str(PAGE_SIZE)),
            ("count", "false"),
        ]
        for sequence in client.list_query("sequences", query):
            sid = resource_id(sequence)
            rels = sequence.get("relationships")
            ruleset = rel_value(rels.get("ruleset")) if isinstance(rels, dict) else None
            rid = ruleset.get("id") if ruleset else None
            if sid is None or not isinstance(rid, int) or rid not in asked:
                continue
            name = resource_name(sequence)
            found[rid].append(SequenceRef(id=sid, name=name if name is not None else ""))
    return {rid: sorted(refs, key=lambda s: (s.name, s.id)) for rid, refs in found.items()}


def with_blast_radius(plan: Plan, client: Client) -> tuple[Plan, list[str]]:
    """The plan with the sequences using each updated or deleted ruleset (one filtered
    listing, only when there are such changes), and warnings. When the credentials may not
    read sequences, the changes say so (sequences unknown) and a warning names the scope."""
    ids = [c.id for c in plan.changes if c.action in BLAST_ACTIONS and c.id is not None]
    if not ids:
        return plan, []
    warnings: list[str] = []
    try:
        using: dict[int, list[SequenceRef]] | None = sequences_using(client, ids)
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
    if change.action not in BLAST_ACTIONS or change.id is None:
        return change
    if using is None:
        return replace(change, sequences=None)
    return replace(change, sequences=tuple(using.get(change.id, [])))


def check_still_unused(plan: Plan, client: Client) -> None:
    """Before applying a saved plan: a ruleset it deletes must not be used by a sequence the
    plan did not show (one filtered listing). Otherwise the plan is stale."""
    deletes = {c.id: c for c in plan.of("delete") if c.id is not None and c.sequences is not None}
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
