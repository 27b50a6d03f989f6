"""Click commands: the only place that prints or exits. Each command parses its options, runs
one use-case (rulesync.usecases) and renders its result; errors map to exit codes here."""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rulesync import __version__, console, redact
from rulesync.errors import ConfigError, InvalidFiles, Problem, RulesyncError
from rulesync.fields import parse_duration

# Each command imports its use-case (rulesync.usecases) when it runs: `validate` never loads
# the HTTP stack, `plan` neither the applier nor the emulator (unless the environment is
# `embedded`).
if TYPE_CHECKING:
    from rulesync.applier import Outcome, Report
    from rulesync.plan import Plan

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

    # The emulator's own command line is imported only when it is asked for (by name, or for
    # the command list of --help): validate, plan and apply never load it.
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "emulator"})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "emulator" and cmd_name not in self.commands:
            from rulesync.emulator.cli import emulator

            self.add_command(emulator)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.NoSuchCommand as err:  # "Did you mean" from every command, loaded or not
            raise click.NoSuchCommand(
                err.command_name, possibilities=self.list_commands(ctx), ctx=ctx
            ) from None


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


def _annotate(problems: Sequence[Problem]) -> None:
    """Under GitHub Actions, file problems also as error annotations on the pull request."""
    from rulesync.reports import annotation

    if os.environ.get("GITHUB_ACTIONS") == "true":
        for problem in problems:
            click.echo(annotation(problem, os.environ.get("GITHUB_WORKSPACE", "")), err=True)


def _notes(line: str) -> None:
    """A use-case's remarks, on stderr as they arise."""
    click.echo(line, err=True)


def _color(stream: Any = None) -> bool:
    stream = stream or sys.stdout
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


def _render(plan: Plan, fmt: str, warnings: list[str]) -> str:
    from rulesync.planfile import dumps
    from rulesync.render import render_markdown, render_text

    if fmt == "json":
        return dumps(plan)
    if fmt == "markdown":
        return render_markdown(plan, warnings=warnings)
    return render_text(plan, color=_color(), warnings=warnings)


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
def validate(ctx: click.Context, fmt: str) -> int:
    """Check ruleset files and rulesync.yaml, offline (no API call).

    The configuration is checked for what would fail later: every environment but `local`
    states api_url (an http(s) URL or `embedded`), a remote URL has auth, *_env settings are
    environment variable names, OAuth settings are complete and not mixed with a bearer token.

    Every problem is reported at once as PATH:LINE:COL: FIELD: message (under GitHub Actions
    also as annotations on the pull request). Exit 0 when valid, 1 otherwise. Values kept as
    `{held: VALUE}` are valid; a warning on stderr says why Outreach would refuse each on write.
    """
    from rulesync.usecases.validating import validate as run_validate

    result = run_validate(ctx.obj["config_path"], notes=_notes)
    if fmt == "json":
        from rulesync.reports import validate_json

        click.echo(validate_json(result.problems, result.rulesets, result.environments))
        if result.problems:
            _annotate(result.problems)
        return result.exit_code
    if result.error is not None:
        raise result.error
    for note in result.held:
        click.echo(f"{note} (warning)", err=True)
    envs = ", ".join(result.environments)
    click.echo(f"Valid: {result.rulesets} rulesets in {result.folder}/ (environments: {envs}).")
    return 0


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
) -> int:
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
    from rulesync.usecases.planning import PlanOptions
    from rulesync.usecases.planning import plan as run_plan

    options = PlanOptions(
        prune=prune, targets=targets, out=out, detailed_exitcode=detailed_exitcode
    )
    result = run_plan(ctx.obj["config_path"], ctx.obj["env_name"], options, notes=_notes)
    click.echo(_render(result.plan, fmt, list(result.refusals)), nl=False)
    if result.saved_to:
        click.echo(
            f"Saved the plan to {result.saved_to}; apply it with"
            f" `rulesync apply {result.saved_to}`.",
            err=True,
        )
    if result.error is not None:
        raise result.error
    return result.exit_code


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
) -> int:
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
    from rulesync.usecases.applying import ApplyHooks, ApplyOptions
    from rulesync.usecases.applying import apply as run_apply

    options = ApplyOptions(
        plan_file=plan_file,
        prune=prune,
        force=force,
        targets=targets,
        parallelism=parallelism,
        max_wait=max_wait,
    )
    to_stderr = fmt == "json"  # stdout is for the report
    hooks = ApplyHooks(
        show_plan=lambda plan: _show_plan(plan, to_stderr=to_stderr),
        confirm=None if yes else _confirm,
        progress=_progress,
    )
    result = run_apply(
        ctx.obj["config_path"], ctx.obj["env_name"], options, hooks=hooks, notes=_notes
    )
    report = result.report
    if report is not None and fmt == "json":
        from rulesync.reports import apply_json

        click.echo(apply_json(result.plan, report, result.requests, refused=result.refused))
    elif report is not None and not result.refused:
        if result.plan.has_changes:
            _apply_summary(report, result.requests)
        elif not result.shown:
            click.echo("No changes.")
    if result.exhausted_until is not None:
        reset = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(result.exhausted_until))
        click.echo(
            f"rate limit: the API's request budget is used up until {reset}, beyond "
            "--max-wait; the changes marked 'not sent' were not started. Run apply again "
            "after that time to finish.",
            err=True,
        )
    if result.error is not None:
        raise result.error
    return result.exit_code


