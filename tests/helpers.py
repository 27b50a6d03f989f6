"""Small helpers shared by the tests: a project on disk, run through the real CLI."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from rulesync.cli import main
from rulesync.emulator.server import EmulatorServer


@contextmanager
def cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@dataclass
class Project:
    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def write(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    def ruleset(self, name: str, body: str = "", *, file: str | None = None) -> Path:
        stem = file or name.lower().replace(" ", "-")
        return self.write(f"rulesets/{stem}.yaml", f"name: {name}\n" + textwrap.dedent(body))

    def configure(self, text: str) -> None:
        """Add settings to the project's rulesync.yaml."""
        config = self.root / "rulesync.yaml"
        config.write_text(config.read_text(encoding="utf-8") + textwrap.dedent(text))

    def run(self, *args: str, input: str | None = None) -> Result:
        """`rulesync ARGS` in the project's folder; exceptions are not swallowed."""
        with cwd(self.root):
            return CliRunner().invoke(
                main, list(args), input=input, env=self.env, catch_exceptions=False
            )


JSONAPI = "application/vnd.api+json"


class Org:
    """Direct access to an emulator, as a person clicking in the Outreach UI would change it."""

    def __init__(self, url: str, api_url: str, token: str) -> None:
        import requests

        self.url, self.api_url, self.token = url, api_url, token
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Content-Type": JSONAPI})

    def create(self, name: str | None, **fields: object) -> int:
        attributes: dict[str, object] = {"name": name}
        relationships: dict[str, object] = {}
        for key, value in fields.items():
            if isinstance(value, tuple):  # (type, id) for a relationship
                relationships[key] = {"data": {"type": value[0], "id": value[1]}}
            else:
                attributes[key] = value
        response = self.http.post(
            f"{self.api_url}/rulesets",
            json={
                "data": {
                    "type": "ruleset",
                    "attributes": attributes,
                    "relationships": relationships,
                }
            },
        )
        assert response.status_code == 201, response.text
        return int(response.json()["data"]["id"])

    def update(self, rid: int, **attributes: object) -> None:
        response = self.http.patch(
            f"{self.api_url}/rulesets/{rid}",
            json={"data": {"type": "ruleset", "id": rid, "attributes": attributes}},
        )
        assert response.status_code == 200, response.text

    def rulesets(self) -> list[dict[str, object]]:
        items: list[dict[str, object]] = []
        url: str | None = f"{self.api_url}/rulesets?page[size]=1000"
        while url:
            body = self.http.get(url).json()
            items.extend(body["data"])
            url = body.get("links", {}).get("next")
        return items

    def by_name(self) -> dict[str, dict[str, object]]:
        return {r["attributes"]["name"]: r for r in self.rulesets()}  # type: ignore[index]

    def names(self) -> list[str]:
        return sorted(str(r["attributes"]["name"]) for r in self.rulesets())  # type: ignore[index]

    def stats(self) -> dict[str, Any]:
        return dict(self.http.get(f"{self.url}/_emulator/stats").json())

    def writes(self) -> int:
        return int(self.stats()["writes"])

    def route(self, route: str) -> int:
        return int(self.stats()["by_route"].get(route, 0))

    def faults(self, **faults: object) -> None:
        response = self.http.post(f"{self.url}/_emulator/faults", json=faults)
        assert response.status_code < 300, response.text


def api_project(
    root: Path, server: EmulatorServer, *, through: str | None = None
) -> tuple[Project, Org]:
    """A project whose `test` environment is the given emulator (or ``through``: a proxy in
    front of it), with its token in env; the Org talks to the emulator directly."""
    url, api_url, token = server.url, server.api_url, server.token
    project = Project(root, env={"RULESYNC_TEST_TOKEN": token})
    project.write(
        "rulesync.yaml",
        f"""\
        default_environment: test
        environments:
          test:
            api_url: {through or api_url}
            auth: {{access_token_env: RULESYNC_TEST_TOKEN}}
        """,
    )
    return project, Org(url, api_url, token)


def run_on_terminal(
    project: Project,
    *args: str,
    extra_env: dict[str, str] | None = None,
    prompt: bytes = b"",
    answer: bytes = b"",
) -> tuple[str, int]:
    """Run rulesync on a pseudo-terminal, as a person would: answer ``prompt`` with ``answer``.
    Returns what the terminal showed and the exit code."""
    import pty
    import sys
    import time

    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env.update(project.env, **(extra_env or {}))
    pid, fd = pty.fork()
    if pid == 0:  # the child: rulesync on the terminal
        os.chdir(project.root)
        os.execve(sys.executable, [sys.executable, "-m", "rulesync", *args], env)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if prompt and prompt in output:
            os.write(fd, answer)
            prompt = b""
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return output.decode(), os.waitstatus_to_exitcode(status)
