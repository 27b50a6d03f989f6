"""A ruleset as the files want it, and the name patterns of `manage`, `protect` and
`--target`: plain values the planner reads, with no YAML or validation behind them."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rulesync.errors import Problem
from rulesync.fields import RELATIONSHIPS

# A relationship as a file gives it: a name or email, {"id": N}, or None (no reference)
RefValue = str | dict[str, int] | None


@dataclass(frozen=True)
class Desired:
    """A ruleset as the files want it. Only managed fields appear in ``fields``."""

    name: str
    previous_names: tuple[str, ...]
    fields: dict[str, Any]  # attribute values, and relationship refs: name/email, {"id": N}, None
    source: str  # PATH:LINE, for messages
    pinned_id: int | None = None  # `id: N` in the file: this live ruleset, whatever its name
    # `sequences:` in the file: names or {"id": N} of the sequences that use it; None: unmanaged
    sequences: tuple[str | dict[str, int], ...] | None = None
    # field -> (path, line, col) where rulesync.yaml sets it: an override, or a default the
    # file does not set
    positions: Mapping[str, tuple[str, int, int]] = field(default_factory=dict)
    # field -> (line, col) of its value in the file (the path of ``source``)
    file_positions: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def problem(self, name: str, message: str, *, label: str | None = None) -> Problem:
        """A problem located at the field ``name`` (the document's start when unknown)."""
        path, _, line = self.source.rpartition(":")
        if not line.isdecimal():  # no line number: the source is the path
            path, line = self.source, ""
        where = self.positions.get(name)
        if where is None and name in self.file_positions:
            where = (path, *self.file_positions[name])
        if where is None:
            where = (path, int(line) if line else 0, 1)
        return Problem(where[0], where[1], where[2], name if label is None else label, message)

    # Attributes written `{held: VALUE}`: why Outreach would refuse each value on write.
    held: dict[str, Problem] = field(default_factory=dict)

    @property
    def relationships(self) -> dict[str, RefValue]:
        return {k: v for k, v in self.fields.items() if k in RELATIONSHIPS}


def matches(name: str, globs: tuple[str, ...] | list[str]) -> bool:
    """Whether ``name`` matches a pattern: ``*`` any run of characters, ``?`` one character,
    every other character itself (``[EMEA] Inbound`` is a name, not a character class);
    case-sensitive, like names."""
    return any(glob == "*" or _pattern(glob).fullmatch(name) for glob in globs)


@functools.lru_cache(maxsize=1024)
def _pattern(glob: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile("".join(parts), re.DOTALL)
