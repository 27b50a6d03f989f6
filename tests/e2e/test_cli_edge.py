"""The CLI's edge: one error boundary, exit codes, --debug/--verbose, redaction, encoding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rulesync.cli import main
from rulesync.emulator.server import EmulatorServer
from tests.e2e.test_plan_speed_paths import modules_after
from tests.helpers import Project, api_project, cwd
from tests.hostile import Hostile, Reply, Seen, page

TOKEN = "hostile-test-token-42"


def hostile_project(root: Path, server: Hostile) -> Project:
    project = Project(root, env={"RULESYNC_TEST_TOKEN": TOKEN})
    project.write(
        "rulesync.yaml",
        f"""\
        default_environment: test
        environments:
          test:
            api_url: {server.api_url}
            auth: {{access_token_env: RULESYNC_TEST_TOKEN}}
        """,
    )
    project.ruleset("Keep")
    return project


def rulesync(project: Project, *args: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    """The installed CLI in a subprocess: real streams, real encodings."""
    return subprocess.run(
        [sys.executable, "-m", "rulesync", *args],
        cwd=project.root,
        env={**os.environ, **project.env, **env},
        capture_output=True,
        timeout=120,
    )


# ---- exit codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "--bogus"],
        ["show"],
        ["nosuch"],
        ["apply", "--parallelism", "0"],
        ["apply", "--max-wait", "soon"],
        ["plan", "--format", "yaml"],
    ],
)
def test_usage_errors_exit_1_never_2(args: list[str], tmp_path: Path) -> None:
    """2 means "changes" under --detailed-exitcode (SPEC §10): a CI script branches on it."""
    result = Project(tmp_path).run(*args)
    assert result.exit_code == 1, result.output
    assert "Error" in result.stderr


def test_usage_error_exit_code_from_the_real_entry_point(tmp_path: Path) -> None:
    done = rulesync(Project(tmp_path), "plan", "--no-such-option")
    assert done.returncode == 1
    assert b"No such option" in done.stderr


def test_help_still_exits_0(tmp_path: Path) -> None:
    result = Project(tmp_path).run("apply", "--help")
    assert result.exit_code == 0
    assert "--max-wait" in result.stdout


def test_the_emulator_command_is_loaded_only_when_asked_for(tmp_path: Path) -> None:
    """Its own command line is imported by `rulesync emulator ...` and listed by --help, never
    loaded by validate (which starts faster without it)."""
    project = Project(tmp_path)
    project.ruleset("Inbound", "includeUnsubscribeLinks: true\n")
    assert "rulesync.emulator.cli" not in modules_after("validate", tmp_path)
    assert "rulesync.emulator.cli" in modules_after("emulator serve --help", tmp_path)
    listed = project.run("--help")
    assert listed.exit_code == 0
    assert "  emulator  The built-in Outreach-compatible API server" in listed.stdout
    typo = project.run("emulatr")
    assert typo.exit_code == 1
    assert "No such command 'emulatr'. Did you mean 'emulator'?" in typo.stderr
    listing = listed.stdout.split("Commands:\n")[1].splitlines()
    assert [line.split()[0] for line in listing if line.startswith("  ")] == [
        "apply",
        "emulator",
        "export",
        "plan",
        "schema",
        "show",
        "validate",
    ]


def _broken_dumps(*args: Any, **kwargs: Any) -> str:
    raise RuntimeError("boom\nsecond line")


def test_an_unexpected_error_is_one_line_and_exit_1(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(json, "dumps", _broken_dumps)  # the standard library fails, not us
    result = Project(tmp_path).run("schema")
    assert result.exit_code == 1
    assert result.stderr == (
        "internal error: RuntimeError: boom; run with --debug for the traceback\n"
    )
    debug = Project(tmp_path).run("--debug", "schema")
    assert debug.exit_code == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "_broken_dumps" in debug.stderr


# ---- logging and redaction -----------------------------------------------------------------


def test_verbose_logs_each_request_without_the_token(tmp_path: Path) -> None:
    with EmulatorServer(token=TOKEN) as server:
        project, _ = api_project(tmp_path, server)
        project.env["RULESYNC_TEST_TOKEN"] = TOKEN
        project.ruleset("Inbound")
        result = project.run("-v", "plan")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("GET ")]
    assert lines and " -> 200 in " in lines[0] and "/api/v2/rulesets" in lines[0]
    assert TOKEN not in result.stderr + result.stdout
    quiet = project.run("plan")
    assert not [line for line in quiet.stderr.splitlines() if line.startswith("GET ")]


def test_a_server_echoing_the_token_cannot_make_us_print_it(tmp_path: Path) -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        echoed = seen.headers.get("Authorization", "")
        detail = f"token {echoed.split()[-1]} is invalid; header was {echoed}"
        return Reply(422, {"errors": [{"id": "validationError", "detail": detail}]})

    with Hostile(api) as server:
        project = hostile_project(tmp_path, server)
        result = project.run("-v", "plan")
    assert result.exit_code == 1
    assert TOKEN not in result.stderr + result.stdout
    assert "token *** is invalid; header was Bearer ***" in result.stderr


def test_a_token_with_a_line_break_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with Hostile(lambda h, s, r: page([])) as server:
        project = hostile_project(tmp_path, server)
        project.env["RULESYNC_TEST_TOKEN"] = "abc\r\nX-Evil: yes"
        result = project.run("plan")
        assert server.seen == []
    assert result.exit_code == 1
    assert "$RULESYNC_TEST_TOKEN" in result.stderr
    assert "X-Evil" not in result.stderr


def test_rate_limit_waits_show_on_stderr_at_the_default_level(tmp_path: Path) -> None:
    """outreach-rate-limits.yml: 429 with Retry-After; the wait is visible to an operator."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if len(h.seen) == 1:
            return Reply(429, {"errors": [{"id": "rateLimitExceeded"}]}, {"Retry-After": "1"})
        return page([])

    with Hostile(api) as server:
        result = hostile_project(tmp_path, server).run("plan")
    assert result.exit_code == 0, result.output
    assert "rate limit: waiting 1 s, until " in result.stderr


