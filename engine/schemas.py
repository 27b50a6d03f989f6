"""JSON Schemas for editors (yaml-language-server): ruleset files and rulesync.yaml.

Every field gets a title and a description; a ruleset field's description is Outreach's own,
from its OpenAPI document (shipped with the emulator). No field of a ruleset has a default:
an omitted field is unmanaged, and an editor that completed `field: null` would make it
managed and empty.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any

from rulesync.config import config_schema as config_core_schema
from rulesync.fields import DURATION_FIELDS, RELATIONSHIPS
from rulesync.model import json_schema, ruleset_fields_json_schema, ruleset_json_schema

DRAFT = "https://json-schema.org/draft/2020-12/schema"

OURS = {
    "name": "The name of the ruleset: unique, and how rulesync finds the live ruleset.",
    "previousNames": "Names this ruleset had before: renaming is then an update, not a delete "
    "and a create.",
    "id": "Pins the live ruleset with this id (needed when live names repeat).",
}
NULL_NOTE = "Omit it to leave it unmanaged; null means the live value must be empty."
DURATION_NOTE = "In seconds, or as a duration: 90s, 15m, 2h, 3d, 1w."
REFERENCE_NOTE = {
    "user": "By email, or {id: N}.",
    "stage": "By stage name, or {id: N}.",
    "taskPriority": "By task priority name, or {id: N}.",
}

CONFIG = {
    "rulesets_dir": "Folder of ruleset files (*.yaml, *.yml, read recursively).",
    "default_environment": "The environment used without --env or RULESYNC_ENV.",
    "defaults": "Ruleset fields under every ruleset; a file's own value wins.",
    "manage": "Name patterns (* and ? wildcards) of the live rulesets rulesync manages; "
    "others are never touched.",
    "safety": "Rules that refuse dangerous plans (--force overrides).",
    "environments": "The Outreach orgs (or emulators) to plan and apply, by name.",
    "prune": "Delete live rulesets (inside manage) that no file declares.",
    "protect": "Name patterns (* and ? wildcards) never deleted or renamed.",
    "max_change_percent": "Refuse plans whose updates and deletes exceed this percentage of "
    "the live managed rulesets...",
    "min_existing": "...once at least this many live managed rulesets exist.",
    "api_url": "The API's base URL, or `embedded` for the built-in emulator; required for "
    "every environment but `local`.",
    "auth": "Where the credentials come from: names of environment variables, never values.",
    "overrides": "Ruleset fields per ruleset name, over the file's values.",
    "access_token_env": "Environment variable holding a bearer access token.",
    "client_id_env": "Environment variable holding the OAuth client id.",
    "client_secret_env": "Environment variable holding the OAuth client secret.",
    "refresh_token_env": "Environment variable holding the OAuth refresh token.",
    "token_url": "The OAuth token endpoint.",
}
MODEL_TITLES = {
    "AuthModel": "Credentials",
    "EnvironmentModel": "Environment",
    "SafetyModel": "Safety rules",
    "IdRef": "Reference by id",
}


def _official() -> dict[str, str]:
    """Field name -> Outreach's description, without badges and filter notes."""
    doc = json.loads(
        (files("rulesync.emulator") / "openapi-rulesets.json").read_text(encoding="utf-8")
    )
    schemas = doc["components"]["schemas"]
    out: dict[str, str] = {}
    for section in ("ruleset", "rulesetRelationships"):
        for name, spec in schemas[section]["properties"].items():
            text = re.sub(r"<img [^>]*>", "", str(spec.get("description", "")))
            text = re.sub(r"\s*You can use only the attribute id to filter.*", "", text, flags=re.S)
            out[name] = " ".join(text.split())
    return out


def title(name: str) -> str:
    """``autoResumeOotoProspectsIn`` -> ``Auto resume OOTO prospects in``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").split()
    words = [w.upper() if w.lower() in ("ooto", "sms", "api", "url", "id") else w for w in words]
    text = " ".join(w if w.isupper() else w.lower() for w in words)
    return text[:1].upper() + text[1:]


def _describe_ruleset_field(name: str, spec: dict[str, Any], official: dict[str, str]) -> None:
    spec.pop("default", None)
    spec["title"] = title(name)
    parts = [OURS.get(name) or official.get(name, "")]
    if name in DURATION_FIELDS:
        parts.append(DURATION_NOTE)
    if name in RELATIONSHIPS:
        parts.append(REFERENCE_NOTE[RELATIONSHIPS[name]])
    if name not in OURS:
        parts.append(NULL_NOTE)
    spec["description"] = " ".join(p for p in parts if p)


def _ruleset_properties(schema: dict[str, Any]) -> None:
    official = _official()
    for name, spec in schema["properties"].items():
        _describe_ruleset_field(name, spec, official)


def ruleset_schema() -> dict[str, Any]:
    """The JSON Schema of one document of a ruleset file."""
    schema = ruleset_json_schema()
    _ruleset_properties(schema)
    for name, nice in MODEL_TITLES.items():
        if name in schema.get("$defs", {}):
            schema["$defs"][name]["title"] = nice
    return schema


def _describe(schema: dict[str, Any]) -> None:
    for name, spec in schema.get("properties", {}).items():
        spec["title"] = title(name)
        if name in CONFIG:
            spec["description"] = CONFIG[name]


def config_schema() -> dict[str, Any]:
    """The JSON Schema of rulesync.yaml; `defaults` and `overrides` complete ruleset fields."""
    schema = json_schema(config_core_schema())
    schema["$schema"] = DRAFT
    schema["title"] = "rulesync configuration (rulesync.yaml)"
    schema["description"] = "Every key is optional; an omitted key takes its default."
    fields = ruleset_fields_json_schema()
    _ruleset_properties(fields)
    defs = schema.setdefault("$defs", {})
    defs.update(fields.pop("$defs", {}))
    defs["RulesetFields"] = {**fields, "title": "Ruleset fields"}
    ref = {"$ref": "#/$defs/RulesetFields"}
    for holder in (schema, defs["EnvironmentModel"]):
        holder["properties"]["defaults"] = {"allOf": [ref]}
    defs["EnvironmentModel"]["properties"]["overrides"] = {
        "type": "object",
        "additionalProperties": ref,
    }
    for name, nice in MODEL_TITLES.items():
        defs[name]["title"] = nice
    for part in (schema, *defs.values()):
        if part is not defs["RulesetFields"]:
            _describe(part)
    _drop_null_defaults(schema)
    return schema


def _drop_null_defaults(node: Any) -> None:
    if isinstance(node, dict):
        if "default" in node and node["default"] is None:
            del node["default"]
        for value in node.values():
            _drop_null_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_null_defaults(value)
