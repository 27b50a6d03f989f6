"""Write validation, as Outreach does it, and JSON rendering of resources.

The field table comes from the official document (``openapi.py``); the value rules beyond it
from ``rules.py``. Resources are stored pre-rendered (attributes and relationships as JSON
text) so that a page of 1000 rulesets is answered by string joins rather than per-row dict
building.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rulesync.emulator import rules
from rulesync.emulator.jsonapi import ApiError, ErrorItem, encodable, fail, invalid
from rulesync.emulator.openapi import Attribute, Resource, resource

# Types the emulator stores, and so can be the target of a written relationship.
STORED_TYPES = ("ruleset", "sequence", "stage", "taskPriority", "user")
# What each type accepts on a write here: rulesets in full; sequences only their ruleset.
WRITABLE_RELATIONSHIPS: dict[str, frozenset[str] | None] = {
    "ruleset": None,  # every writable to-one relationship of the document
    "sequence": frozenset({"ruleset"}),
}
WRITABLE_ATTRIBUTES: dict[str, bool] = {"ruleset": True, "sequence": False}
_DATA_MEMBERS = frozenset({"type", "id", "attributes", "relationships", "links", "meta"})

RefExists = Callable[[str, int], bool]


@dataclass(frozen=True)
class Write:
    """The validated content of a POST or PATCH: only the members the body mentioned."""

    attributes: dict[str, Any]
    relationships: dict[str, int | None]


# The name other code and older tests use for a ruleset write.
RulesetWrite = Write


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def all_attributes(kind: str) -> tuple[str, ...]:
    """Every attribute a response of ``kind`` carries, in the document's order."""
    return tuple(a for a, spec in resource(kind).attributes.items() if not spec.write_only)


def to_one(kind: str) -> dict[str, str]:
    """The to-one relationships of ``kind`` that point at stored types: name -> type."""
    return {n: t for n, t in resource(kind).to_one().items() if t in STORED_TYPES}


def _check_type(spec: Attribute, value: Any, kind: str) -> str | None:
    name = spec.name
    if spec.type == "integer":
        if not is_int(value):
            return f"{name} must be an integer or null; got {json.dumps(value)}"
        if kind == "ruleset" and not rules.INT_MIN <= value <= rules.INT_MAX:
            return f"{name} must be between {rules.INT_MIN} and {rules.INT_MAX}; got {value}"
    elif spec.type == "boolean":
        if not isinstance(value, bool):
            return f"{name} must be a boolean or null; got {json.dumps(value)}"
    elif spec.type == "string":
        if not isinstance(value, str):
            return f"{name} must be a string or null; got {json.dumps(value)}"
        if spec.max_length is not None and len(value) > spec.max_length:
            return f"{name} is too long (at most {spec.max_length} characters, got {len(value)})"
    return None


