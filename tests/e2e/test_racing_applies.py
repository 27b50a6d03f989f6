"""Racing applies: one at a time per environment on a machine; across machines, names are
checked again right before creating and duplicates are reported after applying."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from tests.filter_servers import FilterProxy, serving
from tests.helpers import Org, Project, api_project


@pytest.fixture
def setup(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


def test_a_second_apply_waits_a_bounded_time_then_refuses(setup: tuple[Project, Org]) -> None:
    project, org = setup
    project.ruleset("New")
    project.env["RULESYNC_LOCK_TIMEOUT"] = "0.5"
    (project.root / ".rulesync").mkdir()
    with FileLock(str(project.root / ".rulesync" / "test.lock")):
        result = project.run("apply", "--yes")
    assert result.exit_code == 1
    assert "another rulesync apply for environment 'test' is running on this machine" in (
        result.output
    )
    assert "(it holds .rulesync/test.lock); waited 0.5s" in result.output
    assert org.names() == []
    assert project.run("apply", "--yes").exit_code == 0  # the lock is gone: it goes ahead
    assert org.names() == ["New"]


def test_two_applies_at_once_on_one_machine_create_each_ruleset_once(
    setup: tuple[Project, Org],
) -> None:
    project, org = setup
    for i in range(6):
        project.ruleset(f"Team {i}")
    org.faults(latency_ms=60)  # long enough for the two runs to overlap
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "rulesync", "apply", "--yes"],
            cwd=project.root,
            env={**os.environ, **project.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    org.faults()
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert Counter(org.names()) == {f"Team {i}": 1 for i in range(6)}
    assert sum("No changes." in out for out, _ in outputs) == 1  # the second one waited


def _through(project: Project, proxy: FilterProxy, url: str) -> None:
    project.write(
        "rulesync.yaml",
        f"""\
        default_environment: test
        environments:
          test: {{api_url: "{url}", auth: {{access_token_env: RULESYNC_TEST_TOKEN}}}}
        """,
    )


@pytest.mark.parametrize("mode", ["legacy", "new", "ignore"])
def test_a_name_taken_right_before_creating_is_not_created_twice(
    tmp_path: Path, emulator: Any, mode: str
) -> None:
    """Another machine creates the ruleset after the staleness check, before the create."""
    project, org = api_project(tmp_path, emulator)
    project.ruleset("Inbound, EMEA", file="emea")
    project.ruleset("Other")
    proxy = FilterProxy(emulator.url, mode=mode)
    with serving(proxy) as url:
        _through(project, proxy, url)
        assert project.run("plan", "--out", "plan.json").exit_code == 0
        proxy.race_at("Inbound, EMEA", "lookup")
        result = project.run("apply", "plan.json")
    assert result.exit_code == 4, result.output
    assert (
        f"failed: create 'Inbound, EMEA': not created: 'Inbound, EMEA' exists live now"
        f" (id {proxy.raced_id}), created since the plan was made; plan again" in result.stdout
    )
    assert Counter(org.names()) == {"Inbound, EMEA": 1, "Other": 1}


def test_a_duplicate_made_by_a_racing_apply_is_reported_with_ids(
    tmp_path: Path, emulator: Any
) -> None:
    """Across machines no lock exists: when both create at once, verification says so."""
    project, org = api_project(tmp_path, emulator)
    project.ruleset("Inbound, EMEA", file="emea")
    proxy = FilterProxy(emulator.url, mode="legacy")
    with serving(proxy) as url:
        _through(project, proxy, url)
        proxy.race_at("Inbound, EMEA", "create")
        result = project.run("apply", "--yes")
    assert result.exit_code == 4, result.output
    ids = sorted(int(str(r["id"])) for r in org.rulesets())
    assert len(ids) == 2
    assert (
        f"verify: 2 rulesets are named 'Inbound, EMEA' now (ids {ids[0]}, {ids[1]}); another"
        " apply may have run at the same time" in result.stdout
    )
