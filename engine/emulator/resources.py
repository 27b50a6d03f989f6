"""Ruleset write validation, as the real API does it, and JSON rendering of resources.

Resources are stored pre-rendered (attributes and relationships as JSON text) so that a page of
1000 rulesets is answered by string joins rather than per-row dict building.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rulesync.emulator.jsonapi import ApiError, ErrorItem, encodable, fail, invalid
from rulesync.model import (
    BOOL_FIELDS,
    COUNT_FIELDS,
    DURATION_FIELDS,
    ENUMS,
    NAME_LIMIT,
    RELATIONSHIPS,
    STRING_LIMITS,
)

READ_ONLY_ATTRIBUTES = ("createdAt", "updatedAt")
# Every attribute a ruleset response carries, in the OpenAPI document's (alphabetical) order.
ALL_ATTRIBUTES: tuple[str, ...] = tuple(
    sorted(
        (
            "name",
            *ENUMS,
            *DURATION_FIELDS,
            *COUNT_FIELDS,
            *BOOL_FIELDS,
            *STRING_LIMITS,
            *READ_ONLY_ATTRIBUTES,
        )
    )
)
WRITABLE_ATTRIBUTES = frozenset(ALL_ATTRIBUTES) - set(READ_ONLY_ATTRIBUTES)
# The backing columns are 32-bit in the real service; larger values are refused there too.
INT_MAX = 2_147_483_647
_DATA_MEMBERS = frozenset({"type", "id", "attributes", "relationships", "links", "meta"})

RefExists = Callable[[str, int], bool]


@dataclass(frozen=True)
class RulesetWrite:
    """The validated content of a POST or PATCH: only the members the body mentioned."""

    attributes: dict[str, Any]
    relationships: dict[str, int | None]


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_attribute(name: str, value: Any) -> str | None:
    """Why ``value`` is not acceptable for attribute ``name``, or None when it is."""
    if isinstance(value, str) and not encodable(value):
        return f"{name} is not valid Unicode text"
    if name == "name":
        if not isinstance(value, str) or not value.strip():
            return "name must be a non-blank string"
        if len(value) > NAME_LIMIT:
            return f"name is too long (at most {NAME_LIMIT} characters, got {len(value)})"
        return None
    if value is None:
        return None
    if name in ENUMS:
        if value not in ENUMS[name]:
            allowed = ", ".join(ENUMS[name])
            return f"{name} must be one of {allowed}; got {json.dumps(value)}"
    elif name in DURATION_FIELDS or name in COUNT_FIELDS:
        if not is_int(value):
            return f"{name} must be an integer or null; got {json.dumps(value)}"
        if not 0 <= value <= INT_MAX:
            return f"{name} must be between 0 and {INT_MAX}; got {value}"
    elif name in BOOL_FIELDS:
        if not isinstance(value, bool):
            return f"{name} must be a boolean or null; got {json.dumps(value)}"
    elif name in STRING_LIMITS:
        if not isinstance(value, str):
            return f"{name} must be a string or null; got {json.dumps(value)}"
        if len(value) > STRING_LIMITS[name]:
            limit = STRING_LIMITS[name]
            return f"{name} is too long (at most {limit} characters, got {len(value)})"
    return None


def pointer_token(key: str) -> str:
    """A member name escaped for a JSON Pointer (RFC 6901)."""
    return key.replace("~", "~0").replace("/", "~1")


def _attributes(raw: Any, errors: list[ErrorItem]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.append(invalid("attributes must be an object", "/data/attributes"))
        return {}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        pointer = f"/data/attributes/{pointer_token(key)}"
        if key in READ_ONLY_ATTRIBUTES:
            errors.append(invalid(f"{key} is read-only and cannot be written", pointer))
        elif key not in WRITABLE_ATTRIBUTES:
            errors.append(invalid(f"{key} is not an attribute of ruleset", pointer))
        elif (problem := check_attribute(key, value)) is not None:
            errors.append(invalid(problem, pointer))
        else:
            out[key] = value
    return out


def _relationship(
    name: str, raw: Any, ref_exists: RefExists, errors: list[ErrorItem]
) -> tuple[bool, int | None]:
    pointer = f"/data/relationships/{name}"
    expected = RELATIONSHIPS[name]
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
    raw: Any, ref_exists: RefExists, errors: list[ErrorItem]
) -> dict[str, int | None]:
    if not isinstance(raw, dict):
        errors.append(invalid("relationships must be an object", "/data/relationships"))
        return {}
    out: dict[str, int | None] = {}
    for key, value in raw.items():
        pointer = f"/data/relationships/{pointer_token(key)}"
        if key == "sequences":
            errors.append(invalid("sequences is read-only and cannot be written", pointer))
        elif key not in RELATIONSHIPS:
            errors.append(invalid(f"{key} is not a relationship of ruleset", pointer))
        else:
            ok, ref_id = _relationship(key, value, ref_exists, errors)
            if ok:
                out[key] = ref_id
    return out


def parse_ruleset_write(body: Any, *, url_id: int | None, ref_exists: RefExists) -> RulesetWrite:
    """Validate a POST (``url_id`` None) or PATCH body; raise ApiError listing every problem.

    Following JSON:API, a ``type`` or ``id`` that names another resource than the endpoint is
    409 Conflict; every other problem is 422 with a ``source.pointer``.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise fail(400, "badRequest", "The body must be a JSON object with a data object.")
    data: dict[str, Any] = body["data"]
    errors: list[ErrorItem] = []
    kind = data.get("type")
    if not isinstance(kind, str):
        errors.append(invalid("data.type is required and must be a string", "/data/type"))
    elif kind != "ruleset":
        raise fail(
            409, "conflict", f"data.type must be 'ruleset', got {kind!r}", pointer="/data/type"
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
            errors.append(
                invalid(
                    f"{member} is not a member of a resource object",
                    f"/data/{pointer_token(member)}",
                )
            )
    attributes = _attributes(data.get("attributes", {}), errors)
    relationships = _relationships(data.get("relationships", {}), ref_exists, errors)
    if (
        url_id is None
        and "name" not in attributes
        and not any(e.pointer == "/data/attributes/name" for e in errors)
    ):
        errors.append(invalid("name is required", "/data/attributes/name"))
    if errors:
        raise ApiError(422, errors)
    return RulesetWrite(attributes=attributes, relationships=relationships)


def relationship_json(name: str, ref_id: int | None) -> dict[str, Any]:
    data = None if ref_id is None else {"type": RELATIONSHIPS[name], "id": ref_id}
    return {"data": data}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def render(kind: str, row_id: int, attributes: str, relationships: str, base: str) -> str:
    """One resource object from pre-rendered JSON members (``base`` is the API's root URL)."""
    self_link = dumps(f"{base}/{_COLLECTIONS[kind]}/{row_id}")
    if kind == "ruleset":
        related = dumps(f"{base}/sequences?filter%5Bruleset%5D%5Bid%5D={row_id}")
        sep = "" if relationships == "{}" else ","
        sequences = f'"sequences":{{"links":{{"related":{related}}}}}'
        relationships = f"{relationships[:-1]}{sep}{sequences}}}"
    return (
        f'{{"type":"{kind}","id":{row_id},"attributes":{attributes},'
        f'"relationships":{relationships},"links":{{"self":{self_link}}}}}'
    )


_COLLECTIONS = {
    "ruleset": "rulesets",
    "stage": "stages",
    "taskPriority": "taskPriorities",
    "user": "users",
}
