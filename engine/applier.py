"""Execute a Plan: staleness check, parallel writes, idempotent creates, verification."""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeGuard

from rulesync.api import NAMES_PER_LOOKUP, PAGE_SIZE, Api
from rulesync.documents import (
    Document,
    compare,
    fingerprint,
)
from rulesync.errors import ApiError, OutcomeUnknown, StalePlan
from rulesync.live import LiveRuleset, live_rulesets, resource_id, resource_name, ruleset_of
from rulesync.plan import ACTIONS as PHASES
from rulesync.plan import (
    Assign,
    Change,
    Create,
    Delete,
    Detach,
    PatchOp,
    Plan,
    RulesetRef,
    Update,
)
from rulesync.references import KINDS, labels_from

log = logging.getLogger(__name__)
KIND = "rulesets"
SEQUENCES = "sequences"
CREATE_ATTEMPTS = 5


@dataclass
class Outcome:
    change: Change
    ok: bool
    detail: str = ""
    resource_id: int | None = None


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[Change] = field(default_factory=list)  # not started (interrupted)
    verify_errors: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def applied(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.ok]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    @property
    def success(self) -> bool:
        return not self.failed and not self.skipped and not self.verify_errors


def check_bound(plan: Plan, *, environment: str, api_url: str) -> None:
    """Offline: a saved plan applies only to the environment and API URL it was made for."""
    wrong = []
    if plan.environment != environment:
        wrong.append(
            f"it was planned for environment {plan.environment!r}, not {environment!r}"
            f" (pass --env {plan.environment} to apply it there)"
        )
    if plan.api_url != api_url:
        wrong.append(f"it was planned against {plan.api_url}, this environment is {api_url}")
    _refuse_other_org(wrong)


def check_references(plan: Plan, client: Api) -> None:
    """Every org is served from the same URL: the reference data the plan resolved (stage,
    task priority and user ids with their names) must be the same here."""
    wrong = []
    for kind, labels in sorted(plan.references.labels.items()):
        live = labels_from(kind, client.list_all(KINDS[kind][0]))
        word = KINDS[kind][2]
        for ref_id, label in sorted(labels.items()):
            now = live.get(ref_id)
            if now != label:
                here = "does not exist" if now is None else f"is {now!r}"
                wrong.append(f"{word} {ref_id} was {label!r} when planned; here it {here}")
    _refuse_other_org(wrong[:10] + ([f"... and {len(wrong) - 10} more"] if len(wrong) > 10 else []))


def _refuse_other_org(wrong: list[str]) -> None:
    if wrong:
        raise StalePlan(
            "the saved plan belongs to another org or environment, nothing was applied:\n  - "
            + "\n  - ".join(wrong)
            + "\nPlan again against this environment and review that plan."
        )


def check_stale(plan: Plan, client: Api) -> None:
    """Refuse the whole plan when any ruleset it touches moved since it was planned: an id
    that changed, vanished or now carries another name, or a name to create (or rename to)
    that is now taken. Names are compared exactly."""
    touched = {c.id: c for c in plan.changes if isinstance(c, Update | Delete)}
    claimed = {c.name: c for c in plan.changes if _claims_name(c)}
    if not touched and not claimed:
        return
    # Whichever costs fewer requests: one full listing, or lookups by id (100 a request) and
    # by name (NAMES_PER_LOOKUP a request).
    full_cost = 1 + plan.live_managed // PAGE_SIZE
    lookup_cost = math.ceil(len(touched) / 100) + math.ceil(len(claimed) / NAMES_PER_LOOKUP)
    if full_cost <= lookup_cost:
        live = client.list_all(KIND)
        holders: dict[str, list[dict[str, Any]]] = {name: [] for name in claimed}
        for resource in live:
            name = resource_name(resource)
            if name in holders:
                holders[name].append(resource)
    else:
        live = client.list_by_ids(KIND, touched) if touched else []
        holders = client.find_by_names(KIND, claimed)
    listing = live_rulesets(live)
    by_id = {r.id: r for r in listing.rulesets}
    nameless = set(listing.without_name)
    moved: list[str] = []
    for rid, change in sorted(touched.items(), key=lambda kv: kv[1].name):
        moved.extend(_moved(change, rid, by_id.get(rid), nameless=rid in nameless))
    for name, claim in sorted(claimed.items()):
        own = None if isinstance(claim, Create) else claim.id
        others = [r for r in holders.get(name, []) if resource_id(r) != own]
        if others:
            ids = id_list(others)
            why = "" if isinstance(claim, Create) else f"; {claim.renamed_from!r} cannot take it"
            moved.append(f"{name!r} now exists (id {ids}){why}")
    if moved:
        raise StalePlan(
            "the saved plan is stale, nothing was applied:\n  - "
            + "\n  - ".join(moved)
            + "\nRun `rulesync plan` again and review it."
        )


