"""Plan and its changes: immutable values, one type per action (SPEC §5).

Pure data: the plan file's JSON form, and its strict reading, live in planfile.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import ClassVar, Literal, overload

from rulesync.documents import Document, PatchOp
from rulesync.references import References

__all__ = [
    "ACTIONS",
    "ORDER",
    "Action",
    "Assign",
    "Change",
    "Create",
    "Delete",
    "Detach",
    "Document",
    "Kept",
    "PatchOp",
    "Plan",
    "RulesetRef",
    "SequenceChange",
    "SequenceRef",
    "Update",
    "describe",
    "sort_key",
]

Action = Literal["create", "update", "assign", "detach", "delete"]
# the order of apply's phases: a new ruleset exists before sequences are assigned to it, and
# sequences leave a ruleset before it is deleted
ACTIONS: tuple[Action, ...] = ("create", "update", "assign", "detach", "delete")
ORDER: dict[str, int] = {action: number for number, action in enumerate(ACTIONS)}


@dataclass(frozen=True)
class Kept:
    """A live managed ruleset that no file declares, left alone because prune is off."""

    id: int
    name: str


@dataclass(frozen=True)
class SequenceRef:
    """A sequence that uses a ruleset (the blast radius of changing or deleting it)."""

    id: int
    name: str


@dataclass(frozen=True)
class RulesetRef:
    """The ruleset a sequence uses; ``id`` None: the one this plan creates under ``name``."""

    id: int | None
    name: str


@dataclass(frozen=True)
class Create:
    """A ruleset no live one matches: created as ``after``."""

    action: ClassVar[Literal["create"]] = "create"
    name: str
    after: Document


@dataclass(frozen=True)
class Update:
    """A live ruleset (``id``) whose managed fields differ: ``patch`` turns ``before`` into
    ``after``; ``live_version`` fingerprints the live ruleset it was planned against."""

    action: ClassVar[Literal["update"]] = "update"
    name: str
    id: int
    before: Document
    after: Document
    patch: tuple[PatchOp, ...]
    live_version: str
    renamed_from: str | None = None
    # the sequences that use the ruleset; None when they could not be read
    sequences: tuple[SequenceRef, ...] | None = ()
    # why the credentials may not make this change (Outreach's authorization meta), or None
    denied: str | None = None


@dataclass(frozen=True)
class Delete:
    """A live managed ruleset no file declares (prune): ``before`` is all of it."""

    action: ClassVar[Literal["delete"]] = "delete"
    name: str
    id: int
    before: Document
    live_version: str
    sequences: tuple[SequenceRef, ...] | None = ()
    denied: str | None = None


@dataclass(frozen=True)
class Assign:
    """A sequence (``id``, ``name``) given the ruleset ``ruleset_to``."""

    action: ClassVar[Literal["assign"]] = "assign"
    name: str
    id: int
    ruleset_from: RulesetRef | None
    ruleset_to: RulesetRef
    denied: str | None = None


@dataclass(frozen=True)
class Detach:
    """A sequence (``id``, ``name``) left without a ruleset (prune)."""

    action: ClassVar[Literal["detach"]] = "detach"
    ruleset_to: ClassVar[None] = None
    name: str
    id: int
    ruleset_from: RulesetRef
    denied: str | None = None


Change = Create | Update | Delete | Assign | Detach
SequenceChange = Assign | Detach  # changes to a sequence's ruleset: `id` is the sequence's
KINDS: dict[Action, type[Change]] = {
    "create": Create,
    "update": Update,
    "assign": Assign,
    "detach": Detach,
    "delete": Delete,
}


def sort_key(change: Change) -> tuple[int, str, int]:
    """The plan's order: by phase (ACTIONS), then name, then id."""
    return (ORDER[change.action], change.name, 0 if isinstance(change, Create) else change.id)


@dataclass(frozen=True)
class Plan:
    environment: str
    api_url: str
    changes: tuple[Change, ...]
    unchanged: int
    api_requests: int = 0
    live_managed: int = 0  # live rulesets inside `manage`, for the safety threshold
    prune: bool = False
    generated_at: str = field(default_factory=lambda: _now())
    references: References = field(default_factory=References)
    kept: tuple[Kept, ...] = ()

    @property
    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            counts[change.action] += 1
        return {**counts, "unchanged": self.unchanged}

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @overload
    def of(self, action: Literal["create"]) -> list[Create]: ...
    @overload
    def of(self, action: Literal["update"]) -> list[Update]: ...
    @overload
    def of(self, action: Literal["assign"]) -> list[Assign]: ...
    @overload
    def of(self, action: Literal["detach"]) -> list[Detach]: ...
    @overload
    def of(self, action: Literal["delete"]) -> list[Delete]: ...
    @overload
    def of(self, action: Action) -> list[Change]: ...

    def of(
        self, action: Action
    ) -> list[Create] | list[Update] | list[Assign] | list[Detach] | list[Delete] | list[Change]:
        """The changes of one action, in plan order."""
        kind = KINDS[action]
        return [c for c in self.changes if isinstance(c, kind)]


SHOWN_NAMES = 5  # sequence names listed in one line before "and N more"


def describe(sequences: Iterable[SequenceRef], *, shown: int = SHOWN_NAMES) -> str:
    """``2 sequences: 'A' (id 1), 'B' (id 4)``, collapsed beyond ``shown`` names."""
    refs = list(sequences)
    noun = "sequence" if len(refs) == 1 else "sequences"
    names = ", ".join(f"{s.name!r} (id {s.id})" for s in refs[:shown])
    more = f" and {len(refs) - shown} more" if len(refs) > shown else ""
    return f"{len(refs)} {noun}: {names}{more}"


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
