"""Output for CI and scripts: GitHub annotations, `validate --format json`, `apply --format
json`, and apply's progress (a bar on a terminal, one line per change in CI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rulesync.errors import Problem
from rulesync.reports import annotation
from tests.filter_servers import FilterProxy, serving
from tests.helpers import Org, Project, api_project, run_on_terminal

BAD = "callOptOutAction: never\nsequenceExclusivty: none\n"


@pytest.fixture
def setup(tmp_path: Path, emulator: Any) -> tuple[Project, Org]:
    return api_project(tmp_path, emulator)


def test_under_github_actions_validate_also_prints_annotations(tmp_path: Path) -> None:
    project = Project(tmp_path, env={"GITHUB_ACTIONS": "true"})
    project.ruleset("Inbound", BAD)
    result = project.run("validate")
    assert result.exit_code == 1
    annotations = [line for line in result.stderr.splitlines() if line.startswith("::")]
    assert annotations == [
        "::error file=rulesets/inbound.yaml,line=2,col=19,title=callOptOutAction::"
        "at most 4 characters, got 'never'",
        "::error file=rulesets/inbound.yaml,line=3,col=1,title=sequenceExclusivty::"
        "unknown field; did you mean 'sequenceExclusivity'?",
    ]
    # the PATH:LINE:COL lines for people and editors are still there
    assert "rulesets/inbound.yaml:2:19: callOptOutAction:" in result.stderr


def test_outside_github_actions_there_are_no_annotations(tmp_path: Path) -> None:
    project = Project(tmp_path, env={"GITHUB_ACTIONS": ""})
    project.ruleset("Inbound", BAD)
    result = project.run("validate")
    assert result.exit_code == 1
    assert "::error" not in result.output


def test_plan_time_file_problems_are_annotations_too(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.env["GITHUB_ACTIONS"] = "true"
    project.ruleset("Inbound", BAD)
    result = project.run("plan")
    assert result.exit_code == 1
    assert "::error file=rulesets/inbound.yaml,line=2,col=19," in result.stderr


def test_annotation_messages_cannot_inject_workflow_commands(tmp_path: Path) -> None:
    project = Project(tmp_path, env={"GITHUB_ACTIONS": "true"})
    project.write("rulesets/x.yaml", 'name: X\n"a\\n::add-mask::b,c:d": 1\n')
    result = project.run("validate")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("::error")]
    assert len(lines) == 1
    assert "%3A%3Aadd-mask%3A%3Ab%2Cc%3Ad::unknown field" in lines[0]
    assert not any(line.startswith("::add-mask") for line in result.stderr.splitlines())


def test_annotations_escape_newlines_and_separators() -> None:
    problem = Problem("rules,ets/a:b.yaml", 3, 7, "f", "bad\n::warning::x 100%")
    assert annotation(problem) == (
        "::error file=rules%2Cets/a%3Ab.yaml,line=3,col=7,title=f::bad%0A::warning::x 100%25"
    )


def test_validate_json_reports_every_problem(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.ruleset("Inbound", BAD)
    result = project.run("validate", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["problems"][0] == {
        "path": "rulesets/inbound.yaml",
        "line": 2,
        "col": 19,
        "field": "callOptOutAction",
        "message": "at most 4 characters, got 'never'",
    }
    assert len(report["problems"]) == 2


def test_validate_json_when_valid(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.ruleset("Inbound")
    project.ruleset("Outbound")
    result = project.run("validate", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {
        "valid": True,
        "rulesets": 2,
        "environments": ["local"],
        "problems": [],
    }


def test_validate_json_reports_a_broken_config(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write("rulesync.yaml", "rulesets_dir: [oops\n")
    result = project.run("validate", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["problems"][0]["path"] == "rulesync.yaml"


def test_apply_json_is_the_report(tmp_path: Path, emulator: Any) -> None:
    # the API refuses one create (a 422 with a pointer): a change that fails at apply time
    project, org = api_project(tmp_path, emulator)
    project.ruleset("Bad", "startedStage: Cold\n")
    project.ruleset("Good one")
    with serving(FilterProxy(emulator.url, mode="new", reject=("Bad",))) as url:
        project.write(
            "rulesync.yaml",
            f"""\
            default_environment: test
            environments:
              test: {{api_url: "{url}", auth: {{access_token_env: RULESYNC_TEST_TOKEN}}}}
            """,
        )
        result = project.run("apply", "--yes", "--format", "json")
    assert result.exit_code == 4
    report = json.loads(result.stdout)  # only the report is on stdout
    assert report["environment"] == "test" and report["success"] is False
    assert [(c["action"], c["name"]) for c in report["applied"]] == [("create", "Good one")]
    assert isinstance(report["applied"][0]["id"], int)
    assert [(c["action"], c["name"]) for c in report["failed"]] == [("create", "Bad")]
    assert "422" in report["failed"][0]["detail"]
    assert "/data/relationships/startedStage" in report["failed"][0]["detail"]
    assert report["not_started"] == []
    assert "+ create 'Good one'" in result.stderr  # the plan is still shown, on stderr
    assert org.names() == ["Good one"]


def test_apply_json_of_a_saved_plan_without_changes(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    project.ruleset("Kept")
    assert project.run("apply", "--yes").exit_code == 0
    assert project.run("plan", "--out", "plan.json").exit_code == 0
    result = project.run("apply", "plan.json", "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["success"] is True and report["applied"] == [] and report["failed"] == []


def test_apply_in_ci_prints_one_line_per_change(setup: tuple[Project, Org]) -> None:
    project, _ = setup
    for i in range(3):
        project.ruleset(f"R{i}")
    result = project.run("apply", "--yes")
    assert result.exit_code == 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] + "]" for line in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    assert sorted(line.split("] ")[1] for line in lines) == [f"create 'R{i}': ok" for i in range(3)]


def test_apply_of_a_saved_plan_in_ci_prints_one_line_per_change(
    setup: tuple[Project, Org],
) -> None:
    project, _ = setup
    for i in range(2):
        project.ruleset(f"R{i}")
    assert project.run("plan", "--out", "plan.json").exit_code == 0
    result = project.run("apply", "plan.json")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] + "]" for line in lines] == ["[1/2]", "[2/2]"]
    assert sorted(line.split("] ")[1] for line in lines) == ["create 'R0': ok", "create 'R1': ok"]
    assert "Applied: 2 created, 0 updated, 0 deleted; 0 failed" in result.stdout


def test_apply_on_a_terminal_shows_a_progress_bar(tmp_path: Path, emulator: Any) -> None:
    project, _ = api_project(tmp_path, emulator)
    for i in range(5):
        project.ruleset(f"R{i}")
    shown, code = run_on_terminal(project, "apply", "--yes", extra_env={"CI": ""})
    assert code == 0, shown
    assert "Applying" in shown and "5/5" in shown and "API requests" in shown
    assert "[1/5]" not in shown  # no line per change on a terminal
    assert "Applied: 5 created" in shown


def test_apply_json_of_a_stale_plan_reports_nothing_started(setup: tuple[Project, Org]) -> None:
    project, org = setup
    rid = org.create("U", includeUnsubscribeLinks=False)
    project.ruleset("U", "includeUnsubscribeLinks: true\n")
    assert project.run("plan", "--out", "plan.json").exit_code == 0
    org.update(rid, meetingBookedAction="finish")  # someone edits U in the UI
    result = project.run("apply", "plan.json", "--format", "json")
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    assert report["applied"] == [] and report["failed"] == []
    assert report["not_started"] == [{"action": "update", "name": "U", "id": rid}]
    assert f"'U' (id {rid}) changed" in report["refused"]


def test_annotation_paths_are_relative_to_the_repository(tmp_path: Path) -> None:
    # the action's working-directory: rulesync runs in a folder of the repository
    project = Project(tmp_path / "config", env={"GITHUB_ACTIONS": "true"})
    project.env["GITHUB_WORKSPACE"] = str(tmp_path)
    project.ruleset("Inbound", BAD)
    result = project.run("validate")
    assert "::error file=config/rulesets/inbound.yaml,line=2,col=19," in result.stderr
    assert "config/rulesets" not in result.stderr.split("::error")[0]  # plain lines unchanged