def _claims_name(change: Change) -> TypeGuard[Create | Update]:
    """Whether apply gives a live ruleset this name: a create, or an update that renames."""
    return isinstance(change, Create) or (isinstance(change, Update) and bool(change.renamed_from))


def _moved(
    change: Update | Delete, rid: int, current: LiveRuleset | None, *, nameless: bool = False
) -> list[str]:
    """Why the live ruleset ``rid`` (``current``; ``nameless``: listed without a usable name)
    is no longer what ``change`` was planned against."""
    if current is None and not nameless:
        return [f"{change.name!r} (id {rid}) was deleted"] if isinstance(change, Update) else []
    expected = (change.renamed_from if isinstance(change, Update) else None) or change.name
    if current is None or current.name != expected:
        live_name = None if current is None else current.name
        return [
            f"id {rid} is the live ruleset {live_name!r}, not {expected!r} as the plan says"
            " (renamed since, or the plan was edited)"
        ]
    if fingerprint(current) != change.live_version:
        return [f"{change.name!r} (id {rid}) changed"]
    return []


def resource_body(doc: Document) -> dict[str, Any]:
    """A JSON:API ruleset object (for a create) from a normalized document."""
    body: dict[str, Any] = {"type": "ruleset"}
    attributes = dict(doc.get("attributes", {}))
    relationships = {k: {"data": v} for k, v in doc.get("relationships", {}).items()}
    if attributes:
        body["attributes"] = attributes
    if relationships:
        body["relationships"] = relationships
    return body


def id_list(resources: Iterable[dict[str, Any]]) -> str:
    """``"3, 12, 40"``: the ids of ``resources`` in numeric order."""
    return ", ".join(str(i) for i in sorted(resource_id(r) or 0 for r in resources))


def patch_body(rid: int, patch: Iterable[PatchOp]) -> dict[str, Any]:
    """The PATCH body of an update, built from the reviewed patch alone: ``replace``/``add``
    send the value, ``remove`` sends null."""
    body: dict[str, Any] = {"type": "ruleset", "id": rid}
    for op in patch:
        section, name = op["path"].split("/", 2)[1:]
        name = name.replace("~1", "/").replace("~0", "~")
        value = None if op["op"] == "remove" else op.get("value")
        if section == "relationships":
            body.setdefault("relationships", {})[name] = {"data": value}
        else:
            body.setdefault("attributes", {})[name] = value
    return body


def _create(client: Api, change: Create) -> Outcome:
    """POST, and never a duplicate: when the answer is lost, look the exact name up first."""
    after = change.after
    last = ""
    for attempt in range(CREATE_ATTEMPTS):
        try:
            created = client.create(KIND, resource_body(after))
            return Outcome(change, True, "created", resource_id(created))
        except OutcomeUnknown as err:
            last = str(err)
            log.warning("create %r: %s; checking whether it was created", change.name, err)
        existing = client.find_by_name(KIND, change.name)
        if len(existing) > 1:
            return Outcome(change, False, _duplicate_names(change.name, existing))
        if existing:
            found = existing[0]
            rid = resource_id(found)
            typed = live_rulesets([found]).rulesets  # none: no usable id, nothing to patch
            patch = compare(typed[0], after)[1] if typed else []
            if patch and rid is not None:
                client.update(KIND, rid, patch_body(rid, patch))
            return Outcome(change, True, "created (confirmed after a lost answer)", rid)
        time.sleep(min(2.0**attempt * 0.2, 5.0))
    return Outcome(change, False, f"gave up after {CREATE_ATTEMPTS} attempts: {last}")


