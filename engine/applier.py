"""Execute a Plan: staleness check, parallel writes, idempotent creates, verification."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from rulesync.client import PAGE_SIZE, Client, OutcomeUnknown
from rulesync.documents import (
    Document,
    diff,
    fingerprint,
    live_document,
    resource_id,
    resource_name,
)
from rulesync.errors import ApiError, StalePlan
from rulesync.plan import Action, Change, Plan

log = logging.getLogger(__name__)
KIND = "rulesets"
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


def check_stale(plan: Plan, client: Client) -> None:
    """Refuse the whole plan when any ruleset it touches moved since it was planned."""
    touched = {c.id: c for c in plan.changes if c.id is not None}
    creates = [c.name for c in plan.changes if c.action == "create"]
    if not touched and not creates:
        return
    # Whichever costs fewer requests: one full listing, or lookups by id (100 a request) and
    # by name (one each, since names may hold commas).
    full_cost = 1 + plan.live_managed // PAGE_SIZE
    lookup_cost = math.ceil(len(touched) / 100) + len(creates)
    if full_cost <= lookup_cost:
        live = client.list_all(KIND)
    else:
        live = client.list_by_ids(KIND, touched) if touched else []
        for name in creates:
            live.extend(client.list_all(KIND, {"name": name}))
    by_id = {resource_id(r): r for r in live}
    names = {resource_name(r) for r in live}
    moved: list[str] = []
    for rid, change in sorted(touched.items(), key=lambda kv: kv[1].name):
        current = by_id.get(rid)
        if current is None:
            if change.action == "update":
                moved.append(f"{change.name!r} (id {rid}) was deleted")
        elif fingerprint(current) != change.live_version:
            moved.append(f"{change.name!r} (id {rid}) changed")
    moved += [f"{name!r} now exists" for name in creates if name in names]
    if moved:
        raise StalePlan(
            "the saved plan is stale, nothing was applied:\n  - "
            + "\n  - ".join(moved)
            + "\nRun `rulesync plan` again and review it."
        )


def resource_body(
    doc: Document, *, rid: int | None = None, only: Iterable[str] | None = None
) -> dict[str, Any]:
    """A JSON:API ruleset object from a normalized document (``only``: changed fields)."""
    keep = set(only) if only is not None else None
    body: dict[str, Any] = {"type": "ruleset"}
    if rid is not None:
        body["id"] = rid
    attributes = {k: v for k, v in doc.get("attributes", {}).items() if keep is None or k in keep}
    relationships = {
        k: {"data": v} for k, v in doc.get("relationships", {}).items() if keep is None or k in keep
    }
    if attributes:
        body["attributes"] = attributes
    if relationships:
        body["relationships"] = relationships
    return body


def _changed_fields(patch: Iterable[dict[str, Any]]) -> list[str]:
    return [op["path"].split("/", 2)[2].replace("~1", "/").replace("~0", "~") for op in patch]


def _create(client: Client, change: Change) -> Outcome:
    """POST, and never a duplicate: when the answer is lost, look the name up first."""
    after = change.after or {}
    last = ""
    for attempt in range(CREATE_ATTEMPTS):
        try:
            created = client.create(KIND, resource_body(after))
            return Outcome(change, True, "created", resource_id(created))
        except OutcomeUnknown as err:
            last = str(err)
            log.warning("create %r: %s; checking whether it was created", change.name, err)
        existing = client.list_all(KIND, {"name": change.name})
        if len(existing) > 1:
            ids = sorted(str(resource_id(r)) for r in existing)
            return Outcome(
                change,
                False,
                f"{len(existing)} rulesets named {change.name!r} "
                f"exist now (ids {', '.join(ids)}); delete the extra ones",
            )
        if existing:
            found = existing[0]
            rid = resource_id(found)
            fields = [*after.get("attributes", {}), *after.get("relationships", {})]
            patch = diff(live_document(found, fields), after)
            if patch and rid is not None:
                client.update(KIND, rid, resource_body(after, rid=rid, only=_changed_fields(patch)))
            return Outcome(change, True, "created (confirmed after a lost answer)", rid)
        time.sleep(min(2.0**attempt * 0.2, 5.0))
    return Outcome(change, False, f"gave up after {CREATE_ATTEMPTS} attempts: {last}")


def _update(client: Client, change: Change) -> Outcome:
    assert change.id is not None and change.after is not None
    body = resource_body(change.after, rid=change.id, only=_changed_fields(change.patch))
    client.update(KIND, change.id, body)
    return Outcome(change, True, "updated", change.id)


def _delete(client: Client, change: Change) -> Outcome:
    assert change.id is not None
    gone_now = client.delete(KIND, change.id)
    return Outcome(change, True, "deleted" if gone_now else "already deleted", change.id)


ACTIONS: dict[str, Callable[[Client, Change], Outcome]] = {
    "create": _create,
    "update": _update,
    "delete": _delete,
}


def apply_plan(
    plan: Plan,
    client: Client,
    *,
    parallelism: int = 4,
    progress: Callable[[Outcome], None] | None = None,
    stop: threading.Event | None = None,
) -> Report:
    """Creates, then updates, then deletes; each phase ``parallelism`` wide. A failure does not
    stop the others; ``stop`` (Ctrl-C) stops starting new writes and lets those in flight end."""
    stop = stop or threading.Event()
    report = Report()
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="apply") as pool:
        actions: tuple[Action, ...] = ("create", "update", "delete")
        for action in actions:
            phase = plan.of(action)
            if stop.is_set():
                report.skipped.extend(phase)
                continue
            _run_phase(pool, client, phase, parallelism, report, progress, stop)
    report.interrupted = stop.is_set()
    if not report.interrupted:
        report.verify_errors = verify(plan, client, report)
    return report


def _run_phase(
    pool: ThreadPoolExecutor,
    client: Client,
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


def _safely(client: Client, change: Change) -> Outcome:
    try:
        return ACTIONS[change.action](client, change)
    except ApiError as err:
        return Outcome(change, False, str(err))


def verify(plan: Plan, client: Client, report: Report) -> list[str]:
    """Re-read what was applied (list calls by id) and compare with the plan's ``after``."""
    applied = [o for o in report.applied if o.resource_id is not None]
    if not applied:
        return []
    try:
        live = {
            resource_id(r): r
            for r in client.list_by_ids(
                KIND, [o.resource_id for o in applied if o.resource_id is not None]
            )
        }
    except ApiError as err:
        return [f"could not verify the applied changes: {err}"]
    problems = []
    for outcome in applied:
        change, current = outcome.change, live.get(outcome.resource_id)
        if change.action == "delete":
            if current is not None:
                problems.append(f"{change.name!r} (id {outcome.resource_id}) still exists")
            continue
        after = change.after or {}
        if current is None:
            problems.append(f"{change.name!r} (id {outcome.resource_id}) is missing after apply")
            continue
        fields = [*after.get("attributes", {}), *after.get("relationships", {})]
        left = diff(live_document(current, fields), after)
        if left:
            paths = ", ".join(op["path"] for op in left)
            problems.append(
                f"{change.name!r} (id {outcome.resource_id}) differs after apply at {paths}"
            )
    return problems
