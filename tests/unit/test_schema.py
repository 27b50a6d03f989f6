"""`rulesync schema`: the JSON Schema editors use, kept in the repository and in step."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from tests.helpers import Project

ROOT = Path(__file__).resolve().parents[2]


def schema_output(tmp_path: Path) -> dict[str, object]:
    result = Project(tmp_path).run("schema")
    assert result.exit_code == 0
    return dict(json.loads(result.stdout))


def test_committed_schema_matches_the_command(tmp_path: Path) -> None:
    committed = json.loads((ROOT / "ruleset.schema.json").read_text())
    assert committed == schema_output(tmp_path), "run: rulesync schema > ruleset.schema.json"


def test_example_rulesets_conform_and_bad_ones_do_not(tmp_path: Path) -> None:
    schema = schema_output(tmp_path)
    validator = jsonschema.Draft202012Validator(schema)
    examples = sorted((ROOT / "rulesets").rglob("*.yaml"))
    assert len(examples) >= 4
    for path in examples:
        for doc in yaml.safe_load_all(path.read_text()):
            assert list(validator.iter_errors(doc)) == [], path
    bad = {
        "name": "X",
        "callOptOutAction": "never",
        "sequenceExclusivty": "none",
        "autoResumeOotoProspectsIn": "3 days",
        "owner": 5,
    }
    messages = " ".join(e.message for e in validator.iter_errors(bad))
    assert "sequenceExclusivty" in messages  # unknown keys are flagged
    assert len(list(validator.iter_errors(bad))) == 4
    assert "name" in schema["required"]  # type: ignore[operator]


def _walk(node: object) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            found += _walk(value)
    elif isinstance(node, list):
        for value in node:
            found += _walk(value)
    return found


def test_every_ruleset_field_has_a_title_and_outreach_s_description(tmp_path: Path) -> None:
    schema = schema_output(tmp_path)
    properties = schema["properties"]
    assert isinstance(properties, dict)
    for name, spec in properties.items():
        assert spec["title"] and spec["description"], name
        assert "<img" not in spec["description"] and "filter[" not in spec["description"]
    # the text of Outreach's OpenAPI document, and what rulesync adds to it
    unsubscribe = properties["includeUnsubscribeLinks"]
    assert unsubscribe["title"] == "Include unsubscribe links"
    assert unsubscribe["description"].startswith(
        "A boolean value whether to include unsubscribe links within emails."
    )
    assert properties["autoResumeOotoProspectsIn"]["title"] == "Auto resume OOTO prospects in"
    assert "90s, 15m, 2h, 3d, 1w" in properties["autoResumeOotoProspectsIn"]["description"]
    started = properties["startedStage"]["description"]
    assert started.startswith("The stage to assign to the prospect when this sequence starts.")
    assert "By stage name, or {id: N}." in started
    assert "By email" in properties["owner"]["description"]


def test_completion_never_inserts_a_managed_null(tmp_path: Path) -> None:
    for node in _walk(schema_output(tmp_path)):
        assert "default" not in node or node["default"] is not None, node
    properties = schema_output(tmp_path)["properties"]
    assert isinstance(properties, dict)
    assert not [name for name, spec in properties.items() if "default" in spec]


def config_output(tmp_path: Path) -> dict[str, object]:
    result = Project(tmp_path).run("schema", "config")
    assert result.exit_code == 0
    return dict(json.loads(result.stdout))


def test_committed_config_schema_matches_the_command(tmp_path: Path) -> None:
    committed = json.loads((ROOT / "rulesync.schema.json").read_text())
    assert committed == config_output(tmp_path), (
        "run: rulesync schema config > rulesync.schema.json"
    )


def test_config_schema_accepts_real_configs_and_flags_typos(tmp_path: Path) -> None:
    validator = jsonschema.Draft202012Validator(config_output(tmp_path))
    for path in (ROOT / "rulesync.yaml", ROOT / "examples/config-repo/rulesync.yaml"):
        assert list(validator.iter_errors(yaml.safe_load(path.read_text()))) == [], path
    bad = {
        "rulesets_dri": "x",
        "safety": {"max_change_percent": 300},
        "environments": {"p": {"api_url": "embedded", "overrides": {"A": {"owner": 5}}}},
        "defaults": {"callOptOutAction": "never"},
    }
    errors = list(validator.iter_errors(bad))
    messages = " ".join(e.message for e in errors)
    assert "rulesets_dri" in messages
    assert len(errors) == 4
    for node in _walk(config_output(tmp_path)):
        assert "default" not in node or node["default"] is not None, node
    properties = config_output(tmp_path)["properties"]
    assert isinstance(properties, dict)
    for name, spec in properties.items():
        assert spec["title"] and spec["description"], name
