"""Mutation testing of the core modules: would the suite notice a bug in them?

    pip install -e '.[dev,mutation]'
    python tests/mutation.py                      # every core module (long: run it by hand)
    python tests/mutation.py planner safety       # some of them
    python tests/mutation.py safety --keep        # keep the copy: `mutmut show ID` in it

Each module is mutated by mutmut (one small change at a time: a flipped comparison, a changed
constant, a removed call...) in a copy of the working tree, never in it, and the tests that
exercise that module run against each mutant. A mutant the tests still pass on "survived": a
bug the suite would have let through. The script prints one line per module and a JSON summary;
docs/testing.md records the scores and the survivors judged equivalent (no behaviour change).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# module -> the test files that exercise it (the runner stops at the first failure). mutmut
# runs them once per mutant: the fast unit tests of the module come first, and a runner is
# kept to about 20 s
CORE: dict[str, list[str]] = {
    "planner": ["tests/unit/test_planner_rules.py", "tests/unit/test_planner.py"],
    "documents": ["tests/unit/test_documents.py", "tests/unit/test_planner_rules.py"],
    "safety": ["tests/unit/test_safety.py"],
    "policy": ["tests/unit/test_safety.py", "tests/unit/test_planner_rules.py"],
    "plan": ["tests/unit/test_plan_values.py", "tests/e2e/test_plan_cli.py"],
    "live": [
        "tests/unit/test_live.py",
        "tests/unit/test_planner_rules.py",
        "tests/unit/test_planner.py",
        "tests/unit/test_applier_port.py",
    ],
    "desired": ["tests/unit/test_desired.py", "tests/unit/test_planner_rules.py"],
    "planfile": [
        "tests/unit/test_planfile.py",
        "tests/unit/test_plan_values.py",
        "tests/e2e/test_plan_files.py",
    ],
    "planschema": [
        "tests/unit/test_planfile.py",
        "tests/unit/test_plan_values.py",
        "tests/e2e/test_plan_files.py",
    ],
    "applier": [
        "tests/unit/test_applier_port.py",
        "tests/e2e/test_apply_phases.py",
        "tests/e2e/test_apply_wire.py",
        "tests/e2e/test_plan_files.py",
        "tests/e2e/test_racing_applies.py",
        "tests/e2e/test_apply_cli.py",
    ],
    "client": [
        "tests/integration/test_client_requests.py",
        "tests/integration/test_client_failures.py",
        "tests/integration/test_token_refresh.py",
        "tests/integration/test_hostile_network.py",
    ],
    "loader": ["tests/unit/test_loader.py", "tests/e2e/test_pins.py"],
    "fastyaml": ["tests/unit/test_fastyaml.py"],
    "sequences": ["tests/e2e/test_blast_radius.py", "tests/e2e/test_sequences_as_code.py"],
    "permissions": ["tests/e2e/test_blast_radius.py", "tests/e2e/test_sequences_as_code.py"],
}
# a mutant that makes a test hang fails it after this many seconds (default 120)
TEST_TIMEOUT_S = {"client": 30}
KINDS = ("killed", "survived", "timeout", "suspicious", "untested")
IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".mutmut-cache", ".rulesync", "__pycache__", ".*_cache", "build", "dist"
)


def mutate(module: str, tests: list[str], *, workdir: Path) -> dict[str, object]:
    copy = workdir / module
    shutil.copytree(ROOT, copy, ignore=IGNORE, symlinks=True)
    # `rulesync` must import from the copy, in pytest and in the CLI subprocesses it starts:
    # .typecheck/rulesync links to the copy's engine/ and comes before the installed package
    env = {**os.environ, "PYTHONPATH": str(copy / ".typecheck"), "NO_COLOR": "1"}
    # without the hypothesis and schemathesis plugins pytest starts in half the time (@given
    # works without its plugin); mutmut starts it once per mutant
    pytest = (
        f"{sys.executable} -m pytest -x -q -p no:cacheprovider -p no:hypothesispytest"
        f" -p no:schemathesis --timeout={TEST_TIMEOUT_S.get(module, 120)} {' '.join(tests)}"
    )
    # mutmut 2 counts only exit status 1 as "killed": a mutant that breaks the tests' import
    # (pytest exits 2) would count as a survivor, and a broken baseline would pass
    runner = f"sh -c '{pytest} || exit 1'"

    def mutmut(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "mutmut", *args],
            cwd=copy,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout

    started = time.monotonic()
    mutmut("run", "--paths-to-mutate", f"engine/{module}.py", "--runner", runner, "--no-progress")
    counts: dict[str, object] = {"module": module}
    for kind in KINDS:
        ids = mutmut("result-ids", kind).split()
        counts[kind] = len(ids)
        if kind == "survived":
            counts["survivors"] = [mutmut("show", mutant).strip() for mutant in ids]
    total = sum(int(str(counts[k])) for k in KINDS)
    # "suspicious": the tests failed, only slowly (a loaded machine): killed as well
    detected = sum(int(str(counts[k])) for k in ("killed", "timeout", "suspicious"))
    counts["total"] = total
    counts["score"] = round(100 * detected / total, 1) if total else None
    counts["minutes"] = round((time.monotonic() - started) / 60, 1)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"default: {' '.join(CORE)}")
    parser.add_argument("--out", type=Path, help="also write the JSON summary here")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the mutated copies (to run `mutmut results` / `mutmut show ID` in them)",
    )
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in CORE]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {list(CORE)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="rulesync-mutation-") as tmp:
        workdir = Path(tempfile.mkdtemp(prefix="rulesync-mutation-")) if args.keep else Path(tmp)
        for module in args.modules or list(CORE):
            result = mutate(module, CORE[module], workdir=workdir)
            if args.keep:
                result["copy"] = str(workdir / module)
            results.append(result)
            print(
                f"{module:10} {result['score']}% killed of {result['total']} mutants "
                f"({result['survived']} survived, {result['timeout']} timed out) "
                f"in {result['minutes']} min",
                file=sys.stderr,
            )
    summary = json.dumps(results, indent=2)
    if args.out:
        args.out.write_text(summary + "\n", encoding="utf-8")
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
