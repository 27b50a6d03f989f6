"""Apply under injected faults: 5xx errors, 429 storms, latency and answers lost after commit,
for each kind of plan. Every run converges, or exits 4 naming exactly what failed and then
converges on a re-run; never a duplicate, never a delete nobody asked for."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Org, Project, api_project

# Faults with fixed seeds, so a failing case can be replayed (parallel writes still interleave).
FAULTS: dict[str, dict[str, Any]] = {
    "5xx": {"error_rate": 0.25, "error_statuses": [500, 502, 503, 504], "seed": 11},
    "429-storm": {"rate_limit": {"limit": 6, "window_s": 1}},
    "latency": {"latency_ms": 40, "seed": 3},
    "lost-answers": {"drop_after_commit_rate": 0.35, "seed": 5},
    "everything": {
        "latency_ms": 10,
        "error_rate": 0.15,
        "drop_after_commit_rate": 0.2,
        "seed": 23,
    },
}
KINDS = ("create-only", "update-only", "delete-only", "mixed")

CONFIG = """\
default_environment: test
manage: ["Team *", "Default*"]
safety: {protect: ["Default*"], max_change_percent: 100, min_existing: 0}
environments:
  test:
    api_url: API_URL
    auth: {access_token_env: RULESYNC_TEST_TOKEN}
