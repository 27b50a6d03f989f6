"""Ruleset files and rulesync.yaml: every rule of SPEC §2-§3, through `rulesync validate`."""

from __future__ import annotations

from pathlib import Path

import pytest

from rulesync.config import load_config
from rulesync.loader import load_desired
from tests.helpers import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def validate(project: Project) -> tuple[int, str]:
    result = project.run("validate")
    return result.exit_code, result.output


def desired(project: Project, env: str | None = None) -> dict[str, dict[str, object]]:
    config = load_config(cwd=project.root)
    return {d.name: d.fields for d in load_desired(config, config.environment(env))}


def test_valid_files_pass_and_durations_become_seconds(project: Project) -> None:
    project.ruleset(
        "Inbound leads",
        """\
        permitDuplicateProspects: only_if_inactive
        autoResumeOotoProspectsIn: 3d
        applyCompletedStageIn: 90s
        minimumProspectTouchedInterval: 1w
        autoResumeOotoProspectsExpiresIn: 3600
        owner: revops@example.com
        deliveredStage: {id: 2}
        completedStage: null
        """,
    )
    code, out = validate(project)
    assert code == 0, out
    assert "Valid: 1 rulesets" in out
    fields = desired(project)["Inbound leads"]
    assert fields["autoResumeOotoProspectsIn"] == 3 * 86400
    assert fields["applyCompletedStageIn"] == 90
    assert fields["minimumProspectTouchedInterval"] == 7 * 86400
    assert fields["autoResumeOotoProspectsExpiresIn"] == 3600
    assert fields["deliveredStage"] == {"id": 2}
    assert fields["completedStage"] is None  # explicit null is managed
    assert "includeUnsubscribeLinks" not in fields  # omitted is unmanaged


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "callOptOutAction: never\n",
            "rulesets/x.yaml:2:19: callOptOutAction: at most 4 characters, got 'never'",
        ),
        ("meetingBookedAction: " + "a" * 256 + "\n", "meetingBookedAction: at most 255"),
        (
            "permitDuplicateProspects: sometimes\n",
            "permitDuplicateProspects: must be one of "
            "'allow', 'disallow' or 'only_if_inactive', got 'sometimes'",
        ),
        ("sequenceExclusivity: All_Sequences\n", "sequenceExclusivity: must be one of"),
        (
            "clicksNeededBeforeCallTaskCreated: -1\n",
            "clicksNeededBeforeCallTaskCreated: must be 0 or more, got -1",
        ),
        ("opensNeededBeforeCallTaskCreated: '3'\n", "must be a whole number, got '3'"),
        ("includeUnsubscribeLinks: 'yes'\n", "includeUnsubscribeLinks: must be true or false"),
        ("includeUnsubscribeLinks: 1\n", "includeUnsubscribeLinks: must be true or false"),
        (
            "autoResumeOotoProspectsIn: 3 days\n",
            "autoResumeOotoProspectsIn: not a duration: '3 days'",
        ),
        ("autoResumeOotoProspectsIn: -5\n", "must be 0 or more"),
        ("autoResumeOotoProspectsIn: true\n", "must be a whole number"),
        ("createdAt: 2024-01-01\n", "createdAt: is read-only in Outreach"),
        ("id: four\n", "id: "),
        # a file may list its sequences (SPEC §10); a bare name is not a list
        ("sequences: Inbound demo request\n", "rulesets/x.yaml:2:12: sequences: must be a list"),
        (
            "sequenceExclusivty: none\n",
            "rulesets/x.yaml:2:1: sequenceExclusivty: unknown field; "
            "did you mean 'sequenceExclusivity'?",
        ),
        ("owner: 5\n", "owner: must be a name, an email, {id: N} or null, got 5"),
        ("owner: {id: 0}\n", "owner: give a name, an email or {id: N}"),
        ("owner: {name: x}\n", "owner: give a name, an email or {id: N}"),
        ("previousNames: Inbound\n", "previousNames: must be a list"),
        # Outreach always stores a value for these (Ruleset page: "disallow (the default)",
        # "none (the default)"): null would be a diff that never goes away.
        (
            "permitDuplicateProspects: null\n",
            "rulesets/x.yaml:2:27: permitDuplicateProspects: Outreach always stores a value here"
            " and turns null into 'disallow'; write disallow, or leave the field out",
        ),
        (
            "sequenceExclusivity: null\n",
            "rulesets/x.yaml:2:22: sequenceExclusivity: Outreach always stores a value here"
            " and turns null into 'none'",
        ),
    ],
)
def test_each_bad_value_is_reported_with_position(
    project: Project, body: str, expected: str
) -> None:
    project.write("rulesets/x.yaml", "name: X\n" + body)
    code, out = validate(project)
    assert code == 1
    assert expected in out
    assert "Traceback" not in out


