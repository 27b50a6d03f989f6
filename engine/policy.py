"""The safety policy, in one shape: which live rulesets rulesync manages, which it never
deletes, how large a change it makes without --force, and whether deleting is on by default.

rulesync.yaml's `manage` and `safety:` are read into it once (config.py); the planner, the
safety gate (safety.py), the duplicate-name notes and export all read this one value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    manage: tuple[str, ...] = ("*",)  # name patterns of the live rulesets rulesync may touch
    protect: tuple[str, ...] = ()  # name patterns never deleted, even with prune
    max_change_percent: float = 30  # of the managed live rulesets, beyond which --force
    min_existing: int = 10  # ... counts only from this many managed live rulesets
    prune: bool = False  # delete managed live rulesets no file declares (also --prune)
