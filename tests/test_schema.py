"""`rulesync schema`: the JSON Schema editors use, kept in the repository and in step."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from tests.helpers import Project

ROOT = Path(__file__).resolve().parent.parent


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
