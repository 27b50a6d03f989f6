"""Normalized ruleset documents: ``{"attributes": {...}, "relationships": {REL: {type, id}}}``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any, Literal, TypedDict

from rulesync.fields import RELATIONSHIPS

Document = dict[str, dict[str, Any]]


class _PatchPath(TypedDict):
    op: Literal["add", "replace", "remove"]
    path: str  # /attributes/FIELD or /relationships/REL


class PatchOp(_PatchPath, total=False):
    """One RFC 6902 operation of an update's patch; ``remove`` has no ``value``."""

    value: Any  # any JSON value a field holds


def rel_value(raw: Any) -> dict[str, Any] | None:
    """A JSON:API relationship object -> ``{"type", "id"}`` or None, whatever shape it came in."""
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, dict):
        return None
    ref_id = data.get("id")
    if isinstance(ref_id, str) and ref_id.isdigit():
        ref_id = int(ref_id)
    return {"type": data.get("type"), "id": ref_id}


def live_document(resource: dict[str, Any], fields: Iterable[str]) -> Document:
    """The live ruleset restricted to ``fields`` (attribute or relationship names)."""
    attrs = resource.get("attributes")
    rels = resource.get("relationships")
    attrs = attrs if isinstance(attrs, dict) else {}
    rels = rels if isinstance(rels, dict) else {}
    doc: Document = {"attributes": {}, "relationships": {}}
    for name in fields:
        if name in RELATIONSHIPS:
            doc["relationships"][name] = rel_value(rels.get(name))
        else:
            doc["attributes"][name] = attrs.get(name)
    return doc


def full_document(resource: dict[str, Any]) -> Document:
    """Every attribute the API returned and every writable relationship, sorted."""
    attrs = resource.get("attributes")
    attrs = attrs if isinstance(attrs, dict) else {}
    names = sorted(k for k in attrs if isinstance(k, str))
    return live_document(resource, [*names, *sorted(RELATIONSHIPS)])


def fingerprint(resource: dict[str, Any]) -> str:
    """``sha256:...`` of the live ruleset: any change to it (in any field) changes this."""
    canonical = json.dumps(
        full_document(resource), sort_keys=True, separators=(",", ":"), default=str
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def resource_id(resource: dict[str, Any]) -> int | None:
    value = resource.get("id")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def resource_name(resource: dict[str, Any]) -> str | None:
    attrs = resource.get("attributes")
    name = attrs.get("name") if isinstance(attrs, dict) else None
    return name if isinstance(name, str) else None


def diff(before: Document, after: Document) -> list[PatchOp]:
    """RFC 6902 ops (add/replace/remove), one per field: paths ``/attributes/F``,
    ``/relationships/R``. Field-level on purpose: a relationship changes as a whole."""
    ops: list[PatchOp] = []
    for section in ("attributes", "relationships"):
        old, new = before.get(section, {}), after.get(section, {})
        for name in sorted(set(old) | set(new)):
            path = f"/{section}/{_escape(name)}"
            if name not in new:
                ops.append({"op": "remove", "path": path})
            elif name not in old:
                ops.append({"op": "add", "path": path, "value": new[name]})
            elif not _same(old[name], new[name]):
                ops.append({"op": "replace", "path": path, "value": new[name]})
    return ops


def matches_live(resource: dict[str, Any], after: Document) -> bool:
    """Whether the live ``resource`` already holds every field of ``after``: the answer of
    ``not diff(live_document(resource, [*attributes, *relationships of after]), after)``, as
    the planner asks it, without building the live document (most rulesets are unchanged)."""
    attributes, relationships = after.get("attributes", {}), after.get("relationships", {})
    if not (
        RELATIONSHIPS.keys().isdisjoint(attributes) and RELATIONSHIPS.keys() >= relationships.keys()
    ):
        return not diff(live_document(resource, [*attributes, *relationships]), after)
    attrs = resource.get("attributes")
    attrs = attrs if isinstance(attrs, dict) else {}
    for name, value in attributes.items():
        old = attrs.get(name)
        if type(old) is not type(value) or old != value:
            return False
    rels = resource.get("relationships")
    rels = rels if isinstance(rels, dict) else {}
    return all(_same(rel_value(rels.get(name)), value) for name, value in relationships.items())


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python; a live `1` where the file says `true` is still a change
    return type(a) is type(b) and a == b


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")


def ruleset_of(sequence: dict[str, Any]) -> int | None:
    """The id of the ruleset a sequence uses (None: no ruleset)."""
    rels = sequence.get("relationships")
    ruleset = rel_value(rels.get("ruleset")) if isinstance(rels, dict) else None
    rid = ruleset.get("id") if ruleset else None
    return rid if isinstance(rid, int) and not isinstance(rid, bool) else None