"""
# Never touched, whatever the faults: outside `manage`, protected, and declared-but-unchanged.
BYSTANDERS = ("Sandbox A", "Sandbox B, with a comma", "Default ruleset", "Team Keep")


@dataclass
class Case:
    project: Project
    org: Org
    expected: list[str]  # the live names once converged
    bystanders: dict[str, dict[str, Any]]  # name -> live resource before the run


def build(tmp_path: Path, emulator: Any, kind: str) -> Case:
    project, org = api_project(tmp_path, emulator)
    project.write("rulesync.yaml", CONFIG.replace("API_URL", emulator.api_url))
    org.create("Sandbox A", includeUnsubscribeLinks=False)
    org.create("Sandbox B, with a comma")
    org.create("Default ruleset", stepOverridesEnabled=True)
    org.create("Team Keep", includeUnsubscribeLinks=True, startedStage=("stage", 2))
    project.ruleset("Team Keep", "includeUnsubscribeLinks: true\nstartedStage: Approaching\n")
    sizes = {
        "create-only": (10, 0, 0),
        "update-only": (0, 10, 0),
        "delete-only": (0, 0, 10),
        "mixed": (4, 4, 4),
    }[kind]
    creates, updates, deletes = sizes
    expected = list(BYSTANDERS)
    for i in range(creates):
        name = f"Team New {i:02}" if i else "Team New, with a comma"
        project.ruleset(
            name,
            "callTaskPriority: Medium\nautoResumeOotoProspectsIn: 2d\nowner: sam@example.com\n",
            file=f"new-{i:02}",
        )
        expected.append(name)
    for i in range(updates):
        name = f"Team Upd {i:02}"
        org.create(name, includeUnsubscribeLinks=False, repliedStage=("stage", 1))
        project.ruleset(
            name,
            "includeUnsubscribeLinks: true\nrepliedStage: Replied\nmeetingBookedAction: finish\n",
        )
        expected.append(name)
    for i in range(deletes):
        org.create(f"Team Old {i:02}", meetingBookedAction="pause")
    bystanders = {n: r for n, r in org.by_name().items() if n in BYSTANDERS}
    return Case(project, org, sorted(expected), bystanders)


def check_invariants(case: Case) -> None:
    """No duplicates and no unintended deletes or edits, at any point."""
    counts = Counter(case.org.names())
    duplicated = sorted(n for n, c in counts.items() if c > 1)
    assert not duplicated, f"duplicates: {duplicated}"
    live = case.org.by_name()
    for name, before in case.bystanders.items():
        assert name in live, f"{name!r} was deleted"
        assert live[name]["id"] == before["id"]
        assert live[name]["attributes"] == before["attributes"], f"{name!r} was changed"
        assert live[name]["relationships"] == before["relationships"], f"{name!r} was changed"
    unexpected = set(live) - set(case.expected) - {n for n in live if n.startswith("Team Old")}
    assert not unexpected, f"rulesets nobody declared: {sorted(unexpected)}"


def pending(project: Project) -> set[str]:
    result = project.run("plan", "--format", "json", "--prune")
    assert result.exit_code == 0, result.output
    return {c["name"] for c in json.loads(result.stdout)["changes"]}


def failed_names(output: str) -> set[str]:
    return set(re.findall(r"^  failed: (?:create|update|delete) '(.+?)': ", output, re.M))


def converge_or_report(case: Case, result: Any, *, changes: int) -> str:
    """Exit 0 and no changes left, or exit 4 naming what failed; then a clean re-run converges.
    Returns which of the two happened."""
    check_invariants(case)
    assert result.exit_code in (0, 4), result.output
    summary = re.search(
        r"Applied: (\d+) created, (\d+) updated, (\d+) deleted; (\d+) failed", result.stdout
    )
    assert summary, result.output
    assert sum(int(n) for n in summary.groups()) == changes, result.output
    left = pending(case.project)
    if result.exit_code == 0:
        assert not left, f"apply exited 0 but the plan still has changes: {sorted(left)}"
        assert "failed:" not in result.stdout
    else:
        failed = failed_names(result.stdout)
        assert len(failed) == int(summary.group(4)), result.output
        # what was not reported as failed was applied: anything pending was named
        assert left <= failed, f"pending {sorted(left)} but reported failed {sorted(failed)}"
        again = case.project.run("apply", "--yes", "--prune")
        assert again.exit_code == 0, again.output
        check_invariants(case)
    assert case.project.run("plan", "--detailed-exitcode", "--prune").exit_code == 0
    assert case.org.names() == case.expected
    return "converged" if result.exit_code == 0 else "reported"


CHANGES = {"create-only": 10, "update-only": 10, "delete-only": 10, "mixed": 12}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("kind", KINDS)
def test_apply_under_faults_converges_or_reports(
    tmp_path: Path, emulator: Any, kind: str, fault: str
) -> None:
    case = build(tmp_path, emulator, kind)
    case.org.faults(**FAULTS[fault])
    try:
        result = case.project.run("apply", "--yes", "--prune", "--parallelism", "4")
    finally:
        case.org.faults()
    converge_or_report(case, result, changes=CHANGES[kind])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", KINDS)
def test_refused_writes_are_reported_exactly_then_a_rerun_converges(
    tmp_path: Path, emulator: Any, kind: str
) -> None:
    """Errors that are not retried (409, 422) fail their change and only it: exit 4, and the
    changes still pending afterwards are exactly the ones reported as failed."""
    case = build(tmp_path, emulator, kind)
    assert case.project.run("plan", "--out", "plan.json", "--prune").exit_code == 0
    # seed 5: the first six draws pass (the reads before any write: the reference data the
    # plan is bound to, the staleness check, the names looked up right before creating);
    # about half the writes after them fail
    case.org.faults(error_rate=0.5, error_statuses=[409, 422], seed=5)
    try:
        result = case.project.run("apply", "plan.json", "--parallelism", "4")
    finally:
        case.org.faults()
    check_invariants(case)
    assert result.exit_code == 4, result.output
    failed = failed_names(result.stdout)
    assert failed, result.output
    assert pending(case.project) == failed
    for name in failed:
        assert re.search(
            rf"failed: \w+ '{re.escape(name)}': \w+ /api/v2/rulesets\S*: 4(09|22) ", result.stdout
        ), result.output
    assert (
        converge_or_report(case, case.project.run("apply", "--yes", "--prune"), changes=len(failed))
        == "converged"
    )


@pytest.mark.timeout(60)
def test_unreachable_api_writes_nothing_and_says_so(tmp_path: Path, emulator: Any) -> None:
    """Every request refused: an API error on the first read, exit 1, and no write at all."""
    case = build(tmp_path, emulator, "mixed")
    writes = case.org.writes()
    case.org.faults(error_rate=1.0, error_statuses=[400])
    try:
        result = case.project.run("apply", "--yes", "--prune")
    finally:
        case.org.faults()
    assert result.exit_code == 1, result.output
    assert "GET /api/v2/rulesets" in result.output and "400" in result.output
    assert case.org.writes() == writes
    check_invariants(case)