def _duplicate_names(name: str, found: list[dict[str, Any]]) -> str:
    ids = id_list(found)
    return (
        f"{len(found)} rulesets are named {name!r} now (ids {ids}); another apply may have"
        " run at the same time: delete the extra ones in Outreach, then plan again"
    )


def _update(client: Api, change: Update) -> Outcome:
    client.update(KIND, change.id, patch_body(change.id, change.patch))
    return Outcome(change, True, "updated", change.id)


def _delete(client: Api, change: Delete) -> Outcome:
    gone_now = client.delete(KIND, change.id)
    return Outcome(change, True, "deleted" if gone_now else "already deleted", change.id)


def _assign(client: Api, change: Assign | Detach) -> Outcome:
    """PATCH the sequence's ruleset relationship, and nothing else; a PATCH is idempotent, so
    a lost answer is retried like any update."""
    target = _target_id(change)
    data = None if target is None else {"type": "ruleset", "id": target}
    body = {"type": "sequence", "id": change.id, "relationships": {"ruleset": {"data": data}}}
    client.update(SEQUENCES, change.id, body)
    return Outcome(change, True, "assigned" if data else "detached", change.id)


def _target_id(change: Assign | Detach) -> int | None:
    """The ruleset id the sequence is to use; None: no ruleset."""
    return None if change.ruleset_to is None else change.ruleset_to.id


def _write(client: Api, change: Change) -> Outcome:
    # isinstance, not match: mutmut's parser (tests/mutation.py) reads no match statements
    if isinstance(change, Create):
        return _create(client, change)
    if isinstance(change, Update):
        return _update(client, change)
    if isinstance(change, Delete):
        return _delete(client, change)
    return _assign(client, change)


def apply_plan(
    plan: Plan,
    client: Api,
    *,
    parallelism: int = 4,
    progress: Callable[[Outcome], None] | None = None,
    stop: threading.Event | None = None,
) -> Report:
    """Creates, then updates, then deletes; each phase ``parallelism`` wide. A failure does not
    stop the others; ``stop`` (Ctrl-C) stops starting new writes and lets those in flight end."""
    stop = stop or threading.Event()
    report = Report()
    with (
        _stopping_on_interrupt(stop),
        ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="apply") as pool,
    ):
        for action in PHASES:
            phase = plan.of(action)
            if action == "create" and phase and not stop.is_set():
                phase = list(_not_taken(client, plan.of("create"), report))
            if action == "assign":
                phase = list(_to_created(plan.of("assign"), report))
            if stop.is_set():
                report.skipped.extend(phase)
                continue
            _run_phase(pool, client, phase, parallelism, report, progress, stop)
    report.interrupted = stop.is_set()
    if not report.interrupted:
        report.verify_errors = verify(plan, client, report)
    return report


@contextmanager
def _stopping_on_interrupt(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C sets ``stop`` instead of raising wherever the main thread happens to
    be (between starting a write and tracking it, in a lookup), so the writes in flight end
    and the report says what was not started; a second Ctrl-C interrupts at once. Installed
    only on the main thread, and never over an ignored SIGINT (a background job)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:
        yield
        return

    def first(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, first)
    try:
        yield
    finally:
        # None: the handler was not set from Python; Python's own is the one to put back
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)


def _to_created(assigns: list[Assign], report: Report) -> list[Assign]:
    """Assignments to a ruleset this apply created get its new id; those whose create failed
    are not made (and say why)."""
    created = {o.change.name: o.resource_id for o in report.applied if o.change.action == "create"}
    ready = []
    for change in assigns:
        target = change.ruleset_to
        new_id = created.get(target.name)
        if target.id is not None:
            ready.append(change)
        elif new_id is not None:
            ready.append(replace(change, ruleset_to=RulesetRef(id=new_id, name=target.name)))
        else:
            why = f"not assigned: the ruleset {target.name!r} was not created"
            report.outcomes.append(Outcome(change, False, why))
    return ready


