"""``rulesync emulator serve`` as a real subprocess."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

LISTENING = re.compile(r"^Listening on (http://127\.0\.0\.1:(\d+)/api/v2)$")


def rulesync_command() -> list[str]:
    script = Path(sys.executable).with_name("rulesync")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from rulesync.cli import main; main()"]


class Serve:
    """A running ``rulesync emulator serve``; stdout lines arrive through a queue so reads
    can time out instead of hanging the suite."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [*rulesync_command(), "emulator", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self) -> str:
        return self.lines.get(timeout=20)

    def stop(self, signum: int = signal.SIGTERM) -> tuple[int, str]:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=20)
        assert self.process.stderr is not None
        return code, self.process.stderr.read()


@pytest.fixture
def serve() -> Iterator[type[Serve]]:
    started: list[Serve] = []

    class Tracked(Serve):
        def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
            super().__init__(*args, env=env)
            started.append(self)

    yield Tracked
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=10)


def test_serve_prints_url_and_token_answers_and_stops_on_sigterm(serve: type[Serve]) -> None:
    server = serve("--port", "0", env={"RULESYNC_EMULATOR_TOKEN": ""})
    match = LISTENING.match(server.line())
    assert match, "first line must be the Listening line"
    api_url = match.group(1)
    token_line = server.line()
    assert token_line.startswith("Token: ")
    token = token_line.removeprefix("Token: ")
    assert requests.get(f"{api_url}/stages", timeout=5).status_code == 401
    response = requests.get(
        f"{api_url}/stages", headers={"Authorization": f"Bearer {token}"}, timeout=5
    )
    assert response.status_code == 200 and len(response.json()["data"]) == 8
    code, stderr = server.stop(signal.SIGTERM)
    assert code == 0
    assert "Traceback" not in stderr and token not in stderr


def test_serve_with_env_token_db_and_ctrl_c(serve: type[Serve], tmp_path: Path) -> None:
    db = tmp_path / "dir" / "emulator.sqlite"
    server = serve("--port", "0", "--db", str(db), env={"RULESYNC_EMULATOR_TOKEN": "dev"})
    match = LISTENING.match(server.line())
    assert match
    response = requests.post(
        f"{match.group(1)}/rulesets",
        data='{"data": {"type": "ruleset", "attributes": {"name": "From curl"}}}',
        headers={"Authorization": "Bearer dev", "Content-Type": "application/vnd.api+json"},
        timeout=5,
    )
    assert response.status_code == 201
    code, stderr = server.stop(signal.SIGINT)
    assert code == 0 and "Traceback" not in stderr
    assert server.lines.empty()  # no Token line: the token came from the environment
    assert db.exists()


def test_bad_seed_is_one_error_line_and_exit_1(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text("rulesets: [{attributes: {nam: typo}}]\n")
    result = subprocess.run(
        [*rulesync_command(), "emulator", "serve", "--port", "0", "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown attribute 'nam'" in lines[0] and str(seed) in lines[0]


def test_serve_with_scopes_and_oauth(serve: type[Serve]) -> None:
    server = serve(
        "--port",
        "0",
        "--token",
        "dev",
        "--scopes",
        "rulesets.read stages.read",
        "--oauth-client-id",
        "cid",
        "--oauth-client-secret",
        "sec",
        "--oauth-refresh-token",
        "r0",
    )
    match = LISTENING.match(server.line())
    assert match
    api_url = match.group(1)
    auth = {"Authorization": "Bearer dev"}
    assert requests.get(f"{api_url}/rulesets", headers=auth, timeout=5).status_code == 200
    refused = requests.get(f"{api_url}/users", headers=auth, timeout=5)
    assert refused.status_code == 403 and "'users.read'" in refused.text
    root = api_url.removesuffix("/api/v2")
    form = {
        "grant_type": "refresh_token",
        "client_id": "cid",
        "client_secret": "sec",
        "refresh_token": "r0",
        "redirect_uri": "https://example.com/callback",
    }
    minted = requests.post(f"{root}/oauth/token", data=form, timeout=5).json()
    assert minted["scope"] == "rulesets.read stages.read"
    bearer = {"Authorization": f"Bearer {minted['access_token']}"}
    assert requests.get(f"{api_url}/stages", headers=bearer, timeout=5).status_code == 200
    code, stderr = server.stop(signal.SIGTERM)
    assert code == 0 and "Traceback" not in stderr and minted["access_token"] not in stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--scopes", "rulesets"], "--scopes"),
        (["--oauth-client-id", "cid"], "go together"),
    ],
)
def test_bad_serve_options_are_one_error_and_exit_1(args: list[str], expected: str) -> None:
    result = subprocess.run(
        [*rulesync_command(), "emulator", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode in (1, 2)  # the CLI maps usage errors (2 in click) to 1
    assert expected in result.stderr and "Traceback" not in result.stderr


def test_a_locked_embedded_database_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    import sqlite3

    (tmp_path / "rulesets").mkdir()
    (tmp_path / "rulesets" / "a.yaml").write_text("name: A\n", encoding="utf-8")
    state = tmp_path / ".rulesync"
    state.mkdir()
    holder = sqlite3.connect(state / "local.sqlite", timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE other (x)")
    try:
        result = subprocess.run(
            [*rulesync_command(), "plan"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    finally:
        holder.rollback()
        holder.close()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "database is locked" in result.stderr and len(result.stderr.strip().splitlines()) == 1
