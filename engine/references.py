"""Stage, task priority and user names <-> ids."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rulesync.desired import Desired
from rulesync.fields import RELATIONSHIPS
from rulesync.live import resource_id
from rulesync.suggest import closest

# JSON:API type -> (collection path, attribute that names it, word for messages)
KINDS: dict[str, tuple[str, str, str]] = {
    "stage": ("stages", "name", "stage"),
    "taskPriority": ("taskPriorities", "name", "task priority"),
    "user": ("users", "email", "user"),
}


@dataclass(frozen=True)
class References:
    """Labels of the reference data that was read: ``{"stage": {2: "Approaching"}}``."""

    labels: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    _index: dict[str, dict[str, list[int]]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    # (kind, name) -> what resolve() answered: the same few names recur in every file
    _resolved: dict[tuple[str, str], tuple[int | None, str]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def label(self, kind: str, ref_id: int) -> str | None:
        return self.labels.get(kind, {}).get(ref_id)

    def ids_named(self, kind: str, label: str) -> list[int]:
        """Ids whose label is ``label`` (emails compare without case); one index per kind."""
        fold = kind == "user"
        index = self._index.get(kind)
        if index is None:
            index = {}
            for ref_id, name in self.labels.get(kind, {}).items():
                index.setdefault(name.lower() if fold else name, []).append(ref_id)
            self._index[kind] = index
        return index.get(label.lower() if fold else label, [])

    def to_json(self) -> dict[str, dict[str, str]]:
        return {
            kind: {str(i): name for i, name in sorted(ids.items())}
            for kind, ids in sorted(self.labels.items())
        }

    @classmethod
    def from_json(cls, data: Any) -> References:
        if not isinstance(data, dict):
            return cls()
        return cls(
            {
                str(kind): {int(i): str(n) for i, n in ids.items() if str(i).isdigit()}
                for kind, ids in data.items()
                if isinstance(ids, dict)
            }
        )


def kinds_named(desired: Iterable[Desired]) -> set[str]:
    """The reference kinds some file refers to, by name or by {id: N} (only those are listed
    from the API: names are resolved, ids checked, and the plan is bound to both)."""
    return {
        RELATIONSHIPS[rel]
        for d in desired
        for rel, ref in d.relationships.items()
        if ref is not None
    }


def labels_from(kind: str, resources: Iterable[dict[str, Any]]) -> dict[int, str]:
    attribute = KINDS[kind][1]
    labels: dict[int, str] = {}
    for item in resources:
        attrs = item.get("attributes") or {}
        value = attrs.get(attribute) if isinstance(attrs, dict) else None
        ref_id = resource_id(item)
        if ref_id is not None and isinstance(value, str):
            labels[ref_id] = value
    return labels


def resolve(kind: str, ref: str | dict[str, int], refs: References) -> tuple[int | None, str]:
    """(id, "") or (None, message naming the closest labels)."""
    if isinstance(ref, dict):
        if ref["id"] in refs.labels.get(kind, {}):
            return ref["id"], ""
        word = KINDS[kind][2]
        return None, f"no {word} with id {ref['id']} in this org; check the id, or use its name"
    known = refs._resolved.get((kind, ref))
    if known is None:
        known = refs._resolved[(kind, ref)] = _resolve_name(kind, ref, refs)
    return known


def _resolve_name(kind: str, ref: str, refs: References) -> tuple[int | None, str]:
    labels = refs.labels.get(kind, {})
    word = KINDS[kind][2]
    hits = refs.ids_named(kind, ref)
    if len(hits) == 1:
        return hits[0], ""
    if len(hits) > 1:
        return None, (f"{word} {ref!r} is ambiguous: ids {sorted(hits)}; refer to one as {{id: N}}")
    near = closest(ref, labels.values())
    hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
    return None, f"no {word} named {ref!r} in this org{hint}"