def _not_taken(client: Api, creates: list[Create], report: Report) -> list[Create]:
    """Right before creating, look each name up again (exactly): another apply, from another
    machine, may have created it since the plan was made. Those are not created twice."""
    try:
        taken = client.find_by_names(KIND, [c.name for c in creates])
    except ApiError as err:
        report.outcomes.extend(Outcome(c, False, str(err)) for c in creates)
        return []
    free = []
    for change in creates:
        holders = taken.get(change.name, [])
        if holders:
            ids = id_list(holders)
            report.outcomes.append(
                Outcome(
                    change,
                    False,
                    f"not created: {change.name!r} exists live now (id {ids}), created since"
                    " the plan was made; plan again",
                )
            )
        else:
            free.append(change)
    return free


def _run_phase(
    pool: ThreadPoolExecutor,
    client: Api,
    phase: list[Change],
    width: int,
    report: Report,
    progress: Callable[[Outcome], None] | None,
    stop: threading.Event,
) -> None:
    pending = list(reversed(phase))
    running: dict[Future[Outcome], Change] = {}
    while pending or running:
        while pending and len(running) < width and not stop.is_set():
            change = pending.pop()
            running[pool.submit(_safely, client, change)] = change
        if stop.is_set():
            report.skipped.extend(reversed(pending))
            pending = []
        if not running:
            break
        try:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
        except KeyboardInterrupt:
            stop.set()
            continue
        for future in done:
            running.pop(future)
            outcome = future.result()
            report.outcomes.append(outcome)
            if progress:
                progress(outcome)


def _safely(client: Api, change: Change) -> Outcome:
    try:
        return _write(client, change)
    except ApiError as err:
        return Outcome(change, False, str(err))


def verify(plan: Plan, client: Api, report: Report) -> list[str]:
    """Re-read what was applied (list calls by id) and compare with the plan's ``after``."""
    applied = [
        (o.resource_id, o.change)
        for o in report.applied
        if o.resource_id is not None and not isinstance(o.change, Assign | Detach)
    ]
    moved = [o.change for o in report.applied if isinstance(o.change, Assign | Detach)]
    if not applied:
        return _verify_sequences(client, moved)
    try:
        listing = live_rulesets(client.list_by_ids(KIND, [rid for rid, _ in applied]))
    except ApiError as err:
        return [f"could not verify the applied changes: {err}"]
    live = {r.id: r for r in listing.rulesets}
    nameless = set(listing.without_name)
    problems = _duplicates_after(client, report) + _verify_sequences(client, moved)
    for rid, change in applied:
        current = live.get(rid)
        if isinstance(change, Delete):
            if current is not None or rid in nameless:
                problems.append(f"{change.name!r} (id {rid}) still exists")
            continue
        after = change.after
        if rid in nameless:
            problems.append(f"{change.name!r} (id {rid}) has no usable name after apply")
            continue
        if current is None:
            problems.append(f"{change.name!r} (id {rid}) is missing after apply")
            continue
        left = compare(current, after)[1]
        if left:
            paths = ", ".join(op["path"] for op in left)
            problems.append(f"{change.name!r} (id {rid}) differs after apply at {paths}")
    return problems


def _verify_sequences(client: Api, moved: list[Assign | Detach]) -> list[str]:
    """Each assigned or detached sequence now uses the ruleset the plan gave it."""
    if not moved:
        return []
    try:
        live = {resource_id(s): s for s in client.list_by_ids(SEQUENCES, [c.id for c in moved])}
    except ApiError as err:
        return [f"could not verify the assigned sequences: {err}"]
    problems = []
    for change in moved:
        current = live.get(change.id)
        want = _target_id(change)
        if current is None:
            problems.append(f"sequence {change.name!r} (id {change.id}) is missing after apply")
        elif ruleset_of(current) != want:
            problems.append(
                f"sequence {change.name!r} (id {change.id}) uses ruleset {ruleset_of(current)}"
                f" after apply, not {want}"
            )
    return problems


def _duplicates_after(client: Api, report: Report) -> list[str]:
    """Names this apply created or renamed to, held by more than one live ruleset: a racing
    apply (from another machine) did the same. Reported with ids, never left silent."""
    names = [o.change.name for o in report.applied if _claims_name(o.change)]
    if not names:
        return []
    try:
        found = client.find_by_names(KIND, names)
    except ApiError as err:
        return [f"could not check the applied names for duplicates: {err}"]
    return [_duplicate_names(name, hits) for name, hits in sorted(found.items()) if len(hits) > 1]
