"""Plan and Change: immutable values with a JSON round trip (SPEC §5)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from rulesync.errors import ConfigError
from rulesync.references import References

FORMAT_VERSION = 1
Action = Literal["create", "update", "assign", "detach", "delete"]
# the order of apply's phases: a new ruleset exists before sequences are assigned to it, and
# sequences leave a ruleset before it is deleted
ACTIONS: tuple[Action, ...] = ("create", "update", "assign", "detach", "delete")
ORDER: dict[str, int] = {action: number for number, action in enumerate(ACTIONS)}
SEQUENCE_ACTIONS = ("assign", "detach")  # changes to a sequence's ruleset: `id` is the sequence
MAX_SHOWN = 10  # problems listed for a damaged plan file


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
class Change:
    action: Action
    name: str
    id: int | None = None
    renamed_from: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    patch: tuple[dict[str, Any], ...] = ()
    live_version: str | None = None
    # updates and deletes: the sequences that use the ruleset; None when they could not be read
    sequences: tuple[SequenceRef, ...] | None = ()
    # why the credentials may not make this change (Outreach's authorization meta), or None
    denied: str | None = None
    # assign and detach: the sequence's ruleset before and after, {"id", "name"}; a ruleset
    # this plan creates has id None until apply creates it
    ruleset_from: dict[str, Any] | None = None
    ruleset_to: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"action": self.action, "name": self.name, "id": self.id}
        if self.action in SEQUENCE_ACTIONS:
            out.update(ruleset_from=self.ruleset_from, ruleset_to=self.ruleset_to)
            out["denied"] = self.denied
            return out
        if self.action == "create":
            out["after"] = self.after
        elif self.action == "update":
            out.update(
                renamed_from=self.renamed_from,
                before=self.before,
                after=self.after,
                patch=list(self.patch),
                live_version=self.live_version,
            )
        else:
            out.update(before=self.before, live_version=self.live_version)
        if self.action != "create":
            out["sequences"] = (
                None
                if self.sequences is None
                else [{"id": s.id, "name": s.name} for s in self.sequences]
            )
            out["denied"] = self.denied
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Change:
        return cls(
            action=data["action"],
            name=data["name"],
            id=data.get("id"),
            renamed_from=data.get("renamed_from"),
            before=data.get("before"),
            after=data.get("after"),
            patch=tuple(data.get("patch") or ()),
            live_version=data.get("live_version"),
            sequences=_sequence_refs(data.get("sequences", [])),
            denied=data.get("denied"),
            ruleset_from=data.get("ruleset_from"),
            ruleset_to=data.get("ruleset_to"),
        )


def _sequence_refs(raw: Any) -> tuple[SequenceRef, ...] | None:
    if raw is None:
        return None
    return tuple(SequenceRef(id=s["id"], name=s["name"]) for s in raw)


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

    def of(self, action: Action) -> list[Change]:
        return [c for c in self.changes if c.action == action]

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "environment": self.environment,
            "api_url": self.api_url,
            "generated_at": self.generated_at,
            "summary": self.summary,
            "api_requests": self.api_requests,
            "live_managed": self.live_managed,
            "prune": self.prune,
            "changes": [c.to_json() for c in self.changes],
            "references": self.references.to_json(),
            "kept": [{"id": k.id, "name": k.name} for k in self.kept],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, data: Any, *, source: str = "plan") -> Plan:
        """A plan from its JSON, checked strictly: a damaged or edited file is one error."""
        if not isinstance(data, dict) or "format_version" not in data:
            raise ConfigError(f"{source}: not a rulesync plan file (no format_version)")
        if data["format_version"] != FORMAT_VERSION:
            raise ConfigError(
                f"{source}: plan format_version {data['format_version']!r} is not "
                f"supported (this rulesync reads {FORMAT_VERSION}); plan again"
            )
        from rulesync.planfile import plan_problems  # only a saved plan needs its checks

        problems = plan_problems(data)
        if problems:
            shown = problems[:MAX_SHOWN]
            more = len(problems) - len(shown)
            raise ConfigError(
                f"{source}: damaged or edited plan file, refused:\n  - "
                + "\n  - ".join(shown)
                + (f"\n  - ... and {more} more" if more else "")
                + "\nMake a new one with `rulesync plan --out`."
            )
        return cls(
            environment=data["environment"],
            api_url=data["api_url"],
            changes=tuple(Change.from_json(c) for c in data["changes"]),
            unchanged=data["summary"]["unchanged"],
            api_requests=data["api_requests"],
            live_managed=data["live_managed"],
            prune=data["prune"],
            generated_at=data["generated_at"],
            references=References.from_json(data["references"]),
            kept=tuple(Kept(id=k["id"], name=k["name"]) for k in data.get("kept", [])),
        )


SHOWN_NAMES = 5  # sequence names listed in one line before "and N more"


def describe(sequences: Iterable[SequenceRef], *, shown: int = SHOWN_NAMES) -> str:
    """``2 sequences: 'A' (id 1), 'B' (id 4)``, collapsed beyond ``shown`` names."""
    refs = list(sequences)
    noun = "sequence" if len(refs) == 1 else "sequences"
    names = ", ".join(f"{s.name!r} (id {s.id})" for s in refs[:shown])
    more = f" and {len(refs) - shown} more" if len(refs) > shown else ""
    return f"{len(refs)} {noun}: {names}{more}"


def read_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the plan file: {err.strerror}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ConfigError(
            f"{path}: not JSON ({err}); pass a file made by `rulesync plan --out`"
        ) from None
    return Plan.from_json(data, source=str(path))


def write_plan(plan: Plan, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A live name may hold a lone surrogate (valid JSON, not UTF-8): written as its JSON
        # escape \udXXX, which reads back exactly
        path.write_text(plan.dumps(), encoding="utf-8", errors="backslashreplace")
    except OSError as err:
        raise ConfigError(f"{path}: cannot write the plan file: {err.strerror}") from None


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
