"""The emulator is a reference for Outreach, not for rulesync: it imports nothing from the
rest of the package, and its field table is the one in the official documents."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from rulesync.emulator.openapi import resource

EMULATOR = Path(__file__).resolve().parents[2] / "engine" / "emulator"


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # a relative import stays inside the emulator package
                continue
            names.append(node.module or "")
    return names


def test_the_emulator_imports_nothing_from_the_engine() -> None:
    files = sorted(EMULATOR.rglob("*.py"))
    assert len(files) > 5
    offending = [
        f"{path.name}: {name}"
        for path in files
        for name in imported_modules(path)
        if (name == "rulesync" or name.startswith("rulesync."))
        and not name.startswith("rulesync.emulator")
    ]
    assert offending == []


def test_the_independence_check_would_catch_an_engine_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from rulesync.model import ENUMS\nimport rulesync.client\n", encoding="utf-8")
    assert imported_modules(bad) == ["rulesync.model", "rulesync.client"]


def test_field_table_is_read_from_the_bundled_documents() -> None:
    document = json.loads((EMULATOR / "openapi-rulesets.json").read_text(encoding="utf-8"))
    properties = document["components"]["schemas"]["ruleset"]["properties"]
    ruleset = resource("ruleset")
    assert set(ruleset.attributes) == set(properties)
    assert ruleset.attributes["callOptOutAction"].max_length == 4
    assert ruleset.attributes["name"].filterable and ruleset.attributes["name"].sortable
    assert ruleset.attributes["updatedAt"].read_only
    assert not ruleset.attributes["meetingBookedAction"].filterable
    assert ruleset.to_one()["owner"] == "user"
    assert ruleset.relationships["sequences"].to_many
    sequence = resource("sequence")
    assert sequence.to_one()["ruleset"] == "ruleset"
    assert sequence.attributes["enabled"].read_only
    assert sequence.collection == "sequences"


def test_the_engine_agrees_with_the_reference() -> None:
    """Two independent readings of Outreach's documents: the engine's field rules and the
    emulator's. A mistake on either side shows here instead of passing unnoticed."""
    from rulesync import fields as model
    from rulesync.emulator import rules

    ruleset = resource("ruleset")
    limits = {n: a.max_length for n, a in ruleset.attributes.items() if a.type == "string"}
    assert {n: limits[n] for n in model.STRING_LIMITS} == model.STRING_LIMITS
    assert limits["name"] == model.NAME_LIMIT
    writable = {n for n, a in ruleset.attributes.items() if not a.read_only}
    assert writable == {"name", *model.ATTRIBUTES}
    assert ruleset.to_one() == model.RELATIONSHIPS
    integers = {n for n, a in ruleset.attributes.items() if a.type == "integer"}
    assert integers == {*model.DURATION_FIELDS, *model.COUNT_FIELDS}
    booleans = {n for n, a in ruleset.attributes.items() if a.type == "boolean"}
    assert booleans == set(model.BOOL_FIELDS)
    enumerated = rules.ENUMERATED["ruleset"]
    assert {n: e.values for n, e in enumerated.items()} == model.ENUMS
    assert {n: e.default for n, e in enumerated.items()} == model.STORED_DEFAULTS
