"""The plan's core loads no YAML, pydantic, HTTP or terminal library, checked in a fresh
interpreter (lint-imports checks the same from the source, in .ci/run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CORE = [
    "rulesync.api",
    "rulesync.applier",
    "rulesync.desired",
    "rulesync.documents",
    "rulesync.duplicates",
    "rulesync.live",
    "rulesync.planner",
    "rulesync.references",
    "rulesync.render",
    "rulesync.safety",
    "rulesync.sequences",
    "rulesync.suggest",
]
IO_LIBRARIES = {"yaml", "pydantic", "requests", "urllib3", "click", "ruamel"}


def test_importing_the_core_loads_no_io_library() -> None:
    code = (
        "import json, sys\n"
        f"for name in {CORE!r}:\n"
        "    __import__(name)\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {IO_LIBRARIES!r})))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout) == []


def test_every_module_is_placed_in_the_http_and_terminal_contracts() -> None:
    """The contracts name modules one by one: a new module must be placed in them (in
    pyproject.toml), or nothing would check what it imports."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - mypy's own dependency on Python 3.10
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

    root = Path(__file__).resolve().parents[2]
    contracts = {
        c["name"]: c
        for c in tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"][
            "contracts"
        ]
    }
    engine = root / "engine"
    modules = {f"rulesync.{p.stem}" for p in engine.glob("*.py") if p.stem != "__init__"}
    modules |= {f"rulesync.{p.parent.name}" for p in engine.glob("*/__init__.py")}
    http = contracts["Only the client speaks HTTP"]["source_modules"]
    assembling = contracts["Who assembles the client does not speak HTTP itself"]
    allowed_http = {"rulesync.client", "rulesync.deadline"}
    assert modules - allowed_http == set(http) | set(assembling["source_modules"])
    terminal = contracts["Only the command line prints through click"]["source_modules"]
    assert modules - {"rulesync.cli", "rulesync.__main__", "rulesync.emulator"} == set(terminal)
