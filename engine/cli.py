"""Click commands: the only place that prints or exits. Errors map to exit codes here."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rulesync import __version__, console, redact
from rulesync.config import CONFIG_FILE, Config, Environment, load_config
from rulesync.emulator.cli import emulator
from rulesync.errors import (
    ApplyFailed,
    ConfigError,
    InvalidFiles,
    Problem,
    RulesyncError,
    StalePlan,
    UnsafePlan,
)
from rulesync.fields import parse_duration

# Each command imports what it uses when it runs: `validate` never loads the HTTP stack,
# `plan` neither the applier nor the emulator (unless the environment is `embedded`).
if TYPE_CHECKING:
    from rulesync.applier import Outcome, Report
    from rulesync.client import Client
    from rulesync.desired import Desired
    from rulesync.plan import Plan
    from rulesync.safety import Policy
    from rulesync.session import ReadAhead

FORMATS = click.Choice(["text", "markdown", "json"])
target_option = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME",
    help="Limit the run to rulesets matching NAME (repeatable; * and ? are wildcards).",
)


class RulesyncGroup(click.Group):
    """The one error boundary of the CLI, around the whole dispatch: a RulesyncError becomes its
    message and exit code; a usage error exits 1 (2 means "changes" under --detailed-exitcode);
    anything unexpected becomes one line, or its traceback with --debug. All output passes
    through the redaction step and cannot fail on encoding."""

    debug = False

    def main(  # type: ignore[override]
        self,
        args: list[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        RulesyncGroup.debug = False
        redact.forget()
        out, err = console.install()
        try:
            code = self._dispatch(args, prog_name, complete_var, **extra)
        finally:
            sys.stdout, sys.stderr = out, err
        if not standalone_mode:
            return code
        sys.exit(code)

    def _dispatch(
        self, args: list[str] | None, prog_name: str | None, complete_var: str | None, **extra: Any
    ) -> int:
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            return result if isinstance(result, int) else 0
        except click.ClickException as err:
            err.show()
            return 1
        except click.Abort as err:
            if isinstance(err.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
                click.echo("Interrupted.", err=True)
                return 130
            click.echo("Aborted!", err=True)
            return 1
        except InvalidFiles as err:
            click.echo(str(err), err=True)  # PATH:LINE:COL lines, as editors and CI parse them
            _annotate(err.problems)
            return err.exit_code
        except RulesyncError as err:
            click.echo(f"Error: {err}", err=True)
            return err.exit_code
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            return 130
        except BrokenPipeError:
            return 1  # the reader went away (e.g. `| head`): nothing left to tell it
        except Exception as err:
            if RulesyncGroup.debug:
                traceback.print_exc(file=sys.stderr)
            first = (str(err).strip().splitlines() or [""])[0][:300]
            click.echo(
                f"internal error: {type(err).__name__}"
                f"{': ' + first if first else ''}; run with --debug for the traceback",
                err=True,
            )
            return 1


def _first_time(items: Iterable[Problem], seen: set[Problem]) -> list[Problem]:
    fresh = []
    for item in items:
        if item not in seen:
            seen.add(item)
            fresh.append(item)
    return fresh


def _max_wait(ctx: click.Context, param: click.Parameter, value: str) -> float:
    try:
        return float(parse_duration(value))
    except ValueError as err:
        raise click.BadParameter(str(err)) from None


@click.group(cls=RulesyncGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rulesync")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Project configuration file (default: rulesync.yaml in this folder or the nearest"
    " folder above it).",
)
@click.option(
    "--env",
    "env_name",
    envvar="RULESYNC_ENV",
    metavar="NAME",
    default=None,
    help="Environment from rulesync.yaml (default: its default_environment; env RULESYNC_ENV).",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Log each API request on stderr: method, path, status, timing, retries, pacing "
    "(secrets redacted).",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="RULESYNC_DEBUG",
    help="Show the traceback of an unexpected error, and debug logs (env RULESYNC_DEBUG).",
)
@click.pass_context
def main(
    ctx: click.Context,
    config_path: Path | None,
    env_name: str | None,
    verbose: bool,
    debug: bool,
) -> None:
    """Keep Outreach sequence rulesets as YAML in git, and make the live org match them.

    \b
    Typical use:
      rulesync validate           check the files, offline
      rulesync plan               show what would change (the built-in emulator by default)
      rulesync apply              make the change, after confirmation
    """
    ctx.obj = {"config_path": config_path, "env_name": env_name}
    RulesyncGroup.debug = debug
    console.setup_logging(verbose=verbose, debug=debug)


def _annotate(problems: list[Problem]) -> None:
    """Under GitHub Actions, file problems also as error annotations on the pull request."""
    from rulesync.reports import annotation

    if os.environ.get("GITHUB_ACTIONS") == "true":
        for problem in problems:
            click.echo(annotation(problem, os.environ.get("GITHUB_WORKSPACE", "")), err=True)


def _config(ctx: click.Context) -> Config:
    config = load_config(ctx.obj["config_path"])
    if ctx.obj["config_path"] is None and config.path not in (CONFIG_FILE, "(defaults)"):
        # found in a folder above, as git finds its repository: say which one is used
        click.echo(f"Using {config.path} (paths below are relative to its folder).", err=True)
    return config


def _color(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


def _policy(config: Config) -> Policy:
    from rulesync.safety import Policy

    return Policy(
        manage=config.manage,
        protect=config.safety.protect,
        max_change_percent=config.safety.max_change_percent,
        min_existing=config.safety.min_existing,
    )


def _render(plan: Plan, fmt: str, warnings: list[str]) -> str:
    from rulesync.planfile import dumps
    from rulesync.render import render_markdown, render_text

    if fmt == "json":
        return dumps(plan)
    if fmt == "markdown":
        return render_markdown(plan, warnings=warnings)
    return render_text(plan, color=_color(), warnings=warnings)


def _environment(ctx: click.Context) -> tuple[Config, Environment, list[Desired]]:
    """Config, the chosen environment and its desired rulesets: all offline, before connecting."""
    from rulesync.loader import load_desired

    config = _config(ctx)
    env = config.environment(ctx.obj["env_name"])
    return config, env, load_desired(config, env)


def _make_plan(
    client: Client,
    config: Config,
    env: Environment,
    desired: list[Desired],
    *,
    prune: bool,
    targets: tuple[str, ...],
    ahead: ReadAhead | None = None,
) -> Plan:
    from rulesync.duplicates import notes as duplicate_notes
    from rulesync.planner import Settings, build_plan
    from rulesync.safety import unmatched_patterns
    from rulesync.sequences import plan_assignments, read_sequences, with_blast_radius
    from rulesync.session import read_live

    live = read_live(client, desired, ahead=ahead)
    live_names = live.rulesets.names()
    for warning in unmatched_patterns(live_names, _policy(config)):
        click.echo(f"Warning: {warning}", err=True)
    settings = Settings(
        environment=env.name,
        api_url=env.api_url,
        manage=config.manage,
        protect=config.safety.protect,
        prune=prune or config.safety.prune,
        targets=targets,
        api_requests=client.requests,
    )
    the_plan = build_plan(desired, live.rulesets, refs=live.refs, settings=settings)
    listed = None
    if any(d.sequences is not None for d in desired):
        listed = read_sequences(client)
        the_plan, notes = plan_assignments(
            the_plan, desired, live.rulesets, listed, targets=targets
        )
    else:
        notes = []
    the_plan, more = with_blast_radius(the_plan, client, listed)
    for note in [*notes, *more]:
        click.echo(f"Warning: {note}", err=True)
    for line in duplicate_notes(desired, live.rulesets.rulesets, config.manage):
        click.echo(f"Warning: {line}", err=True)
    return the_plan


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one object on stdout (valid, rulesets, environments, problems).",
)
@click.pass_context
def validate(ctx: click.Context, fmt: str) -> None:
    """Check ruleset files and rulesync.yaml, offline (no API call).

    The configuration is checked for what would fail later: every environment but `local`
    states api_url (an http(s) URL or `embedded`), a remote URL has auth, *_env settings are
    environment variable names, OAuth settings are complete and not mixed with a bearer token.

    Every problem is reported at once as PATH:LINE:COL: FIELD: message (under GitHub Actions
    also as annotations on the pull request). Exit 0 when valid, 1 otherwise. Values kept as
    `{held: VALUE}` are valid; a warning on stderr says why Outreach would refuse each on write.
    """
    from rulesync.loader import load_desired, read_project

    try:
        config = _config(ctx)
    except InvalidFiles as err:
        if fmt != "json":
            raise
        _validate_json(err.problems, 0, [])
        raise
    problems: list[Problem] = []
    count = 0
    held: list[Problem] = []  # values kept as Outreach holds them: valid, but never sent
    # each environment reads the same files: report each problem once (a set: a file may
    # hold thousands)
    seen: set[Problem] = set()
    seen_held: set[Problem] = set()
    files = read_project(config)  # each file is read once, whatever the environments
    for env in config.environments.values():
        try:
            desired = load_desired(config, env, files)
        except InvalidFiles as err:
            problems.extend(_first_time(err.problems, seen))
            continue
        count = len(desired)
        held.extend(_first_time((p for d in desired for p in d.held.values()), seen_held))
    if fmt == "json":
        _validate_json(problems, count, list(config.environments))
        return
    if problems:
        raise InvalidFiles(problems)
    for note in held:
        click.echo(f"{note} (warning)", err=True)
    envs = ", ".join(config.environments)
    click.echo(f"Valid: {count} rulesets in {config.rulesets_dir.name}/ (environments: {envs}).")


def _validate_json(problems: list[Problem], count: int, environments: list[str]) -> None:
    from rulesync.reports import validate_json

    click.echo(validate_json(problems, count, environments))
    if problems:
        _annotate(problems)
        sys.exit(InvalidFiles.exit_code)


@main.command()
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also save the plan as JSON, for `rulesync apply PLAN_FILE` or `show`.",
)
@click.option(
    "--format",
    "fmt",
    type=FORMATS,
    default="text",
    show_default=True,
    help="Output format on stdout.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there are no changes, 2 when there are (3 when unsafe).",
)
@click.option(
    "--prune", is_flag=True, help="Plan deletes of live managed rulesets that no file declares."
)
@target_option
@click.pass_context
def plan(
    ctx: click.Context,
    out: Path | None,
    fmt: str,
    detailed_exitcode: bool,
    prune: bool,
    targets: tuple[str, ...],
) -> None:
    """Diff the files against the live org and show the plan. Never writes to the API.

    Without --prune, live managed rulesets that no file declares are listed as kept. Problems
    only the org reveals (an unknown stage or user, an {id: N} that does not exist, a previous
    name several live rulesets share) are reported at PATH:LINE:COL of the field. A manage or
    protect pattern that matches no live ruleset is warned about on stderr. With a static token,
    the live rulesets are listed while the files are read; a file problem is still what stops
    the plan.

    Each update and delete shows the sequences that use the ruleset (one filtered listing per
    1,000 changed rulesets); files with `sequences:` plan assign (») and, with --prune, detach
    («) changes. Deleting a ruleset in use, and a change the credentials may not make
    (Outreach's canWrite/canDelete, the scope named), make the plan unsafe.

    Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error, 2 changes
    (--detailed-exitcode only), 3 the plan is unsafe (it is still shown in full).
    """
    from rulesync.loader import load_desired
    from rulesync.planfile import write_plan
    from rulesync.safety import refusals
    from rulesync.session import collector_paused, connect_ahead, reading_ahead

    config = _config(ctx)
    env = config.environment(ctx.obj["env_name"])
    # the live rulesets are listed while the files are read (see session.reading_ahead)
    with collector_paused(), reading_ahead(config, env) as ahead:
        desired = load_desired(config, env)
        with connect_ahead(config, env, ahead) as client:
            the_plan = _make_plan(
                client, config, env, desired, prune=prune, targets=targets, ahead=ahead
            )
    warnings = refusals(the_plan, _policy(config))
    if out:
        write_plan(the_plan, out)
    click.echo(_render(the_plan, fmt, warnings), nl=False)
    if out:
        click.echo(f"Saved the plan to {out}; apply it with `rulesync apply {out}`.", err=True)
    if warnings:
        click.echo(
            "Error: unsafe plan, it would be refused:\n  - "
            + "\n  - ".join(warnings)
            + "\nReview it; `rulesync apply --force` overrides.",
            err=True,
        )
        sys.exit(UnsafePlan.exit_code)
    if detailed_exitcode and the_plan.has_changes:
        sys.exit(2)


@main.command()
@click.argument("plan_file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", "-y", "yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--prune", is_flag=True, help="Delete live managed rulesets no file declares.")
@click.option("--force", is_flag=True, help="Apply even a plan the safety rules refuse.")
@click.option(
    "--parallelism",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Requests in flight at most.",
)
@click.option(
    "--max-wait",
    "max_wait",
    default="15m",
    show_default=True,
    metavar="DURATION",
    callback=_max_wait,
    help="Wait at most this long (e.g. 90s, 15m, 1h) for the API's rate limit to reset or "
    "a maintenance to end. Past it, no new write starts, those in flight finish, and the "
    "summary lists what was not done and when the budget resets (exit 4).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: the report (applied, failed with details, not started) on stdout; "
    "the plan and progress go to stderr.",
)
@target_option
@click.pass_context
def apply(
    ctx: click.Context,
    plan_file: Path | None,
    yes: bool,
    prune: bool,
    force: bool,
    parallelism: int,
    max_wait: float,
    fmt: str,
    targets: tuple[str, ...],
) -> None:
    """Apply a saved plan, or plan now and apply after confirmation.

    With PLAN_FILE (from `rulesync plan --out`), exactly that plan is applied, after checking
    that it was made for this environment, API URL and org (its stage, task priority and user
    ids and names), that today's manage and protect allow it, and that nothing it touches
    changed since, including the sequences it assigns and those using a ruleset it deletes
    (else exit 3, nothing written). A damaged or edited plan file is exit 1. A change the
    credentials may not make is refused before writing, even with --force.
    Without it, a plan is made and shown, then applied once you confirm (--yes when there is
    no terminal).

    One apply per environment runs at a time on a machine (lock in .rulesync/); a second one
    waits up to RULESYNC_LOCK_TIMEOUT seconds (default 60), then stops with exit 1. After
    applying, a name held by several live rulesets (a racing apply elsewhere) is exit 4.
    Progress goes to stderr: a bar on a terminal, one line per change otherwise (CI, logs).
    Exit codes: 0 applied, 1 error, 3 refused (unsafe or stale), 4 some changes failed.
    """
    from rulesync.applier import check_bound
    from rulesync.planfile import read_plan
    from rulesync.render import render_text
    from rulesync.safety import check
    from rulesync.session import connect

    if plan_file is not None:
        if prune or targets:
            raise ConfigError(
                "--prune and --target shape a new plan; they cannot be used with "
                "a saved plan file (plan again with them instead)"
            )
        config = _config(ctx)
        env = config.environment(ctx.obj["env_name"])
        the_plan = read_plan(plan_file)
        check_bound(the_plan, environment=env.name, api_url=env.api_url)
        # the plan is checked against today's config: manage and protect may have changed
        check(the_plan, _policy(config), force=force)
        if not the_plan.has_changes:
            _nothing_to_apply(the_plan, fmt)
            return
        with (
            _locked(config, env),
            connect(config, env, parallelism=parallelism, max_wait=max_wait) as client,
        ):
            _check_stale(the_plan, client, fmt, bound=True)
            _apply(the_plan, client, parallelism, fmt)
        return
    config, env, desired = _environment(ctx)
    with (
        _locked(config, env),
        connect(config, env, parallelism=parallelism, max_wait=max_wait) as client,
    ):
        the_plan = _make_plan(client, config, env, desired, prune=prune, targets=targets)
        to_stderr = fmt == "json"  # stdout is for the report
        click.echo(
            render_text(the_plan, color=_color(sys.stderr if to_stderr else None)),
            nl=False,
            err=to_stderr,
        )
        overridden = check(the_plan, _policy(config), force=force)
        for reason in overridden:
            click.echo(f"Warning: applying an unsafe plan (--force): {reason}", err=True)
        if not the_plan.has_changes:
            _nothing_to_apply(the_plan, fmt, quiet=True)
            return
        if not yes:
            if not sys.stdin.isatty():
                raise ConfigError(
                    "refusing to apply without confirmation: there is no terminal "
                    "to ask on; pass --yes (or apply a reviewed plan file)"
                )
            click.confirm(f"Apply these changes to {the_plan.environment!r}?", abort=True)
            # the answer may have taken a while: apply only if nothing moved meanwhile
            _check_stale(the_plan, client, fmt)
        _apply(the_plan, client, parallelism, fmt)


def _locked(config: Config, env: Environment) -> AbstractContextManager[None]:
    """One apply per environment at a time on this machine (the second waits, then refuses)."""
    from rulesync.lock import environment_lock
    from rulesync.session import STATE_DIR

    shown = f"{STATE_DIR}/{env.name}.lock"
    return environment_lock(config.root / STATE_DIR, env.name, shown=shown)


def _check_stale(the_plan: Plan, client: Client, fmt: str, *, bound: bool = False) -> None:
    """Refuse a plan whose rulesets moved (and, with ``bound``, a saved plan made against
    another org's reference data); with --format json the report says so too."""
    from rulesync.applier import check_references, check_stale
    from rulesync.reports import refused_json
    from rulesync.sequences import check_sequences_unmoved, check_still_unused

    try:
        if bound:
            check_references(the_plan, client)
        check_stale(the_plan, client)
        check_still_unused(the_plan, client)
        check_sequences_unmoved(the_plan, client)
    except StalePlan as err:
        if fmt == "json":
            click.echo(refused_json(the_plan, str(err)))
        raise


def _nothing_to_apply(the_plan: Plan, fmt: str, *, quiet: bool = False) -> None:
    from rulesync.applier import Report
    from rulesync.reports import apply_json

    if fmt == "json":
        click.echo(apply_json(the_plan, Report(), 0))
    elif not quiet:
        click.echo("No changes.")


def _apply(the_plan: Plan, client: Client, parallelism: int, fmt: str = "text") -> None:
    from rulesync.applier import apply_plan
    from rulesync.reports import apply_json

    stop = threading.Event()
    with _progress(len(the_plan.changes), client) as progress:
        report = apply_plan(the_plan, client, parallelism=parallelism, progress=progress, stop=stop)
    if fmt == "json":
        click.echo(apply_json(the_plan, report, client.requests))
    else:
        _apply_summary(report, client)
    if client.exhausted_until is not None:
        reset = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(client.exhausted_until))
        click.echo(
            f"rate limit: the API's request budget is used up until {reset}, beyond "
            "--max-wait; the changes marked 'not sent' were not started. Run apply again "
            "after that time to finish.",
            err=True,
        )
    if report.interrupted:
        raise ApplyFailed(
            "interrupted: writes in flight finished, the rest were not started; "
            "run apply again to converge"
        )
    if not report.success:
        raise ApplyFailed(
            "some changes failed (the others were applied); fix the cause and "
            "run apply again to converge"
        )


@contextmanager
def _progress(total: int, client: Client) -> Iterator[Callable[[Outcome], None]]:
    """On a terminal, a progress bar with counts and API requests; in CI and logs, one line per
    change (a bar would be a line per redraw there). Failures always get their own line."""
    done = 0
    bar: Any = None  # click.progressbar, on a terminal
    if sys.stderr.isatty() and not os.environ.get("CI"):
        bar = click.progressbar(
            length=total,
            label="Applying",
            file=sys.stderr,
            show_pos=True,
            show_eta=True,
            item_show_func=lambda _: f"{client.requests} API requests",
        )

    def progress(outcome: Outcome) -> None:
        nonlocal done
        done += 1
        mark = "ok" if outcome.ok else "FAILED"
        line = (
            f"[{done}/{total}] {outcome.change.action} {outcome.change.name!r}: {mark}"
            f"{'' if outcome.ok else ' - ' + outcome.detail}"
        )
        if bar is None:
            click.echo(line, err=True)
            return
        if not outcome.ok:
            click.echo(f"\r\033[K{line}", err=True)
        bar.update(1, outcome)

    if bar is None:
        yield progress
        return
    with bar:
        yield progress


def _apply_summary(report: Report, client: Client) -> None:
    counts = {
        a: sum(1 for o in report.applied if o.change.action == a)
        for a in ("create", "update", "assign", "detach", "delete")
    }
    moves = (
        f", {counts['assign']} sequences assigned, {counts['detach']} detached"
        if counts["assign"] or counts["detach"]
        else ""
    )
    click.echo(
        f"Applied: {counts['create']} created, {counts['update']} updated, "
        f"{counts['delete']} deleted{moves}; {len(report.failed)} failed"
        f"{f', {len(report.skipped)} not started' if report.skipped else ''}"
        f" ({client.requests} API requests)."
    )
    for outcome in report.failed:
        click.echo(f"  failed: {outcome.change.action} {outcome.change.name!r}: {outcome.detail}")
    for problem in report.verify_errors:
        click.echo(f"  verify: {problem}")


@main.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_context
def show(ctx: click.Context, plan_file: Path, fmt: str) -> None:
    """Render a saved plan file (from `rulesync plan --out`).

    The plan is checked against the safety rules of rulesync.yaml, so an unsafe plan is
    flagged here as it was by `plan`. Nothing is read from or written to the API.
    """
    from rulesync.planfile import read_plan
    from rulesync.safety import refusals

    the_plan = read_plan(plan_file)
    warnings = refusals(the_plan, _policy(_config(ctx)))
    click.echo(_render(the_plan, fmt, warnings), nl=False)


@main.command()
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the files (default: the rulesets directory).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Update the files that already declare a live ruleset, in place (comments kept).",
)
@click.option(
    "--missing-only",
    is_flag=True,
    help="Write only the live rulesets no file declares; leave existing files alone.",
)
@target_option
@click.pass_context
def export(
    ctx: click.Context,
    out_dir: Path | None,
    overwrite: bool,
    missing_only: bool,
    targets: tuple[str, ...],
) -> None:
    """Write the live managed rulesets as YAML files, to adopt an existing org.

    Every live ruleset is written exactly once: a new file per ruleset (named after it;
    rulesets that share a name are pinned with `id: N`), or, with --overwrite, into the file
    that already declares it, changing only the values that differ from live. Files hold what
    the project's defaults do not already give, so planning right after shows `No changes.`
    Values Outreach holds but would refuse on write are kept as `{held: VALUE}`, with a warning.

    Without --overwrite or --missing-only, export refuses (writing nothing) when a file
    already declares one of the live rulesets.
    """
    from rulesync.desired import matches
    from rulesync.export import Options as ExportOptions
    from rulesync.export import Project as ExportProject
    from rulesync.export import export as run_export
    from rulesync.export import merged_defaults, read_files
    from rulesync.filenames import inside, write_files
    from rulesync.live import resource_name
    from rulesync.references import KINDS, References, labels_from
    from rulesync.session import connect

    if overwrite and missing_only:
        raise ConfigError("--overwrite and --missing-only exclude each other; pick one")
    config = _config(ctx)
    env = config.environment(ctx.obj["env_name"])
    target_dir = out_dir or config.rulesets_dir
    folders = [target_dir]
    if missing_only or inside(target_dir, config.rulesets_dir):
        folders.append(config.rulesets_dir)
    files = read_files(folders)
    project = ExportProject(
        out_dir=target_dir,
        schema=config.root / "ruleset.schema.json",
        defaults=merged_defaults(config.defaults, env.defaults),
        overrides=env.overrides,
        environment=env.name,
        root=config.root,
    )
    with connect(config, env) as client:
        every = client.list_all("rulesets")
        live = [r for r in every if (n := resource_name(r)) is None or matches(n, config.manage)]
        refs = References({k: labels_from(k, client.list_all(KINDS[k][0])) for k in KINDS})
    if len(every) > len(live):
        click.echo(
            f"Note: {len(every) - len(live)} live rulesets are outside `manage`"
            f" {list(config.manage)} and were not exported.",
            err=True,
        )
    options = ExportOptions(targets=targets, missing_only=missing_only, overwrite=overwrite)
    result = run_export(live, refs=refs, project=project, files=files, options=options)
    write_files(result.writes, target_dir)
    for line in result.skipped:
        click.echo(f"Skipped: {line}", err=True)
    for line in result.warnings:
        click.echo(f"Warning: {line}", err=True)
    if result.new_files and not project.schema.exists():
        click.echo(
            "Tip: `rulesync schema > ruleset.schema.json` lets editors check these files"
            " (their first line points there).",
            err=True,
        )
    click.echo(
        f"Exported {result.exported} rulesets to {project.shown(target_dir)}/:"
        f" {result.new_files} new"
        f" files, {result.updated_files} updated, {result.unchanged} already up to date;"
        f" {len(result.skipped)} skipped, {len(result.warnings)} warnings."
    )


@main.command()
@click.argument("kind", type=click.Choice(["ruleset", "config"]), default="ruleset")
def schema(kind: str) -> None:
    """Print the JSON Schema of a ruleset file, or with `config` of rulesync.yaml (for editors).

    Copies are in the repository as ruleset.schema.json and rulesync.schema.json. Point
    yaml-language-server at one with a first line such as
    `# yaml-language-server: $schema=../ruleset.schema.json`.
    """
    from rulesync.schemas import config_schema, ruleset_schema

    document = ruleset_schema() if kind == "ruleset" else config_schema()
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


main.add_command(emulator)


if __name__ == "__main__":
    main()
