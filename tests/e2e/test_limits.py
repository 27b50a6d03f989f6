"""Limits a user relies on: YAML alias bombs refused fast, one shared rate budget, --max-wait."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rulesync.auth import StaticToken
from rulesync.client import Client
from rulesync.emulator.server import EmulatorServer
from tests.helpers import Project, api_project

LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)
MERGES = (
    "l0: &l0 {a: 1, b: 2, c: 3}\n"
    + "".join(f"l{i}: &l{i} {{<<: [*l{i - 1}, *l{i - 1}]}}\n" for i in range(1, 60))
    + "name: x\n"
)


def validate_measured(project: Project) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """`rulesync validate` in a subprocess: the result, seconds, and peak memory in MB.

    The peak is the process's own VmHWM: ru_maxrss is no good here, since a child started
    from a large parent (a long pytest run) inherits the parent's high-water mark."""
    probe = project.root / "rss.txt"
    code = (
        "import atexit\n"
        "def peak():\n"
        "    with open('/proc/self/status') as status:\n"
        "        kib = next(int(l.split()[1]) for l in status if l.startswith('VmHWM:'))\n"
        f"    open({str(probe)!r}, 'w').write(str(kib))\n"
        "atexit.register(peak)\n"
        "from rulesync.cli import main\n"
        "main(['validate'])\n"
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    elapsed = time.monotonic() - started
    return done, elapsed, int(probe.read_text()) // 1024


@pytest.mark.parametrize("bomb", ["laughs", "merges"])
@pytest.mark.parametrize("where", ["ruleset", "config"])
def test_yaml_alias_bombs_are_refused_quickly_with_a_location(
    bomb: str, where: str, tmp_path: Path
) -> None:
    """Billion laughs (aliases of aliases) and merge keys (``<<: [*a, *a]`` doubling each
    level) expand exponentially; refused before anything walks them."""
    text = LAUGHS if bomb == "laughs" else MERGES
    project = Project(tmp_path)
    project.write("rulesync.yaml", "rulesets_dir: rulesets\n")
    project.ruleset("Fine")
    if where == "ruleset":
        project.write("rulesets/bomb.yaml", text)
        shown = "rulesets/bomb.yaml"
    else:
        project.write("rulesync.yaml", "rulesets_dir: rulesets\n" + text)
        shown = "rulesync.yaml"
    done, elapsed, peak_mb = validate_measured(project)
    assert done.returncode == 1, done.stderr
    assert f"{shown}:" in done.stderr and "aliases in this file expand" in done.stderr
    assert "Traceback" not in done.stderr
    assert elapsed < 20  # a process start; the bomb itself would take hours
    assert peak_mb < 300


def test_a_one_megabyte_file_of_aliases_is_validated_fast(tmp_path: Path) -> None:
    """The cap is per file: many small documents each just under any per-document bound
    cannot add up to a blow-up."""
    doc = (
        "name: R{i}\ndescription: &d {{a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}}\nx: [*d, *d, *d]\n---\n"
    )
    text = "".join(doc.format(i=i) for i in range(20_000))
    assert len(text) > 1_000_000
    project = Project(tmp_path)
    project.write("rulesync.yaml", "rulesets_dir: rulesets\n")
    project.write("rulesets/big.yaml", text)
    done, elapsed, peak_mb = validate_measured(project)
    assert done.returncode == 1
    assert "aliases in this file expand" in done.stderr
    assert elapsed < 20
    assert peak_mb < 400


# ---- one rate budget -------------------------------------------------------------------------


def body(name: str) -> dict[str, Any]:
    return {"type": "ruleset", "attributes": {"name": name}}


@pytest.mark.parametrize("threads", [1, 8])
def test_one_budget_for_all_threads_keeps_429s_away(threads: int, emulator: Any) -> None:
    """outreach-rate-limits.yml: X-RateLimit-Remaining / X-RateLimit-Reset on every answer
    (header_coverage). Eight threads under a limit of 15 a second see almost no 429."""
    from tests.conftest import Api

    Api(emulator).faults(rate_limit={"limit": 15, "window_s": 1})
    client = Client(emulator.api_url, StaticToken(emulator.token, origin="t"), parallelism=threads)
    names = [f"R{i}" for i in range(45)]
    started = time.monotonic()

    def work(share: list[str]) -> None:
        for name in share:
            client.create("rulesets", body(name))

    workers = [threading.Thread(target=work, args=(names[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    rejected = client.requests - len(names)  # every 429 costs one more attempt
    assert rejected <= 1, rejected
    assert elapsed < 6  # 45 at 15 a second is 3 s of windows; the old pacing took far longer


def test_apply_past_max_wait_stops_and_says_when_the_budget_resets(tmp_path: Path) -> None:
    """outreach-rate-limits.yml (REST API default: 10,000 an hour; window: hour): a budget
    that resets in an hour is not waited for past --max-wait."""
    with EmulatorServer(token="t") as server:
        project, org = api_project(tmp_path, server)
        for i in range(8):
            project.ruleset(f"R{i}")
        org.faults(rate_limit={"limit": 6, "window_s": 3600})
        started = time.monotonic()
        result = project.run("apply", "--yes", "--max-wait", "2s", "--parallelism", "2")
        elapsed = time.monotonic() - started
        org.faults()
        created = org.names()
    assert result.exit_code == 4, result.output
    assert elapsed < 10
    # the plan's reads, then creates until the budget of six is used; the rest not sent
    assert 0 < len(created) < 6
    failed = [line for line in result.stdout.splitlines() if line.startswith("  failed: create")]
    assert len(failed) == 8 - len(created)
    assert all("not sent: the API's rate limit is used up until" in line for line in failed)
    assert "longer than --max-wait (2 s)" in failed[0]
    assert "request budget is used up until" in result.stderr
    assert "Run apply again after that time" in result.stderr
