"""Live rulesets as typed values, built once (``live_rulesets``) from the JSON:API resources
the API listed; this module is the one place that reads a raw resource.

A hostile or broken server may send anything: a resource without a usable id (a number, or
a string of decimal digits) or name (a string) is never planned. Those with a name but no
usable id are still counted by name, so a file that declares that name is refused rather than
created twice; those with an id but no usable name are counted by id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from rulesync.fields import RELATIONSHIPS


class Ref(NamedTuple):
    """A relationship's target as the server sent it. Well formed, ``type`` is a string and
    ``id`` a number (a string of digits is read as one); anything else is kept as sent, so the
    plan shows it, it equals no reference a file makes, and the fingerprint covers it."""

    type: object
    id: object


_NAMES = tuple(sorted(RELATIONSHIPS))


class Relationships(Mapping[str, "Ref | None"]):
    """The target of every writable relationship (None: it points nowhere, or the server did
    not send it), read from the server's relationship objects when asked: a view, not a copy
    (a dict or tuple per ruleset would cost megabytes at 10,000 rulesets)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw

    def __getitem__(self, name: str) -> Ref | None:
        if name not in RELATIONSHIPS:
            raise KeyError(name)
        return _ref(self._raw.get(name))

    def __iter__(self) -> Iterator[str]:
        return iter(_NAMES)

    def __len__(self) -> int:
        return len(_NAMES)

    def __repr__(self) -> str:
        return f"Relationships({dict(self)!r})"


@dataclass(frozen=True, slots=True)
class LiveRuleset:
    """One live ruleset with a usable id and name. ``attributes`` and ``raw`` are the
    server's own objects (read only); ``relationships`` holds the target of every writable
    relationship."""

    id: int
    name: str
    attributes: Mapping[str, Any]
    relationships: Relationships
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class LiveRulesets:
    """A listing of live rulesets: those with a usable id and name; the names of those
    without a usable id and the ids of those without a usable name (once per ruleset)."""

    rulesets: tuple[LiveRuleset, ...] = ()
    without_id: tuple[str, ...] = ()
    without_name: tuple[int, ...] = ()

    def names(self) -> list[str]:
        """Every usable live name, those without a usable id too."""
        return [*(r.name for r in self.rulesets), *self.without_id]

    def ids(self) -> set[int]:
        """Every usable live id, those without a usable name too."""
        return {*(r.id for r in self.rulesets), *self.without_name}


def live_rulesets(resources: Iterable[Mapping[str, Any]]) -> LiveRulesets:
    """The listing of ``resources`` (JSON:API ruleset objects) as typed values."""
    rulesets: list[LiveRuleset] = []
    without_id: list[str] = []
    without_name: list[int] = []
    for resource in resources:
        rid = json_id(resource.get("id"))
        attributes = resource.get("attributes")
        name = attributes.get("name") if isinstance(attributes, dict) else None
        if not isinstance(attributes, dict) or not isinstance(name, str):
            if rid is not None:
                without_name.append(rid)
            continue
        if rid is None:
            without_id.append(name)
            continue
        rels = resource.get("relationships")
        relationships = Relationships(rels) if isinstance(rels, dict) else _NO_RELATIONSHIPS
        rulesets.append(LiveRuleset(rid, name, attributes, relationships, resource))
    return LiveRulesets(tuple(rulesets), tuple(without_id), tuple(without_name))


def json_id(value: object) -> int | None:
    """A JSON:API id as a number: an int (not a bool) or a string of decimal digits; None
    for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdecimal():
        return int(value)
    return None


def resource_id(resource: Mapping[str, Any]) -> int | None:
    """The usable id of any JSON:API resource (a ruleset, a sequence, a stage), or None."""
    return json_id(resource.get("id"))


def resource_name(resource: Mapping[str, Any]) -> str | None:
    """The ``name`` attribute of any JSON:API resource when it is a string, else None."""
    attrs = resource.get("attributes")
    name = attrs.get("name") if isinstance(attrs, dict) else None
    return name if isinstance(name, str) else None


def relationship(resource: Mapping[str, Any], field: str) -> Ref | None:
    """The target of the relationship ``field`` of any JSON:API resource, or None."""
    rels = resource.get("relationships")
    return _ref(rels.get(field)) if isinstance(rels, dict) else None


def ruleset_of(sequence: Mapping[str, Any]) -> int | None:
    """The id of the ruleset a sequence uses (None: no ruleset, or none readable)."""
    ref = relationship(sequence, "ruleset")
    rid = ref.id if ref is not None else None
    return rid if isinstance(rid, int) and not isinstance(rid, bool) else None


def _ref(raw: object) -> Ref | None:
    """A JSON:API relationship object -> its Ref, or None (no ``data`` object)."""
    data = raw.get("data") if isinstance(raw, dict) else None
    if not isinstance(data, dict):
        return None
    ref_id = data.get("id")
    if isinstance(ref_id, str) and ref_id.isdecimal():
        ref_id = int(ref_id)
    return Ref(data.get("type"), ref_id)


_NO_RELATIONSHIPS = Relationships({})
