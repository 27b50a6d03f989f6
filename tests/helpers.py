"""Small helpers shared by the tests: a project on disk, run through the real CLI."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner, Result

from engine.cli import main


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

    def run(self, *args: str, input: str | None = None) -> Result:
        """`rulesync ARGS` in the project's folder; exceptions are not swallowed."""
        with cwd(self.root):
            return CliRunner().invoke(
                main, list(args), input=input, env=self.env, catch_exceptions=False
            )