def _show_plan(plan: Plan, *, to_stderr: bool) -> None:
    from rulesync.render import render_text

    color = _color(sys.stderr if to_stderr else None)
    click.echo(render_text(plan, color=color), nl=False, err=to_stderr)


def _confirm(plan: Plan) -> None:
    if not sys.stdin.isatty():
        raise ConfigError(
            "refusing to apply without confirmation: there is no terminal "
            "to ask on; pass --yes (or apply a reviewed plan file)"
        )
    click.confirm(f"Apply these changes to {plan.environment!r}?", abort=True)


@contextmanager
def _progress(total: int, requests: Callable[[], int]) -> Iterator[Callable[[Outcome], None]]:
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
            item_show_func=lambda _: f"{requests()} API requests",
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


def _apply_summary(report: Report, requests: int) -> None:
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
        f" ({requests} API requests)."
    )
    for outcome in report.failed:
        click.echo(f"  failed: {outcome.change.action} {outcome.change.name!r}: {outcome.detail}")
    for problem in report.verify_errors:
        click.echo(f"  verify: {problem}")


@main.command()
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@click.pass_context
def show(ctx: click.Context, plan_file: Path, fmt: str) -> int:
    """Render a saved plan file (from `rulesync plan --out`).

    The plan is checked against the safety rules of rulesync.yaml, so an unsafe plan is
    flagged here as it was by `plan`. Nothing is read from or written to the API.
    """
    from rulesync.usecases.planning import show as run_show

    result = run_show(ctx.obj["config_path"], plan_file, notes=_notes)
    click.echo(_render(result.plan, fmt, list(result.refusals)), nl=False)
    return result.exit_code


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
) -> int:
    """Write the live managed rulesets as YAML files, to adopt an existing org.

    Every live ruleset is written exactly once: a new file per ruleset (named after it;
    rulesets that share a name are pinned with `id: N`), or, with --overwrite, into the file
    that already declares it, changing only the values that differ from live. Files hold what
    the project's defaults do not already give, so planning right after shows `No changes.`
    Values Outreach holds but would refuse on write are kept as `{held: VALUE}`, with a warning.

    Without --overwrite or --missing-only, export refuses (writing nothing) when a file
    already declares one of the live rulesets.
    """
    from rulesync.usecases.exporting import ExportOptions
    from rulesync.usecases.exporting import export as run_export

    options = ExportOptions(
        out_dir=out_dir, overwrite=overwrite, missing_only=missing_only, targets=targets
    )
    result = run_export(ctx.obj["config_path"], ctx.obj["env_name"], options, notes=_notes)
    exported = result.exported
    for line in exported.skipped:
        click.echo(f"Skipped: {line}", err=True)
    for line in exported.warnings:
        click.echo(f"Warning: {line}", err=True)
    if result.tip_schema:
        click.echo(
            "Tip: `rulesync schema > ruleset.schema.json` lets editors check these files"
            " (their first line points there).",
            err=True,
        )
    click.echo(
        f"Exported {exported.exported} rulesets to {result.folder}/:"
        f" {exported.new_files} new"
        f" files, {exported.updated_files} updated, {exported.unchanged} already up to date;"
        f" {len(exported.skipped)} skipped, {len(exported.warnings)} warnings."
    )
    return result.exit_code


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


if __name__ == "__main__":
    main()
