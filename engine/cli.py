"""Click commands: the only place that prints or exits. Errors map to exit codes here."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import click

from rulesync import __version__, console
from rulesync.applier import Outcome, apply_plan, check_stale
from rulesync.client import Client
from rulesync.config import Config, Environment, load_config
from rulesync.documents import live_document, resource_name
from rulesync.emulator.cli import emulator
from rulesync.errors import (
    ApplyFailed,
    ConfigError,
    InvalidFiles,
    Problem,
    RulesyncError,
    UnsafePlan,
)
from rulesync.export import plan_files, ruleset_yaml, write_files
from rulesync.loader import Desired, load_desired, matches
from rulesync.model import RELATIONSHIPS, parse_duration, ruleset_json_schema
from rulesync.plan import Plan, read_plan, write_plan
from rulesync.planner import Settings, build_plan
from rulesync.references import KINDS, References, labels_from
from rulesync.render import render_json, render_markdown, render_text
from rulesync.safety import Policy, check, refusals
from rulesync.session import connect, read_live

FORMATS = click.Choice(["text", "markdown", "json"])
target_option = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME",
    help="Limit the run to this ruleset (repeatable).",
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
    help="Project configuration file (default: ./rulesync.yaml when present).",
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


def _config(ctx: click.Context) -> Config:
    return load_config(ctx.obj["config_path"])


def _color(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


def _policy(config: Config) -> Policy:
    return Policy(
        manage=config.manage,
        protect=config.safety.protect,
        max_change_percent=config.safety.max_change_percent,
        min_existing=config.safety.min_existing,
    )


def _render(plan: Plan, fmt: str, warnings: list[str]) -> str:
    if fmt == "json":
        return render_json(plan)
    if fmt == "markdown":
        return render_markdown(plan, warnings=warnings)
    return render_text(plan, color=_color(), warnings=warnings)


def _environment(ctx: click.Context) -> tuple[Config, Environment, list[Desired]]:
    """Config, the chosen environment and its desired rulesets: all offline, before connecting."""
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
) -> Plan:
    live = read_live(client, desired)
    settings = Settings(
        environment=env.name,
        api_url=env.api_url,
        manage=config.manage,
        protect=config.safety.protect,
        prune=prune or config.safety.prune,
        targets=targets,
        api_requests=client.requests,
    )
    return build_plan(desired, live.rulesets, refs=live.refs, settings=settings)


@main.command()
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Check ruleset files and rulesync.yaml, offline (no API call).

    Every problem is reported at once as PATH:LINE:COL: FIELD: message. Exit 0 when valid,
    1 otherwise.
    """
    config = _config(ctx)
    problems: list[Problem] = []
    count = 0
    for env in config.environments.values():
        try:
            count = len(load_desired(config, env))
        except InvalidFiles as err:
            problems.extend(p for p in err.problems if p not in problems)
    if problems:
        raise InvalidFiles(problems)
    envs = ", ".join(config.environments)
    click.echo(f"Valid: {count} rulesets in {config.rulesets_dir.name}/ (environments: {envs}).")


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

    Exit codes: 0 success (with --detailed-exitcode: no changes), 1 error, 2 changes
    (--detailed-exitcode only), 3 the plan is unsafe (it is still shown in full).
    """
    config, env, desired = _environment(ctx)
    with connect(config, env) as client:
        the_plan = _make_plan(client, config, env, desired, prune=prune, targets=targets)
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
    targets: tuple[str, ...],
) -> None:
    """Apply a saved plan, or plan now and apply after confirmation.

    With PLAN_FILE (from `rulesync plan --out`), exactly that plan is applied, after checking
    that nothing it touches changed since (else exit 3, nothing written). Without it, a plan is
    made and shown, then applied once you confirm (--yes when there is no terminal).
    Exit codes: 0 applied, 1 error, 3 refused (unsafe or stale), 4 some changes failed.
    """
    if plan_file is not None:
        if prune or targets:
            raise ConfigError(
                "--prune and --target shape a new plan; they cannot be used with "
                "a saved plan file (plan again with them instead)"
            )
        config = _config(ctx)
        env = config.environment(ctx.obj["env_name"])
        the_plan = read_plan(plan_file)
        if the_plan.environment != env.name:
            raise ConfigError(
                f"{plan_file} was planned for environment "
                f"{the_plan.environment!r}, not {env.name!r}; pass --env "
                f"{the_plan.environment} or plan again"
            )
        check(the_plan, _policy(config), force=force)
        if not the_plan.has_changes:
            click.echo("No changes.")
            return
        with connect(config, env, parallelism=parallelism, max_wait=max_wait) as client:
            check_stale(the_plan, client)
            _apply(the_plan, client, parallelism)
        return
    config, env, desired = _environment(ctx)
    with connect(config, env, parallelism=parallelism, max_wait=max_wait) as client:
        the_plan = _make_plan(client, config, env, desired, prune=prune, targets=targets)
        click.echo(render_text(the_plan, color=_color()), nl=False)
        overridden = check(the_plan, _policy(config), force=force)
        for reason in overridden:
            click.echo(f"Warning: applying an unsafe plan (--force): {reason}", err=True)
        if not the_plan.has_changes:
            return
        if not yes:
            if not sys.stdin.isatty():
                raise ConfigError(
                    "refusing to apply without confirmation: there is no terminal "
                    "to ask on; pass --yes (or apply a reviewed plan file)"
                )
            click.confirm(f"Apply these changes to {the_plan.environment!r}?", abort=True)
            # the answer may have taken a while: apply only if nothing moved meanwhile
            check_stale(the_plan, client)
        _apply(the_plan, client, parallelism)


def _apply(the_plan: Plan, client: Client, parallelism: int) -> None:
    total = len(the_plan.changes)
    done = 0

    def progress(outcome: Outcome) -> None:
        nonlocal done
        done += 1
        mark = "ok" if outcome.ok else "FAILED"
        click.echo(
            f"[{done}/{total}] {outcome.change.action} {outcome.change.name!r}: {mark}"
            f"{'' if outcome.ok else ' - ' + outcome.detail}",
            err=True,
        )

    stop = threading.Event()
    report = apply_plan(the_plan, client, parallelism=parallelism, progress=progress, stop=stop)
    counts = {
        a: sum(1 for o in report.applied if o.change.action == a)
        for a in ("create", "update", "delete")
    }
    click.echo(
        f"Applied: {counts['create']} created, {counts['update']} updated, "
        f"{counts['delete']} deleted; {len(report.failed)} failed"
        f"{f', {len(report.skipped)} not started' if report.skipped else ''}"
        f" ({client.requests} API requests)."
    )
    for outcome in report.failed:
        click.echo(f"  failed: {outcome.change.action} {outcome.change.name!r}: {outcome.detail}")
    for problem in report.verify_errors:
        click.echo(f"  verify: {problem}")
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


@main.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_context
def show(ctx: click.Context, plan_file: Path, fmt: str) -> None:
    """Render a saved plan file (from `rulesync plan --out`).

    The plan is checked against the safety rules of rulesync.yaml, so an unsafe plan is
    flagged here as it was by `plan`. Nothing is read from or written to the API.
    """
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
@click.option("--overwrite", is_flag=True, help="Replace files that already exist.")
@click.pass_context
def export(ctx: click.Context, out_dir: Path | None, overwrite: bool) -> None:
    """Write every live managed ruleset as a YAML file (to bootstrap from an existing org).

    Relationships are written as stage / task priority names and user emails where they are
    unique, ids otherwise; durations as 3d, 2h and so on. Planning right after an export of an
    unchanged org shows `No changes.`
    """
    config = _config(ctx)
    env = config.environment(ctx.obj["env_name"])
    target_dir = out_dir or config.rulesets_dir
    with connect(config, env) as client:
        live = [
            r
            for r in client.list_all("rulesets")
            if (name := resource_name(r)) and matches(name, config.manage)
        ]
        kinds = sorted(
            {
                kind
                for r in live
                for rel, kind in RELATIONSHIPS.items()
                if live_document(r, [rel])["relationships"][rel] is not None
            }
        )
        refs = References({k: labels_from(k, client.list_all(KINDS[k][0])) for k in kinds})
    files = [(path, ruleset_yaml(r, refs)) for path, r in plan_files(live, target_dir)]
    write_files(files, overwrite=overwrite)
    click.echo(f"Exported {len(files)} rulesets to {target_dir}/.")


@main.command()
def schema() -> None:
    """Print the JSON Schema of a ruleset file (for editors).

    Save it and point yaml-language-server at it with a first line such as
    `# yaml-language-server: $schema=../ruleset.schema.json`.
    """
    click.echo(json.dumps(ruleset_json_schema(), indent=2))


main.add_command(emulator)


if __name__ == "__main__":
    main()