def test_all_problems_are_reported_at_once_in_path_order(project: Project) -> None:
    project.write("rulesets/b.yaml", "name: B\ncallOptOutAction: never\n")
    project.write("rulesets/a.yaml", "name: A\nsmsOptOutAction: always\nfoo: 1\n")
    code, out = validate(project)
    assert code == 1
    lines = [line for line in out.splitlines() if line.startswith("rulesets/")]
    assert [line.split(":")[0] for line in lines] == ["rulesets/a.yaml"] * 2 + ["rulesets/b.yaml"]
    assert "3 problems found" in out


def test_missing_name(project: Project) -> None:
    project.write("rulesets/x.yaml", "includeUnsubscribeLinks: true\n")
    code, out = validate(project)
    assert code == 1 and "rulesets/x.yaml:1:1: name: is required" in out


def test_duplicate_keys_in_one_mapping(project: Project) -> None:
    project.write("rulesets/x.yaml", "name: X\nowner: a@example.com\nowner: b@example.com\n")
    code, out = validate(project)
    assert code == 1
    assert "rulesets/x.yaml:3:1: owner: duplicate key (first at line 2)" in out


def test_duplicate_names_across_files_name_both_places(project: Project) -> None:
    project.write("rulesets/one.yaml", "name: Same\n")
    project.write("rulesets/sub/two.yml", "# comment\nname: Same\n")
    code, out = validate(project)
    assert code == 1
    assert "rulesets/sub/two.yml:2:7: name: 'Same' is also declared at rulesets/one.yaml:1" in out


def test_multi_document_files_and_recursive_sorted_reading(project: Project) -> None:
    project.write("rulesets/z/deep.yml", "name: Deep\n")
    project.write("rulesets/multi.yaml", "name: First\n---\nname: Second\n---\n")
    project.write("rulesets/notes.txt", "not a ruleset")
    code, out = validate(project)
    assert code == 0, out
    assert list(desired(project)) == ["First", "Second", "Deep"]


def test_yaml_syntax_error(project: Project) -> None:
    project.write("rulesets/x.yaml", "name: X\nowner: [unclosed\n")
    code, out = validate(project)
    assert code == 1
    assert "rulesets/x.yaml:" in out and "YAML error" in out
    assert "Traceback" not in out


def test_unsafe_tags_are_refused_and_never_executed(project: Project, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    project.write(
        "rulesets/x.yaml", f"name: X\nowner: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    code, out = validate(project)
    assert code == 1
    assert "rulesets/x.yaml:2:8: YAML error" in out
    assert "no tags such as !!python" in out
    assert not marker.exists()


def test_non_mapping_documents(project: Project) -> None:
    project.write("rulesets/x.yaml", "- name: X\n---\njust a string\n")
    code, out = validate(project)
    assert code == 1
    assert (
        "rulesets/x.yaml:1:1: each YAML document must be a mapping of ruleset fields, got a list"
        in out
    )
    assert "got a string" in out


def test_missing_rulesets_directory(project: Project) -> None:
    code, out = validate(project)
    assert code == 1
    assert "rulesets: rulesets directory not found" in out


def test_empty_rulesets_directory(project: Project) -> None:
    (project.root / "rulesets").mkdir()
    code, out = validate(project)
    assert code == 1
    assert "no ruleset files (*.yaml, *.yml) found" in out


def test_not_utf8(project: Project) -> None:
    (project.root / "rulesets").mkdir()
    (project.root / "rulesets" / "x.yaml").write_bytes(b"name: \xff\xfe\n")
    code, out = validate(project)
    assert code == 1 and "rulesets/x.yaml: not UTF-8" in out


def test_previous_name_in_use_by_another_file(project: Project) -> None:
    project.write("rulesets/a.yaml", "name: A\npreviousNames: [B]\n")
    project.write("rulesets/b.yaml", "name: B\n")
    code, out = validate(project)
    assert code == 1 and "previousNames: 'B' is the name of the ruleset at rulesets/b.yaml:1" in out


CONFIG = """\
rulesets_dir: rules
defaults: {includeUnsubscribeLinks: true, callTaskPriority: High}
manage: ["Team *"]
environments:
  local: {api_url: embedded}
  production:
    api_url: https://api.outreach.io/api/v2
    auth: {access_token_env: OUTREACH_ACCESS_TOKEN}
    defaults: {owner: revops@acme.example, callTaskPriority: Low}
    overrides:
      Team inbound: {callTaskPriority: Medium, includeUnsubscribeLinks: false}
"""


def test_precedence_global_env_file_override(project: Project) -> None:
    project.write("rulesync.yaml", CONFIG)
    project.write("rules/a.yaml", "name: Team inbound\ncallTaskPriority: Low\nowner: x@y.z\n")
    project.write("rules/b.yaml", "name: Team outbound\n")
    assert validate(project)[0] == 0
    prod = desired(project, "production")
    assert prod["Team inbound"] == {
        "includeUnsubscribeLinks": False,
        "callTaskPriority": "Medium",
        "owner": "x@y.z",
    }
    assert prod["Team outbound"] == {
        "includeUnsubscribeLinks": True,
        "callTaskPriority": "Low",
        "owner": "revops@acme.example",
    }
    local = desired(project, "local")
    assert local["Team outbound"] == {"includeUnsubscribeLinks": True, "callTaskPriority": "High"}


def test_names_outside_manage_are_errors(project: Project) -> None:
    project.write("rulesync.yaml", CONFIG)
    project.write("rules/a.yaml", "name: Other\n")
    code, out = validate(project)
    assert code == 1 and "'Other' is outside `manage` ['Team *']" in out


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            "rulesets_dri: x\n",
            "rulesync.yaml:1:1: rulesets_dri: unknown field; did you mean 'rulesets_dir'?",
        ),
        ("safety: {max_change_percent: 150}\n", "safety.max_change_percent: "),
        ("safety: {prune: maybe}\n", "safety.prune: must be true or false"),
        (
            "defaults: {callOptOutAction: never}\n",
            "rulesync.yaml:1:30: defaults.callOptOutAction: at most 4 characters",
        ),
        (
            "environments:\n  local:\n    overrides:\n      Nope: {owner: a@b.c}\n",
            "overrides.Nope: no ruleset file declares 'Nope'",
        ),
        (
            "environments:\n  local:\n    defaults: {bogus: 1}\n",
            "environments.local.defaults.bogus: unknown field",
        ),
        ("default_environment: prod\n", "default_environment: 'prod' is not under environments"),
        (
            "defaults: {sequenceExclusivity: null}\n",
            "defaults.sequenceExclusivity: Outreach always stores a value here and turns null"
            " into 'none'",
        ),
        ("[a, b]\n", "rulesync.yaml:1:1: must be a mapping of settings"),
        ("a: b: c\n", "rulesync.yaml:1:5: YAML error"),
    ],
)
def test_broken_config(project: Project, config: str, expected: str) -> None:
    project.write("rulesync.yaml", config)
    project.write("rulesets/a.yaml", "name: A\n")
    code, out = validate(project)
    assert code == 1
    assert expected in out
    assert "Traceback" not in out


