"""`rulesync apply` end to end against the emulator: saved plans, idempotence, faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.filter_servers import FilterProxy, serving
from tests.helpers import Org, Project, api_project, run_on_terminal


@pytest.fixture
def setup(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


def start_apply(
    project: Project, org: Org, *, latency_ms: int, capture: bool
) -> subprocess.Popen[str]:
    """`rulesync apply --yes` as its own process, slowed by latency so it can be stopped."""
    org.faults(latency_ms=latency_ms)
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "rulesync", "apply", "--yes"],
        cwd=project.root,
        env={**os.environ, **project.env},
        stdout=output,
        stderr=output,
        text=True,
        # as on a terminal: a run started in the background inherits SIGINT ignored
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_creates(org: Org, count: int) -> None:
    deadline = time.monotonic() + 30
    while org.route("POST /api/v2/rulesets") < count and time.monotonic() < deadline:
        time.sleep(0.05)


def converged(project: Project) -> bool:
    return project.run("plan", "--detailed-exitcode", "--prune").exit_code == 0


def test_apply_then_plan_has_no_changes_and_reapply_writes_nothing(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    org.create("Legacy")
    org.create("Keep")
    org.create("Outbound", includeUnsubscribeLinks=False)
    project.ruleset("Keep")
    project.ruleset("Outbound", "includeUnsubscribeLinks: true\nstartedStage: Approaching\n")
    project.ruleset("Inbound", "owner: ada@example.com\nautoResumeOotoProspectsIn: 2d\n")
    result = project.run("apply", "--yes", "--prune")
    assert result.exit_code == 0, result.output
    assert "Applied: 1 created, 1 updated, 1 deleted; 0 failed" in result.stdout
    assert org.names() == ["Inbound", "Keep", "Outbound"]
    inbound = org.by_name()["Inbound"]
    assert inbound["attributes"]["autoResumeOotoProspectsIn"] == 172800  # type: ignore[index]
    assert inbound["relationships"]["owner"]["data"] == {"type": "user", "id": 1}  # type: ignore[index]
    assert converged(project)
    writes = org.writes()
    again = project.run("apply", "--yes", "--prune")
    assert again.exit_code == 0 and "No changes." in again.stdout
    assert org.writes() == writes  # a second apply sends zero writes


def test_writes_are_one_per_change_and_patch_only_changed_fields(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    rid = org.create("R", includeUnsubscribeLinks=False, stepOverridesEnabled=True)
    project.ruleset("R", "includeUnsubscribeLinks: true\nstepOverridesEnabled: true\n")
    project.ruleset("New")
    before = org.stats()
    assert project.run("apply", "--yes").exit_code == 0
    after = org.stats()
    assert after["writes"] - before["writes"] == 2
    assert org.by_name()["R"]["id"] == rid


def test_without_terminal_apply_refuses_unless_yes(setup: tuple[Project, Org]) -> None:
    project, org = setup
    project.ruleset("New")
    result = project.run("apply")
    assert result.exit_code == 1
    assert "no terminal to ask on; pass --yes" in result.output
    assert org.names() == []


def test_saved_plan_applies_exactly_what_was_reviewed(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("U", includeUnsubscribeLinks=False)
    project.ruleset("U", "includeUnsubscribeLinks: true\n")
    assert project.run("plan", "--out", "plan.json").exit_code == 0
    # the file changes after review: the saved plan must still apply only what was reviewed
    project.ruleset("U", "includeUnsubscribeLinks: true\nstepOverridesEnabled: true\n")
    project.ruleset("Later")
    result = project.run("apply", "plan.json")
    assert result.exit_code == 0, result.output
    assert org.names() == ["U"]
    attrs = org.by_name()["U"]["attributes"]
    assert attrs["includeUnsubscribeLinks"] is True  # type: ignore[index]
    assert attrs["stepOverridesEnabled"] is None  # type: ignore[index]


def test_stale_saved_plan_is_refused_and_writes_nothing(setup: tuple[Project, Org]) -> None:
    project, org = setup
    rid = org.create("U", includeUnsubscribeLinks=False)
    project.ruleset("U", "includeUnsubscribeLinks: true\n")
    project.ruleset("C")
    assert project.run("plan", "--out", "plan.json").exit_code == 0
    org.update(rid, meetingBookedAction="finish")  # someone edits U in the UI
    org.create("C")  # and creates C
    writes = org.writes()
    result = project.run("apply", "plan.json")
    assert result.exit_code == 3
    assert f"'U' (id {rid}) changed" in result.output
    assert "'C' now exists" in result.output
    assert org.writes() == writes


def test_saved_plan_for_another_environment_is_refused(setup: tuple[Project, Org]) -> None:
    project, org = setup
    project.ruleset("C")
    assert project.run("plan", "--out", "plan.json").exit_code == 0
    data = json.loads((project.root / "plan.json").read_text())
    data["environment"] = "production"
    (project.root / "plan.json").write_text(json.dumps(data))
    result = project.run("apply", "plan.json")
    assert result.exit_code == 3  # refused, like a stale plan: it belongs elsewhere
    assert "planned for environment 'production', not 'test'" in result.output
    assert org.names() == []


def test_unsafe_plan_is_refused_by_apply_unless_forced(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create("A")
    org.create("B")
    project.ruleset("C")
    result = project.run("apply", "--yes", "--prune")
    assert result.exit_code == 3
    assert "deletes every live managed ruleset (2 of 2)" in result.output
    assert org.names() == ["A", "B"]
    forced = project.run("apply", "--yes", "--prune", "--force")
    assert forced.exit_code == 0, forced.output
    assert org.names() == ["C"]


def test_a_forced_saved_plan_says_what_it_overrides_as_a_fresh_one_does(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    org.create("A")
    org.create("B")
    project.ruleset("C")
    assert project.run("plan", "--prune", "--out", "plan.json").exit_code == 3  # unsafe
    refused = project.run("apply", "plan.json")
    assert refused.exit_code == 3 and org.names() == ["A", "B"]
    forced = project.run("apply", "plan.json", "--force")
    assert forced.exit_code == 0, forced.output
    assert (
        "Warning: applying an unsafe plan (--force): deletes every live managed ruleset (2 of 2)"
        in forced.stderr
    )
    assert org.names() == ["C"]


def test_partial_failure_applies_the_rest_and_exits_4(tmp_path: Path, emulator: Any) -> None:
    # the API refuses one create (a 422 with a pointer); the others still apply
    project, org = api_project(tmp_path, emulator)
    with serving(FilterProxy(emulator.url, mode="new", reject=("Bad",))) as url:
        project.write(
            "rulesync.yaml",
            f"""\
            default_environment: test
            environments:
              test: {{api_url: "{url}", auth: {{access_token_env: RULESYNC_TEST_TOKEN}}}}
            """,
        )
        project.ruleset("Bad", "startedStage: Cold\n")
        project.ruleset("Good one")
        project.ruleset("Good two")
        result = project.run("apply", "--yes")
    assert result.exit_code == 4
    assert "Applied: 2 created, 0 updated, 0 deleted; 1 failed" in result.stdout
    assert "failed: create 'Bad': POST /api/v2/rulesets: 422" in result.stdout
    assert "/data/relationships/startedStage" in result.stdout
    assert org.names() == ["Good one", "Good two"]


def test_apply_converges_under_errors_and_lost_responses(setup: tuple[Project, Org]) -> None:
    project, org = setup
    for i in range(15):
        org.create(f"Update {i:02}", includeUnsubscribeLinks=False)
        project.ruleset(f"Update {i:02}", "includeUnsubscribeLinks: true\n")
        project.ruleset(f"Create {i:02}", "callTaskPriority: Medium\n")
    org.faults(error_rate=0.2, error_statuses=[500, 502, 503], drop_after_commit_rate=0.15, seed=7)
    # --force: 15 of 15 live rulesets updated is over the default safety threshold
    result = project.run("apply", "--yes", "--force", "--parallelism", "4")
    org.faults()
    assert result.exit_code == 0, result.output
    counts = Counter(org.names())
    assert len(counts) == 30 and set(counts.values()) == {1}  # every ruleset exactly once
    assert converged(project)


def test_apply_finishes_inside_a_tight_rate_limit(setup: tuple[Project, Org]) -> None:
    project, org = setup
    for i in range(25):
        project.ruleset(f"R{i:02}")
    org.faults(rate_limit={"limit": 10, "window_s": 2})
    started = time.monotonic()
    result = project.run("apply", "--yes")
    elapsed = time.monotonic() - started
    org.faults()
    assert result.exit_code == 0, result.output
    assert len(org.names()) == 25
    assert org.route("POST /api/v2/rulesets") >= 25
    assert elapsed < 60


def test_killed_apply_rerun_converges_without_duplicates(tmp_path: Path, emulator: Any) -> None:
    project, org = api_project(tmp_path, emulator)
    for i in range(40):
        project.ruleset(f"R{i:02}")
    proc = start_apply(project, org, latency_ms=50, capture=False)
    wait_for_creates(org, 8)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    partial = len(org.names())
    assert 0 < partial < 40
    org.faults()
    result = project.run("apply", "--yes")
    assert result.exit_code == 0, result.output
    counts = Counter(org.names())
    assert len(counts) == 40 and set(counts.values()) == {1}
    assert converged(project)


def test_export_then_plan_has_no_changes(setup: tuple[Project, Org]) -> None:
    project, org = setup
    org.create(
        "Inbound leads",
        autoResumeOotoProspectsIn=259200,
        includeUnsubscribeLinks=True,
        permitDuplicateProspects="allow",
        startedStage=("stage", 2),
        owner=("user", 2),
        callTaskPriority=("taskPriority", 1),
    )
    org.create("Bare")
    result = project.run("export")
    assert result.exit_code == 0, result.output
    assert "Exported 2 rulesets" in result.stdout
    text = (project.root / "rulesets" / "inbound-leads.yaml").read_text()
    assert "autoResumeOotoProspectsIn: 3d" in text
    assert "startedStage: Approaching" in text and "owner: revops@example.com" in text
    assert project.run("plan", "--detailed-exitcode").exit_code == 0
    again = project.run("export")
    assert again.exit_code == 1 and "refusing to overwrite 2 existing file(s)" in again.output
    assert project.run("export", "--overwrite").exit_code == 0


def test_ctrl_c_stops_new_writes_and_a_rerun_converges(tmp_path: Path, emulator: Any) -> None:
    project, org = api_project(tmp_path, emulator)
    for i in range(40):
        project.ruleset(f"R{i:02}")
    proc = start_apply(project, org, latency_ms=60, capture=True)
    wait_for_creates(org, 6)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 4, err
    assert "interrupted: writes in flight finished" in err
    assert "not started" in out
    assert "Traceback" not in err
    org.faults()
    assert 0 < len(org.names()) < 40
    assert project.run("apply", "--yes").exit_code == 0
    counts = Counter(org.names())
    assert len(counts) == 40 and set(counts.values()) == {1}


def test_apply_asks_on_a_terminal(tmp_path: Path, emulator: Any) -> None:
    project, org = api_project(tmp_path, emulator)
    project.ruleset("Asked")
    declined, code = run_on_terminal(project, "apply", prompt=b"[y/N]", answer=b"n\n")
    assert "Apply these changes to 'test'? [y/N]" in declined
    assert code == 1 and org.names() == []
    shown, code = run_on_terminal(project, "apply", prompt=b"[y/N]", answer=b"y\n")
    assert code == 0, shown
    assert "Applied: 1 created" in shown
    assert org.names() == ["Asked"]