# ---- encodings -----------------------------------------------------------------------------

BROKEN = (
    b'{"data": [{"type": "ruleset", "id": 7, "attributes": {"name": '
    b'"Bad \\ud800 name \\u2192 \\ud83d\\ude80"}, "relationships": {}}, '
    b'{"type": "ruleset", "id": 8, "attributes": {"name": "Keep"}, "relationships": {}}], '
    b'"links": {}}'
)


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_broken_unicode_prints_on_a_cp1252_pipe(fmt: str, tmp_path: Path) -> None:
    """Live names are data: a lone surrogate and characters cp1252 lacks, printed to a pipe
    whose encoding is cp1252 (a Windows console), and saved in a plan file."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(200, BROKEN) if seen.path.endswith("/rulesets") else page([])

    with Hostile(api) as server:
        project = hostile_project(tmp_path, server)
        done = rulesync(
            project,
            "plan",
            "--prune",
            "--format",
            fmt,
            "--out",
            "p.json",
            PYTHONIOENCODING="cp1252",
        )
    assert done.returncode == 0, done.stderr
    out = done.stdout.decode("cp1252")
    # what cp1252 cannot show is replaced (the lone surrogate is escaped or replaced), no crash
    assert "Bad " in out and " name ? ?" in out
    assert b"Traceback" not in done.stderr
    saved = (project.root / "p.json").read_text(encoding="utf-8")
    assert "Bad \\ud800 name \u2192 \U0001f680" in saved  # the JSON escape: reads back exactly
    shown = rulesync(project, "show", "p.json", "--format", fmt, PYTHONIOENCODING="cp1252")
    assert shown.returncode == 0, shown.stderr
    assert " name ? ?" in shown.stdout.decode("cp1252")


def test_output_survives_an_ascii_only_terminal(tmp_path: Path) -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(200, BROKEN) if seen.path.endswith("/rulesets") else page([])

    with Hostile(api) as server:
        project = hostile_project(tmp_path, server)
        done = rulesync(project, "plan", "--prune", PYTHONIOENCODING="ascii")
    assert done.returncode == 0, done.stderr
    done.stdout.decode("ascii")  # nothing but ASCII reached the pipe


def test_runner_streams_get_replacement_characters_too(tmp_path: Path) -> None:
    runner = CliRunner()
    with Hostile(
        lambda h, s, r: Reply(200, BROKEN) if s.path.endswith("/rulesets") else page([])
    ) as server:
        project = hostile_project(tmp_path, server)
        with cwd(project.root):
            result = runner.invoke(main, ["plan", "--prune"], env=project.env)
    assert result.exit_code == 0, result.output
    assert " name \u2192 \U0001f680" in result.stdout
