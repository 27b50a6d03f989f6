"""Benchmark: rate pacing under a tight limit, at --parallelism 1 and 8.

    python tests/perf/pacing.py                           # limit 100 per 10 s, 400 creates
    python tests/perf/pacing.py --limit 50 --window 5 --rulesets 200 --parallelism 1,4,8

An emulator (in this process, on loopback) enforces the limit with its ``rate_limit`` fault;
the real CLI applies a project of N new rulesets against it as a subprocess. Printed per
parallelism: requests the API rejected with 429, wall time, the least time the limit allows
for the requests that succeeded, and the achieved rate against the allowed one.

The emulator's window opens at the first request after the previous one closed and reports
its reset in whole seconds (as Outreach does), so a client that waits for the reported reset
loses up to a second a window; use windows of 10 s or more to keep that below ~10%.
A benchmark prints figures; it is not a timed test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from rulesync.emulator.server import EmulatorServer  # noqa: E402

TOKEN_ENV = "RULESYNC_BENCH_TOKEN"


def _project(root: Path, api_url: str, count: int) -> None:
    (root / "rulesets").mkdir(parents=True)
    for i in range(count):
        (root / "rulesets" / f"r{i:05d}.yaml").write_text(f"name: Paced {i:05d}\n")
    (root / "rulesync.yaml").write_text(
        "default_environment: bench\n"
        "safety: {max_change_percent: 100, min_existing: 1000000}\n"
        "environments:\n"
        f"  bench:\n    api_url: {api_url}\n    auth: {{access_token_env: {TOKEN_ENV}}}\n"
    )


def _control(server: EmulatorServer, path: str, body: Any = None) -> Any:
    method = "GET" if body is None else "POST"
    response = requests.request(
        method,
        f"{server.url}/_emulator/{path}",
        json=body,
        headers={"Authorization": f"Bearer {server.token}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def run(parallelism: int, *, limit: int, window: int, count: int, verbose: bool) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmulatorServer(token="bench-token", db_path=Path(tmp) / "bench.sqlite") as server,
    ):
        root = Path(tmp) / "project"
        _project(root, server.api_url, count)
        _control(server, "faults", {"rate_limit": {"limit": limit, "window_s": window}})
        env = {**os.environ, TOKEN_ENV: server.token}
        args = [sys.executable, "-m", "rulesync"]
        args += ["-v"] if verbose else []
        args += ["apply", "--yes", "--parallelism", str(parallelism)]
        started = time.monotonic()
        done = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        stats = _control(server, "stats")
        _control(server, "faults", {})
        created = len(
            requests.get(
                f"{server.api_url}/rulesets",
                params={"page[size]": "1000"},
                headers={"Authorization": f"Bearer {server.token}"},
                timeout=10,
            ).json()["data"]
        )
    posts = int(stats["by_route"].get("POST /api/v2/rulesets", 0))
    total = int(stats["total"])
    rejected_posts = posts - created
    logged_429 = done.stderr.count("-> 429") if verbose else None
    # every request but the rejected ones succeeded; fixed windows of `limit` each
    succeeded = total - (logged_429 if logged_429 is not None else rejected_posts)
    least = (math.ceil(succeeded / limit) - 1) * window
    return {
        "parallelism": parallelism,
        "exit_code": done.returncode,
        "created": created,
        "requests": total,
        "rejected_429": logged_429 if logged_429 is not None else f">= {rejected_posts}",
        "rejected_share": round((total - succeeded) / total, 3) if total else 0,
        "elapsed_s": round(elapsed, 1),
        "least_time_the_limit_allows_s": least,
        "time_over_least": round(elapsed / least - 1, 3) if least else None,
        "achieved_rate_per_s": round(succeeded / elapsed, 2),
        "allowed_rate_per_s": round(limit / window, 2),
        "stderr_tail": done.stderr.strip().splitlines()[-1:] if done.returncode else [],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--rulesets", type=int, default=400)
    parser.add_argument("--parallelism", default="1,8")
    parser.add_argument(
        "--no-verbose",
        action="store_true",
        help="For a rulesync without -v: count rejections from the server's POST count.",
    )
    options = parser.parse_args()
    results = [
        run(
            int(p),
            limit=options.limit,
            window=options.window,
            count=options.rulesets,
            verbose=not options.no_verbose,
        )
        for p in options.parallelism.split(",")
    ]
    setup = {"limit": options.limit, "window_s": options.window, "rulesets": options.rulesets}
    print(json.dumps({"setup": setup, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
