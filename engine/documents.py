"""Normalized ruleset documents: ``{"attributes": {...}, "relationships": {REL: {type, id}}}``."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any, Literal, TypedDict

from rulesync.fields import RELATIONSHIPS
from rulesync.live import LiveRuleset, Ref

Document = dict[str, dict[str, Any]]


class _PatchPath(TypedDict):
    op: Literal["add", "replace", "remove"]
    path: str  # /attributes/FIELD or /relationships/REL


class PatchOp(_PatchPath, total=False):
    """One RFC 6902 operation of an update's patch; ``remove`` has no ``value``."""

    value: Any  # any JSON value a field holds


def live_document(live: LiveRuleset, fields: Iterable[str]) -> Document:
    """The live ruleset restricted to ``fields`` (attribute or relationship names)."""
    attrs, rels = live.attributes, live.relationships
    doc: Document = {"attributes": {}, "relationships": {}}
    for name in fields:
        if name in RELATIONSHIPS:
            doc["relationships"][name] = _rel_value(rels.get(name))
        else:
            doc["attributes"][name] = attrs.get(name)
    return doc


def full_document(live: LiveRuleset) -> Document:
    """Every attribute the API returned and every writable relationship, sorted."""
    names = sorted(k for k in live.attributes if isinstance(k, str))
    return live_document(live, [*names, *sorted(RELATIONSHIPS)])


def fingerprint(live: LiveRuleset) -> str:
    """``sha256:...`` of the live ruleset: any change to it (in any field) changes this."""
    canonical = json.dumps(full_document(live), sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _rel_value(ref: Ref | None) -> dict[str, Any] | None:
    """A relationship as a document holds it: ``{"type", "id"}`` or None."""
    return None if ref is None else {"type": ref.type, "id": ref.id}


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


def compare(live: LiveRuleset, after: Document) -> tuple[Document, list[PatchOp]]:
    """``live`` as a document of the fields ``after`` declares, and the patch from it to
    ``after``: the one diff the planner, the applier's lost-create repair and verification
    share. Fields ``after`` leaves out are not compared (they stay unmanaged)."""
    fields = [*after.get("attributes", {}), *after.get("relationships", {})]
    before = live_document(live, fields)
    return before, diff(before, after)


def matches_live(live: LiveRuleset, after: Document) -> bool:
    """Whether ``live`` already holds every field of ``after``: the answer of
    ``not diff(live_document(live, [*attributes, *relationships of after]), after)``, as the
    planner asks it, without building the live document (most rulesets are unchanged)."""
    attributes, relationships = after.get("attributes", {}), after.get("relationships", {})
    if not (
        RELATIONSHIPS.keys().isdisjoint(attributes) and RELATIONSHIPS.keys() >= relationships.keys()
    ):
        return not compare(live, after)[1]
    attrs = live.attributes
    for name, value in attributes.items():
        old = attrs.get(name)
        if type(old) is not type(value) or old != value:
            return False
    rels = live.relationships
    return all(_same(_rel_value(rels.get(name)), value) for name, value in relationships.items())


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python; a live `1` where the file says `true` is still a change
    return type(a) is type(b) and a == b


def _escape(name: str) -> str:
    return name.replace("~", "~0").replace("/", "~1")
