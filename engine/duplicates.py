"""Live names that repeat: what the plan says about them, and how to resolve them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rulesync.desired import Desired, matches
from rulesync.live import LiveRuleset


def notes(
    desired: Sequence[Desired], live: Sequence[LiveRuleset], manage: Sequence[str]
) -> list[str]:
    """One line per declared name that several live managed rulesets share (those with a
    usable id: the others are never planned)."""
    ids: dict[str, list[int]] = defaultdict(list)
    for resource in live:
        if matches(resource.name, tuple(manage)):
            ids[resource.name].append(resource.id)
    files: dict[str, list[Desired]] = defaultdict(list)
    for item in desired:
        if len(ids.get(item.name, [])) > 1:
            files[item.name].append(item)
    lines = []
    for name in sorted(files):
        shown = ", ".join(str(i) for i in sorted(ids[name]))
        head = f"{len(ids[name])} live rulesets are named {name!r} (ids {shown})"
        unpinned = [d for d in files[name] if d.pinned_id is None]
        if unpinned:
            lines.append(
                f"{unpinned[0].source}: {head}; this file is left out of the plan: add `id: N`"
                f" to pin one (`rulesync export --target {name!r} --overwrite` pins each), or"
                " rename or delete the others in Outreach"
            )
        else:
            lines.append(
                f"{head}; each file pins one by `id:`. To end the duplication, give each a"
                " distinct name in its file (keep the `id:`) and apply"
            )
    return lines
