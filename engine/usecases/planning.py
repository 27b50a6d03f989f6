"""`plan` (the files diffed against the live org) and `show` (a saved plan)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rulesync.config import Config, Environment
from rulesync.errors import UnsafePlan
from rulesync.usecases import Notes, ignore, open_config

if TYPE_CHECKING:
    from rulesync.client import Client
    from rulesync.desired import Desired
    from rulesync.plan import Plan
    from rulesync.session import ReadAhead


@dataclass(frozen=True)
class PlanOptions:
    prune: bool = False
    targets: tuple[str, ...] = ()  # names or wildcard patterns; empty: every ruleset
    out: Path | None = None  # also save the plan there
    detailed_exitcode: bool = False  # exit 2 when there are changes


@dataclass(frozen=True)
class PlanResult:
    plan: Plan
    refusals: tuple[str, ...]  # why apply would refuse the plan; shown with it
    saved_to: Path | None = None
    detailed_exitcode: bool = False

    @property
    def error(self) -> UnsafePlan | None:
        """The plan is unsafe (exit 3): it is still shown in full, then this is reported."""
        if not self.refusals:
            return None
        return UnsafePlan(
            "unsafe plan, it would be refused:\n  - "
            + "\n  - ".join(self.refusals)
            + "\nReview it; `rulesync apply --force` overrides."
        )

    @property
    def exit_code(self) -> int:
        if self.refusals:
            return UnsafePlan.exit_code
        return 2 if self.detailed_exitcode and self.plan.has_changes else 0


def plan(
    config_path: Path | None,
    env_name: str | None,
    options: PlanOptions = PlanOptions(),
    *,
    notes: Notes = ignore,
) -> PlanResult:
    """Diff the files against the live org. Never writes to the API."""
    from rulesync.loader import load_desired
    from rulesync.planfile import write_plan
    from rulesync.safety import refusals
    from rulesync.session import collector_paused, connect_ahead, reading_ahead

    config = open_config(config_path, notes)
    env = config.environment(env_name)
    # the live rulesets are listed while the files are read (see session.reading_ahead)
    with collector_paused(), reading_ahead(config, env) as ahead:
        desired = load_desired(config, env)
        with connect_ahead(config, env, ahead) as client:
            the_plan = make_plan(
                client,
                config,
                env,
                desired,
                prune=options.prune,
                targets=options.targets,
                notes=notes,
                ahead=ahead,
            )
    reasons = refusals(the_plan, config.policy)
    if options.out:
        write_plan(the_plan, options.out)
    return PlanResult(the_plan, tuple(reasons), options.out, options.detailed_exitcode)


def make_plan(
    client: Client,
    config: Config,
    env: Environment,
    desired: list[Desired],
    *,
    prune: bool,
    targets: tuple[str, ...],
    notes: Notes,
    ahead: ReadAhead | None = None,
) -> Plan:
    """The plan of ``desired`` against the live org, with the sequences each change touches."""
    from rulesync.duplicates import notes as duplicate_notes
    from rulesync.planner import Settings, build_plan
    from rulesync.safety import unmatched_patterns
    from rulesync.sequences import plan_assignments, read_sequences, with_blast_radius
    from rulesync.session import read_live

    live = read_live(client, desired, ahead=ahead)
    live_names = live.rulesets.names()
    for warning in unmatched_patterns(live_names, config.policy):
        notes(f"Warning: {warning}")
    settings = Settings(
        environment=env.name,
        api_url=env.api_url,
        policy=config.policy,
        prune=prune or config.policy.prune,
        targets=targets,
        api_requests=client.requests,
    )
    the_plan = build_plan(desired, live.rulesets, refs=live.refs, settings=settings)
    listed = None
    if any(d.sequences is not None for d in desired):
        listed = read_sequences(client)
        the_plan, found = plan_assignments(
            the_plan, desired, live.rulesets, listed, targets=targets
        )
    else:
        found = []
    the_plan, more = with_blast_radius(the_plan, client, listed)
    for note in [*found, *more]:
        notes(f"Warning: {note}")
    for line in duplicate_notes(desired, live.rulesets.rulesets, config.policy.manage):
        notes(f"Warning: {line}")
    return the_plan


@dataclass(frozen=True)
class ShowResult:
    plan: Plan
    refusals: tuple[str, ...]  # flagged as `plan` flags them; `show` itself succeeds

    @property
    def exit_code(self) -> int:
        return 0


def show(config_path: Path | None, plan_file: Path, *, notes: Notes = ignore) -> ShowResult:
    """A saved plan, checked against today's safety rules. No API call."""
    from rulesync.planfile import read_plan
    from rulesync.safety import refusals

    the_plan = read_plan(plan_file)
    return ShowResult(the_plan, tuple(refusals(the_plan, open_config(config_path, notes).policy)))