def check_attribute(kind: str, name: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for attribute ``name`` of ``kind``, or None."""
    spec = resource(kind).attributes[name]
    if isinstance(value, str) and not encodable(value):
        return f"{name} is not valid Unicode text"
    blank = not isinstance(value, str) or not value.strip()
    if name == "name" and kind in rules.REQUIRED_NAME and blank:
        return "name must be a non-blank string"
    enumerated = rules.ENUMERATED.get(kind, {}).get(name)
    if value is None:
        return None if spec.nullable or enumerated else f"{name} cannot be null"
    if enumerated is not None and value not in enumerated.values:
        allowed = ", ".join(enumerated.values)
        return f"{name} must be one of {allowed}; got {json.dumps(value)}"
    return _check_type(spec, value, kind)


def pointer_token(key: str) -> str:
    """A member name escaped for a JSON Pointer (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def _attributes(kind: str, raw: Any, errors: list[ErrorItem]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.append(invalid("attributes must be an object", "/data/attributes"))
        return {}
    table = resource(kind).attributes
    out: dict[str, Any] = {}
    for key, value in raw.items():
        pointer = f"/data/attributes/{pointer_token(key)}"
        spec = table.get(key)
        if spec is None:
            errors.append(invalid(f"{key} is not an attribute of {kind}", pointer))
        elif spec.read_only:
            errors.append(invalid(f"{key} is read-only and cannot be written", pointer))
        elif not WRITABLE_ATTRIBUTES.get(kind, False):
            errors.append(invalid(f"{key} cannot be written through this emulator", pointer))
        elif (problem := check_attribute(kind, key, value)) is not None:
            errors.append(invalid(problem, pointer))
        else:
            enumerated = rules.ENUMERATED.get(kind, {}).get(key)
            out[key] = enumerated.default if value is None and enumerated else value
    return out


def _relationship(
    name: str, expected: str, raw: Any, ref_exists: RefExists, errors: list[ErrorItem]
) -> tuple[bool, int | None]:
    pointer = f"/data/relationships/{name}"
    if not isinstance(raw, dict) or "data" not in raw:
        errors.append(invalid(f"{name} must be an object with a data member", pointer))
        return False, None
    data = raw["data"]
    if data is None:
        return True, None
    if not isinstance(data, dict):
        errors.append(invalid(f"{name}.data must be a resource identifier or null", pointer))
        return False, None
    if data.get("type") != expected:
        got = json.dumps(data.get("type"))
        errors.append(invalid(f"{name} must reference a {expected}; got type {got}", pointer))
        return False, None
    ref_id: Any = data.get("id")
    if not is_int(ref_id) or ref_id < 1:
        errors.append(invalid(f"{name}.data.id must be a positive integer", pointer))
        return False, None
    if not ref_exists(expected, ref_id):
        errors.append(
            invalid(f"{name} references {expected} {ref_id}, which does not exist", pointer)
        )
        return False, None
    return True, ref_id


def _relationships(
    kind: str, raw: Any, ref_exists: RefExists, errors: list[ErrorItem]
) -> dict[str, int | None]:
    if not isinstance(raw, dict):
        errors.append(invalid("relationships must be an object", "/data/relationships"))
        return {}
    table = resource(kind).relationships
    allowed = WRITABLE_RELATIONSHIPS.get(kind, frozenset())
    targets = to_one(kind)
    out: dict[str, int | None] = {}
    for key, value in raw.items():
        pointer = f"/data/relationships/{pointer_token(key)}"
        spec = table.get(key)
        if spec is None:
            errors.append(invalid(f"{key} is not a relationship of {kind}", pointer))
        elif spec.read_only or spec.to_many:
            errors.append(invalid(f"{key} is read-only and cannot be written", pointer))
        elif key not in targets or (allowed is not None and key not in allowed):
            errors.append(invalid(f"{key} cannot be written through this emulator", pointer))
        else:
            ok, ref_id = _relationship(key, targets[key], value, ref_exists, errors)
            if ok:
                out[key] = ref_id
    return out


def _check_envelope(kind: str, data: dict[str, Any], url_id: int | None) -> list[ErrorItem]:
    errors: list[ErrorItem] = []
    given = data.get("type")
    if not isinstance(given, str):
        errors.append(invalid("data.type is required and must be a string", "/data/type"))
    elif given != kind:
        raise fail(
            409, "conflict", f"data.type must be {kind!r}, got {given!r}", pointer="/data/type"
        )
    if url_id is None:
        if "id" in data:
            errors.append(invalid("data.id must not be given: the server assigns ids", "/data/id"))
    elif not is_int(data.get("id")):
        errors.append(invalid("data.id is required and must be an integer", "/data/id"))
    elif data["id"] != url_id:
        detail = f"data.id {data['id']} does not match the id {url_id} in the URL"
        raise fail(409, "conflict", detail, pointer="/data/id")
    for member in data:
        if member not in _DATA_MEMBERS:
            pointer = f"/data/{pointer_token(member)}"
            errors.append(invalid(f"{member} is not a member of a resource object", pointer))
    return errors


def parse_write(kind: str, body: Any, *, url_id: int | None, ref_exists: RefExists) -> Write:
    """Validate a POST (``url_id`` None) or PATCH body; raise ApiError listing every problem.

    Following JSON:API, a ``type`` or ``id`` that names another resource than the endpoint is
    409 Conflict; every other problem is 422 with a ``source.pointer``.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise fail(400, "badRequest", "The body must be a JSON object with a data object.")
    data: dict[str, Any] = body["data"]
    errors = _check_envelope(kind, data, url_id)
    attributes = _attributes(kind, data.get("attributes", {}), errors)
    relationships = _relationships(kind, data.get("relationships", {}), ref_exists, errors)
    if (
        url_id is None
        and kind in rules.REQUIRED_NAME
        and "name" not in attributes
        and not any(e.pointer == "/data/attributes/name" for e in errors)
    ):
        errors.append(invalid("name is required", "/data/attributes/name"))
    if errors:
        raise ApiError(422, errors)
    return Write(attributes=attributes, relationships=relationships)


def parse_ruleset_write(body: Any, *, url_id: int | None, ref_exists: RefExists) -> Write:
    return parse_write("ruleset", body, url_id=url_id, ref_exists=ref_exists)


def creation_defaults(kind: str) -> dict[str, Any]:
    """What a create stores for attributes the body leaves out (PAGE defaults, else null)."""
    out: dict[str, Any] = dict.fromkeys(all_attributes(kind))
    for name, enumerated in rules.ENUMERATED.get(kind, {}).items():
        out[name] = enumerated.default
    return out


def relationship_json(kind: str, name: str, ref_id: int | None) -> dict[str, Any]:
    data = None if ref_id is None else {"type": to_one(kind)[name], "id": ref_id}
    return {"data": data}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _to_many_links(spec: Resource, row_id: int, base: str) -> list[str]:
    """Links of the to-many relationships clients can follow here (a ruleset's sequences)."""
    parts = []
    if spec.type == "ruleset" and "sequences" in spec.relationships:
        related = dumps(f"{base}/sequences?filter%5Bruleset%5D%5Bid%5D={row_id}")
        parts.append(f'"sequences":{{"links":{{"related":{related}}}}}')
    return parts


def _sparse(text: str, keep: frozenset[str] | None) -> str:
    if keep is None:
        return text
    members: dict[str, Any] = json.loads(text)
    return dumps({k: v for k, v in members.items() if k in keep})


def render(
    kind: str,
    row_id: int,
    attributes: str,
    relationships: str,
    base: str,
    *,
    fields: frozenset[str] | None = None,
    meta: str | None = None,
) -> str:
    """One resource object from pre-rendered JSON members (``base`` is the API's root URL).
    ``fields`` is a sparse fieldset (attribute and relationship names to keep)."""
    spec = resource(kind)
    self_link = dumps(f"{base}/{spec.collection}/{row_id}")
    extra = [
        p
        for p in _to_many_links(spec, row_id, base)
        if fields is None or p[1:].split('"')[0] in fields
    ]
    relationships = _sparse(relationships, fields)
    if extra:
        sep = "" if relationships == "{}" else ","
        relationships = f"{relationships[:-1]}{sep}{','.join(extra)}}}"
    tail = f',"meta":{meta}' if meta is not None else ""
    return (
        f'{{"type":"{kind}","id":{row_id},"attributes":{_sparse(attributes, fields)},'
        f'"relationships":{relationships},"links":{{"self":{self_link}}}{tail}}}'
    )
