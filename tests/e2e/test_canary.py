"""Secrets never leak: every command runs with canary credentials, and the canaries must not
appear in stdout, stderr, plan files, exported files, .rulesync/ or anything else written.
The installed CLI runs as a subprocess, as CI runs it."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from rulesync.emulator.server import EmulatorServer

TOKEN_ENV = "RULESYNC_CANARY_TOKEN"


def canary(kind: str) -> str:
    return f"canary-{kind}-{secrets.token_hex(12)}"


@dataclass
class Runs:
    root: Path
    env: dict[str, str]
    outputs: list[str] = field(default_factory=list)

    def __call__(self, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "rulesync", *args],
            cwd=self.root,
            env={**os.environ, "NO_COLOR": "1", **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        self.outputs += [result.stdout, result.stderr]
        assert result.returncode == expect, f"{args}: {result.stdout}{result.stderr}"
        return result


def assert_nowhere(values: list[str], *, outputs: list[str], roots: list[Path]) -> None:
    """No value in any output, nor in any file under the roots (names included)."""
    for value in values:
        for text in outputs:
            assert value not in text, f"a secret appears in the output:\n{text}"
        for root in roots:
            for path in root.rglob("*"):
                assert value not in str(path), f"a secret appears in the path {path}"
                if path.is_file():
                    assert value.encode() not in path.read_bytes(), f"a secret appears in {path}"


def write_project(root: Path, api_url: str, auth: str) -> None:
    (root / "rulesets").mkdir(parents=True)
    (root / "rulesync.yaml").write_text(
        "default_environment: canary\n"
        "safety: {max_change_percent: 100, min_existing: 0}\n"
        "environments:\n"
        "  canary:\n"
        f"    api_url: {api_url}\n"
        f"    auth: {auth}\n"
        "  local:\n"
        "    api_url: embedded\n",
        encoding="utf-8",
    )
    (root / "rulesets" / "inbound.yaml").write_text(
        "name: Inbound leads\nincludeUnsubscribeLinks: true\nstartedStage: Approaching\n"
        "owner: revops@example.com\nautoResumeOotoProspectsIn: 3d\n",
        encoding="utf-8",
    )
    (root / "rulesets" / "bad.yaml").write_text(
        "name: Broken\nstartedStage: {id: 999}\n", encoding="utf-8"
    )


@pytest.fixture
def static_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(token=canary("token")) as server:
        yield server


@pytest.mark.timeout(120)
def test_bearer_token_appears_nowhere(tmp_path: Path, static_server: EmulatorServer) -> None:
    token, wrong = static_server.token, canary("wrong")
    project = tmp_path / "project"
    write_project(project, static_server.api_url, f"{{access_token_env: {TOKEN_ENV}}}")
    run = Runs(project, {TOKEN_ENV: token})
    run("validate")
    # the stage id does not exist in the org: found at plan time, located, exit 1
    run("plan", expect=1)
    (project / "rulesets" / "bad.yaml").unlink()
    run("plan")
    run("plan", "--format", "markdown", "--detailed-exitcode", expect=2)
    run("plan", "--out", "plan.json", "--format", "json")
    run("show", "plan.json")
    run("show", "plan.json", "--format", "markdown")
    run("apply", "plan.json")
    run("apply", "--yes", "--prune")
    run("export", "--out-dir", "exported")
    # a flaky API: retries and lost answers log warnings on stderr
    faults = requests.Session()
    faults.headers["Authorization"] = f"Bearer {token}"
    (project / "rulesets" / "more.yaml").write_text("name: More\n", encoding="utf-8")
    faults.post(
        f"{static_server.url}/_emulator/faults",
        json={"error_rate": 0.3, "drop_after_commit_rate": 0.3, "seed": 1},
        timeout=10,
    ).raise_for_status()
    run("apply", "--yes")
    faults.post(f"{static_server.url}/_emulator/faults", json={}, timeout=10).raise_for_status()
    # the embedded emulator makes its own one-off token and .rulesync/ state
    run("--env", "local", "apply", "--yes")
    assert (project / ".rulesync").is_dir()
    # a wrong token: one clear error, neither token shown
    run.env[TOKEN_ENV] = wrong
    failed = run("apply", "--yes", expect=1)
    assert "401" in failed.stderr and "token" in failed.stderr
    run("plan", expect=1)
    run("export", "--out-dir", "exported-again", expect=1)

    saved = json.loads((project / "plan.json").read_text())
    assert saved["api_url"] == static_server.api_url  # the plan file was really written
    assert list((project / "exported").glob("*.yaml"))
    assert_nowhere([token, wrong], outputs=run.outputs, roots=[tmp_path])


@dataclass
class OAuthOrg:
    server: EmulatorServer
    client_id: str
    secret: str
    refresh: str

    def access_tokens(self) -> list[str]:
        """What the emulator minted (read from its state, since only the client saw them)."""
        return list(self.server.app.oauth._access_tokens)


@pytest.fixture
def oauth_org() -> Iterator[OAuthOrg]:
    client_id, secret, refresh = canary("client"), canary("secret"), canary("refresh")
    with EmulatorServer(
        token=canary("unused"),
        oauth_client_id=client_id,
        oauth_client_secret=secret,
        oauth_refresh_token=refresh,
        oauth_mint_interval_s=0,
    ) as server:
        yield OAuthOrg(server, client_id, secret, refresh)


def oauth_project(root: Path, org: OAuthOrg, out: Path) -> Runs:
    auth = (
        "{client_id_env: RS_CLIENT_ID, client_secret_env: RS_CLIENT_SECRET, "
        f"refresh_token_env: RS_REFRESH_TOKEN, token_url: '{org.server.url}/oauth/token'}}"
    )
    write_project(root, org.server.api_url, auth)
    (root / "rulesets" / "bad.yaml").unlink()
    return Runs(
        root,
        {
            "RS_CLIENT_ID": org.client_id,
            "RS_CLIENT_SECRET": org.secret,
            "RS_REFRESH_TOKEN": org.refresh,
            "RULESYNC_REFRESH_TOKEN_OUT": str(out),
        },
    )


@pytest.mark.timeout(120)
def test_oauth_rotated_refresh_token_goes_to_its_file_only(
    tmp_path: Path, oauth_org: OAuthOrg
) -> None:
    out = tmp_path / "secrets" / "refresh-token"
    project = tmp_path / "project"
    run = oauth_project(project, oauth_org, out)
    run("plan", "--out", "plan.json")
    rotated = out.read_text(encoding="utf-8").strip()
    assert rotated and rotated != oauth_org.refresh
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    # the rotated token works for the next run, which rotates it again
    run.env["RS_REFRESH_TOKEN"] = rotated
    run("apply", "plan.json")
    newest = out.read_text(encoding="utf-8").strip()
    assert newest not in (rotated, oauth_org.refresh)
    # a refresh token the server does not know (revoked, or too old: Outreach keeps earlier
    # ones valid for 14 days) is refused with a clear message that shows none of the secrets
    revoked = canary("revoked")
    run.env["RS_REFRESH_TOKEN"] = revoked
    refused = run("plan", expect=1)
    assert "refresh" in refused.stderr and "Traceback" not in refused.stderr
    assert out.read_text(encoding="utf-8").strip() == newest  # left as it was

    minted = oauth_org.access_tokens()
    assert len(minted) == 2
    secrets_seen = [oauth_org.secret, oauth_org.refresh, rotated, newest, revoked, *minted]
    assert_nowhere(secrets_seen, outputs=run.outputs, roots=[project])
    others = [p for p in tmp_path.rglob("*") if p.is_file() and p != out]
    for path in others:
        for value in secrets_seen:
            assert value.encode() not in path.read_bytes(), f"a secret appears in {path}"


@pytest.mark.timeout(60)
def test_oauth_without_out_file_stores_nothing(tmp_path: Path, oauth_org: OAuthOrg) -> None:
    project = tmp_path / "project"
    run = oauth_project(project, oauth_org, tmp_path / "unused")
    del run.env["RULESYNC_REFRESH_TOKEN_OUT"]
    run("plan")
    minted = oauth_org.access_tokens()
    assert len(minted) == 1
    rotated = oauth_org.server.app.oauth.latest_refresh_token
    assert rotated and rotated != oauth_org.refresh
    assert_nowhere(
        [oauth_org.secret, oauth_org.refresh, rotated, *minted],
        outputs=run.outputs,
        roots=[tmp_path],
    )
    assert not (tmp_path / "unused").exists()


@pytest.mark.timeout(60)
def test_rotated_token_file_is_private_even_when_it_existed(
    tmp_path: Path, oauth_org: OAuthOrg
) -> None:
    out = tmp_path / "refresh-token"
    out.write_text("placeholder\n", encoding="utf-8")  # as a CI step's `touch` leaves it
    out.chmod(0o644)
    run = oauth_project(tmp_path / "project", oauth_org, out)
    run("plan")
    assert out.read_text(encoding="utf-8").strip() not in ("placeholder", oauth_org.refresh)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