def test_missing_config_file_given_explicitly(project: Project) -> None:
    result = project.run("--config", "nope.yaml", "validate")
    assert result.exit_code == 1 and "nope.yaml: config file not found" in result.output


def test_unknown_environment(project: Project) -> None:
    project.write("rulesets/a.yaml", "name: A\n")
    result = project.run("--env", "prodution", "plan")
    assert result.exit_code == 1
    assert "unknown environment 'prodution'" in result.output
    assert "known: local" in result.output


def test_environment_from_rulesync_env(project: Project) -> None:
    project.write("rulesets/a.yaml", "name: A\n")
    project.env["RULESYNC_ENV"] = "staging"
    result = project.run("plan")
    assert result.exit_code == 1
    assert "unknown environment 'staging'" in result.output


def test_held_values_are_kept_with_the_reason_outreach_would_refuse_them(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write("rulesync.yaml", "rulesets_dir: rulesets\n")
    project.ruleset(
        "Legacy",
        "callOptOutAction: {held: never ever}\nsequenceExclusivity: {held: none}\n",
    )
    result = project.run("validate")
    assert result.exit_code == 0, result.output
    assert (
        "rulesets/legacy.yaml:2:26: callOptOutAction: held as Outreach has it; it would be"
        " refused on write (at most 4 characters, got 'never ever')" in result.stderr
    )
    assert "sequenceExclusivity" not in result.stderr  # a valid value is simply managed


def test_a_held_value_must_be_a_plain_value(tmp_path: Path) -> None:
    project = Project(tmp_path)
    project.write("rulesync.yaml", "rulesets_dir: rulesets\n")
    project.ruleset("Legacy", "callOptOutAction: {held: [a, b]}\nowner: {held: x}\n")
    result = project.run("validate")
    assert result.exit_code == 1
    assert "rulesets/legacy.yaml:2:26: callOptOutAction.held: a held value must be a plain" in (
        result.output
    )
    assert "rulesets/legacy.yaml:3:8: owner:" in result.output  # relationships are never held


def test_a_file_of_many_unknown_keys_is_reported_whole_with_suggestions_for_the_first(
    project: Project,
) -> None:
    """Suggestions cost a comparison with every field: past the first hundred unknown keys of
    a document they are left out, so a hostile file stays fast; every key is still reported."""
    keys = "".join(f"includeUnsubscribeLink{i}: true\n" for i in range(150))
    project.write("rulesets/x.yaml", "name: X\n" + keys)
    code, out = validate(project)
    assert code == 1
    lines = [line for line in out.splitlines() if "unknown field" in line]
    assert len(lines) == 150
    hinted = [line for line in lines if "did you mean 'includeUnsubscribeLinks'?" in line]
    assert len(hinted) == 100
    assert lines[0].startswith("rulesets/x.yaml:2:1: includeUnsubscribeLink0: unknown field;")
