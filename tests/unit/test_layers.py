"""The plan's core loads no YAML, pydantic, HTTP or terminal library, checked in a fresh
interpreter (lint-imports checks the same from the source, in .ci/run)."""

from __future__ import annotations

import json
import subprocess
import sys

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
