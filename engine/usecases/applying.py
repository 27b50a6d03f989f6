"""`apply`: a saved plan, or a plan made now, shown and confirmed, written to the org."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rulesync.config import Config, Environment
from rulesync.errors import ApplyFailed, ConfigError, RulesyncError, StalePlan, UnsafePlan
from rulesync.usecases import Notes, ignore, open_config
from rulesync.usecases.planning import make_plan

if TYPE_CHECKING:
    from rulesync.applier import Outcome, Report
    from rulesync.client import Client
    from rulesync.plan import Plan


@dataclass(frozen=True)
class ApplyOptions:
    plan_file: Path | None = None  # apply exactly this saved plan; else plan now
    prune: bool = False
    force: bool = False  # apply a plan the safety rules refuse (never one the API would deny)
    targets: tuple[str, ...] = ()
    parallelism: int = 4
    max_wait: float | None = None  # seconds; None: the client's default


def _nothing(plan: Plan) -> None:
    """Shows nothing."""


@contextmanager
def _unwatched(total: int, requests: Callable[[], int]) -> Iterator[Callable[[Outcome], None]]:
    yield lambda outcome: None


@dataclass(frozen=True)
class ApplyHooks:
    """What apply asks of the person running it. The defaults suit a script: nothing shown,
    no confirmation (as --yes), no progress."""

    show_plan: Callable[[Plan], None] = _nothing  # a plan made now, before it is checked
    # asked before writing a plan made now; raises to stop (None: apply without asking)
    confirm: Callable[[Plan], None] | None = None
    # (number of changes, API requests so far) -> called with each change's outcome
    progress: Callable[
        [int, Callable[[], int]], AbstractContextManager[Callable[[Outcome], None]]
    ] = _unwatched


@dataclass(frozen=True)
class ApplyResult:
    plan: Plan
    shown: bool  # the plan was made now and shown through the hooks
    report: Report | None = None  # None: refused before connecting
    requests: int = 0  # API requests of the run (0 when nothing was applied)
    exhausted_until: float | None = None  # the rate limit's reset, when past --max-wait
    # UnsafePlan or StalePlan (exit 3, nothing written), or ApplyFailed (exit 4)
    error: RulesyncError | None = None

    @property
    def refused(self) -> str:
        """Why the whole plan was refused (nothing written), else empty."""
        return str(self.error) if isinstance(self.error, (UnsafePlan, StalePlan)) else ""

    @property
    def exit_code(self) -> int:
        return self.error.exit_code if self.error is not None else 0


def apply(
    config_path: Path | None,
    env_name: str | None,
    options: ApplyOptions = ApplyOptions(),
    *,
    hooks: ApplyHooks = ApplyHooks(),
    notes: Notes = ignore,
) -> ApplyResult:
    """Apply a saved plan (checked against this environment, org and today's safety rules,
    and refused if what it touches moved), or make a plan, show it, confirm and apply it."""
    if options.plan_file is not None:
        return _apply_saved(config_path, env_name, options.plan_file, options, hooks, notes)
    from rulesync.loader import load_desired
    from rulesync.safety import check
    from rulesync.session import connect

    config = open_config(config_path, notes)
    env = config.environment(env_name)
    desired = load_desired(config, env)
    with (
        _locked(config, env),
        connect(config, env, parallelism=options.parallelism, max_wait=options.max_wait) as client,
    ):
        the_plan = make_plan(
            client,
            config,
            env,
            desired,
            prune=options.prune,
            targets=options.targets,
            notes=notes,
        )
        hooks.show_plan(the_plan)
        try:
            overridden = check(the_plan, config.policy, force=options.force)
        except UnsafePlan as err:
            return ApplyResult(the_plan, shown=True, error=err)
        for reason in overridden:
            notes(f"Warning: applying an unsafe plan (--force): {reason}")
        if not the_plan.has_changes:
            return _nothing_to_apply(the_plan, shown=True)
        if hooks.confirm is not None:
            hooks.confirm(the_plan)
            # the answer may have taken a while: apply only if nothing moved meanwhile
            stale = _stale(the_plan, client)
            if stale is not None:
                return _refused(the_plan, stale, shown=True)
        return _apply(the_plan, client, options, hooks, shown=True)


def _apply_saved(
    config_path: Path | None,
    env_name: str | None,
    plan_file: Path,
    options: ApplyOptions,
    hooks: ApplyHooks,
    notes: Notes,
) -> ApplyResult:
    """The saved plan, exactly: never shown again nor confirmed (it was reviewed)."""
    from rulesync.applier import check_bound
    from rulesync.planfile import read_plan
    from rulesync.safety import check
    from rulesync.session import connect

    if options.prune or options.targets:
        raise ConfigError(
            "--prune and --target shape a new plan; they cannot be used with "
            "a saved plan file (plan again with them instead)"
        )
    config = open_config(config_path, notes)
    env = config.environment(env_name)
    the_plan = read_plan(plan_file)
    check_bound(the_plan, environment=env.name, api_url=env.api_url)
    try:
        # the plan is checked against today's config: manage and protect may have changed
        overridden = check(the_plan, config.policy, force=options.force)
    except UnsafePlan as err:
        return ApplyResult(the_plan, shown=False, error=err)
    for reason in overridden:  # as for a fresh plan: --force says what it overrides
        notes(f"Warning: applying an unsafe plan (--force): {reason}")
    if not the_plan.has_changes:
        return _nothing_to_apply(the_plan, shown=False)
    with (
        _locked(config, env),
        connect(config, env, parallelism=options.parallelism, max_wait=options.max_wait) as client,
    ):
        stale = _stale(the_plan, client, bound=True)
        if stale is not None:
            return _refused(the_plan, stale, shown=False)
        return _apply(the_plan, client, options, hooks, shown=False)


def _locked(config: Config, env: Environment) -> AbstractContextManager[None]:
    """One apply per environment at a time on this machine (the second waits, then refuses)."""
    from rulesync.lock import environment_lock
    from rulesync.session import STATE_DIR

    shown = f"{STATE_DIR}/{env.name}.lock"
    return environment_lock(config.root / STATE_DIR, env.name, shown=shown)


def _stale(the_plan: Plan, client: Client, *, bound: bool = False) -> StalePlan | None:
    """Why the plan may no longer be applied: its rulesets moved (and, with ``bound``, a saved
    plan was made against another org's reference data)."""
    from rulesync.applier import check_references, check_stale
    from rulesync.sequences import check_sequences_unmoved, check_still_unused

    try:
        if bound:
            check_references(the_plan, client)
        check_stale(the_plan, client)
        check_still_unused(the_plan, client)
        check_sequences_unmoved(the_plan, client)
    except StalePlan as err:
        return err
    return None


def _refused(the_plan: Plan, err: StalePlan, *, shown: bool) -> ApplyResult:
    from rulesync.applier import Report

    return ApplyResult(the_plan, shown, Report(skipped=list(the_plan.changes)), error=err)


def _nothing_to_apply(the_plan: Plan, *, shown: bool) -> ApplyResult:
    from rulesync.applier import Report

    return ApplyResult(the_plan, shown, Report())


def _apply(
    the_plan: Plan, client: Client, options: ApplyOptions, hooks: ApplyHooks, *, shown: bool
) -> ApplyResult:
    from rulesync.applier import apply_plan

    stop = threading.Event()
    with hooks.progress(len(the_plan.changes), lambda: client.requests) as progress:
        report = apply_plan(
            the_plan, client, parallelism=options.parallelism, progress=progress, stop=stop
        )
    error = None
    if report.interrupted:
        error = ApplyFailed(
            "interrupted: writes in flight finished, the rest were not started; "
            "run apply again to converge"
        )
    elif not report.success:
        error = ApplyFailed(
            "some changes failed (the others were applied); fix the cause and "
            "run apply again to converge"
        )
    return ApplyResult(the_plan, shown, report, client.requests, client.exhausted_until, error)
