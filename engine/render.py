"""Pure renderers: Plan -> text (Terraform-like), markdown (PR comment), JSON."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from rulesync.fields import DURATION_FIELDS, format_duration
from rulesync.plan import (
    Assign,
    Change,
    Create,
    Delete,
    Detach,
    Document,
    Plan,
    RulesetRef,
    Update,
    describe,
)

# GitHub refuses comment and issue bodies over 65,536 characters, and has been measured
# counting in UTF-8 bytes on some surfaces: the budget is counted in UTF-8 bytes, which is
# never less than the count in characters or UTF-16 units, with room for a workflow's wrapper.
MARKDOWN_LIMIT = 60_000
MARKDOWN_KEPT = 50  # kept rulesets listed by name in a PR comment
MARKDOWN_SEQUENCES = 50  # sequences listed by name under one change in a PR comment
SYMBOL = {"create": "+", "update": "~", "assign": "»", "detach": "«", "delete": "-"}
COLOR = {
    "create": "\033[32m",
    "update": "\033[33m",
    "assign": "\033[36m",
    "detach": "\033[35m",
    "delete": "\033[31m",
}
RESET = "\033[0m"


def summary_line(plan: Plan) -> str:
    if not plan.changes:
        return "No changes."
    s = plan.summary
    moves = (
        f"; sequences: {s['assign']} to assign, {s['detach']} to detach"
        if s["assign"] or s["detach"]
        else ""
    )
    return (
        f"Plan: {s['create']} to create, {s['update']} to update, {s['delete']} to delete, "
        f"{s['unchanged']} unchanged{moves}."
    )


def value_text(plan: Plan, field: str, value: Any) -> str:
    """A field's value as a reviewer reads it: durations, names of referenced ids."""
    if isinstance(value, dict) and "id" in value and "type" in value:
        label = (
            plan.references.label(str(value["type"]), value["id"])
            if isinstance(value["id"], int)
            else None
        )
        return f"{label} (#{value['id']})" if label else f"#{value['id']}"
    if field in DURATION_FIELDS and isinstance(value, int) and not isinstance(value, bool):
        return format_duration(value) if value else "0"
    return json.dumps(value, ensure_ascii=False)


def field_rows(plan: Plan, change: Change) -> list[tuple[str, str | None, str | None]]:
    """(field, old, new) for each field the change touches; old None on create, new on delete."""
    # the name is in the title already
    if isinstance(change, Assign | Detach):
        return []
    if isinstance(change, Create):
        return [(f, None, value_text(plan, f, v)) for f, v in _fields(change.after) if f != "name"]
    if isinstance(change, Delete):
        return [(f, value_text(plan, f, v), None) for f, v in _fields(change.before) if f != "name"]
    rows: list[tuple[str, str | None, str | None]] = []
    before = change.before
    for op in change.patch:
        section, field = op["path"].lstrip("/").split("/", 1)
        old = before.get(section, {}).get(field)
        new = op.get("value")
        rows.append(
            (
                field,
                value_text(plan, field, old),
                None if op["op"] == "remove" else value_text(plan, field, new),
            )
        )
    return rows


def _fields(doc: Document) -> list[tuple[str, Any]]:
    return [*doc.get("attributes", {}).items(), *doc.get("relationships", {}).items()]


def header(plan: Plan) -> str:
    return (
        f"rulesync plan for environment {plan.environment!r} at {plan.api_url} "
        f"({plan.api_requests} API requests)"
    )


def render_text(plan: Plan, *, color: bool = False, warnings: Sequence[str] = ()) -> str:
    out = [header(plan), ""]
    for change in plan.changes:
        paint, reset = (COLOR[change.action], RESET) if color else ("", "")
        title = f"{paint}{SYMBOL[change.action]} {change.action}{reset} {change.name!r}"
        if isinstance(change, Assign | Detach):
            out += ["  " + title + f" (sequence {change.id}): {moving(change)}"]
            out += [f"      NOT ALLOWED: {change.denied}"] if change.denied else []
            out.append("")
            continue
        if not isinstance(change, Create):
            title += f" (id {change.id})"
        if isinstance(change, Update) and change.renamed_from:
            title += f", renamed from {change.renamed_from!r}"
        out.append("  " + title)
        out.extend(f"      {line}" for line in impact_lines(change))
        width = max((len(f) for f, _, _ in field_rows(plan, change)), default=0)
        for field, old, new in field_rows(plan, change):
            if isinstance(change, Update):
                out.append(f"      {field.ljust(width)}  {old} → {new}")
            else:
                out.append(f"      {field.ljust(width)}  {new if old is None else old}")
        out.append("")
    out.extend(kept_lines(plan))
    out.append(summary_line(plan))
    for warning in warnings:
        out.append(f"Unsafe: {warning}")
    return "\n".join(out) + "\n"


def ruleset_label(ref: RulesetRef | None) -> str:
    if ref is None:
        return "no ruleset"
    return f"{ref.name!r} ({'new' if ref.id is None else f'id {ref.id}'})"


def moving(change: Assign | Detach) -> str:
    """``'Old' (id 3) → 'New' (id 5)``: the sequence's ruleset before and after."""
    return f"{ruleset_label(change.ruleset_from)} → {ruleset_label(change.ruleset_to)}"


def used_by(change: Change) -> str | None:
    """What a change touches beyond its ruleset: the sequences that use it (updates and
    deletes only), collapsed beyond a handful of names."""
    if not isinstance(change, Update | Delete):
        return None
    if change.sequences is None:
        return "used by: unknown (the credentials cannot read sequences)"
    if not change.sequences:
        return "used by no sequence"
    return f"used by {describe(change.sequences)}"


def impact_lines(change: Change) -> list[str]:
    lines = [line] if (line := used_by(change)) else []
    if denied := _denied(change):
        lines.append(f"NOT ALLOWED: {denied}")
    return lines


def _denied(change: Change) -> str | None:
    """Why the credentials may not make the change; a create is never refused ahead."""
    return None if isinstance(change, Create) else change.denied


def kept_title(plan: Plan) -> str:
    """What the "kept" list means: without prune, undeclared; with prune, protected."""
    if plan.prune:
        return f"Kept, not declared but protected ({len(plan.kept)})"
    return f"Kept, not declared ({len(plan.kept)}): no file declares these; use --prune to delete"


def kept_lines(plan: Plan) -> list[str]:
    if not plan.kept:
        return []
    lines = [kept_title(plan) + ":"]
    lines += [f"  = {k.name!r} (id {k.id})" for k in plan.kept]
    return [*lines, ""]


def _cell(text: str | None) -> str:
    return "" if text is None else md_text(text)


# Characters that markdown or HTML would act on, as character references: markup, tables,
# links and images, code spans, math. A zero-width space follows @, # and : so that no
# @mention, #123 reference, :emoji: or scheme:// link comes alive; one goes before . so no
# www. link does.
_ENTITIES = {c: f"&#{ord(c)};" for c in "&<>|\\`*_~[]$"}
_BREAK_AFTER = "@#:"
_ZWSP = "&#8203;"


def md_text(text: str) -> str:
    """A name or value from a file or the API as inert markdown (also inside HTML tags): it
    shows exactly as written and cannot add markup, links, mentions, rows or lines. Control
    and format characters show as \\uXXXX; leading and trailing spaces as ␣."""
    core = text.strip(" ")
    lead, trail = len(text) - len(text.lstrip(" ")), len(text) - len(text.rstrip(" "))
    if not core:
        lead, trail = len(text), 0
    out = ["␣" * lead]
    for char in core:
        if char in _ENTITIES:
            out.append(_ENTITIES[char])
        elif char in _BREAK_AFTER:
            out.append(char + _ZWSP)
        elif char == ".":
            out.append(_ZWSP + char)
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            out.append(f"&#92;u{ord(char):04x}")
        else:
            out.append(char)
    out.append("␣" * trail)
    return "".join(out)


def _code(field: str) -> str:
    """A field name as code when it is a plain identifier, else as escaped text."""
    return f"`{field}`" if re.fullmatch(r"[A-Za-z0-9_]+", field) else md_text(field)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def render_markdown(
    plan: Plan, *, warnings: Sequence[str] = (), limit: int = MARKDOWN_LIMIT
) -> str:
    """A PR comment: summary, table, one <details> per change; kept under ``limit`` chars."""
    head = [
        f"### rulesync plan: {md_text(plan.environment)}",
        "",
        f"**{summary_line(plan)}**",
        "",
        f"API: {md_text(plan.api_url)} · {plan.api_requests} API requests · "
        f"generated {md_text(plan.generated_at)}",
        "",
    ]
    if warnings:
        head += [
            "> [!CAUTION]",
            "> **This plan is unsafe and will be refused** (apply needs `--force`):",
        ]
        head += [f"> - {_cell(w)}" for w in warnings]
        head.append("")
    if plan.kept:
        head += [f"<details><summary>{kept_title(plan)}</summary>", ""]  # no names in it
        head += [f"- {_cell(k.name)} (id {k.id})" for k in plan.kept[:MARKDOWN_KEPT]]
        if len(plan.kept) > MARKDOWN_KEPT:
            head.append(f"- … and {len(plan.kept) - MARKDOWN_KEPT} more (see the plan JSON)")
        head += ["", "</details>", ""]
    if not plan.changes:
        return "\n".join(head) + "\n"
    table = ["| | Ruleset | Action | Fields | Sequences |", "|---|---|---|---|---|"]
    rows = [
        f"| {SYMBOL[c.action]} | {_cell(c.name)} | {c.action}{_row_detail(c)} | "
        f"{len(field_rows(plan, c))} | {_sequence_count(c)} |"
        for c in plan.changes
    ]
    sections = [_details(plan, c) for c in plan.changes]
    reserve = 400  # room for the closing note
    budget = limit - reserve - _size("\n".join(head + table))
    shown_rows = _fit(rows, budget // 2)
    budget -= sum(_size(r) + 1 for r in rows[:shown_rows])
    shown_sections = _fit(sections, budget)
    body = head + table + rows[:shown_rows]
    if shown_rows < len(rows):
        body.append(f"| | … {len(rows) - shown_rows} more changes | | | |")
    body.append("")
    body += sections[:shown_sections]
    hidden = len(sections) - shown_sections
    if hidden:
        body.append(
            f"_{hidden} more changed rulesets are not shown here to keep this comment "
            "short; the full plan is in the plan JSON artifact._"
        )
    return "\n".join(body) + "\n"


def _row_detail(change: Change) -> str:
    """After the action in a table row: a rename, or the sequence's move."""
    if isinstance(change, Update) and change.renamed_from:
        return f" (renamed from {_cell(change.renamed_from)})"
    if isinstance(change, Assign | Detach):
        return f" sequence: {_cell(moving(change))}"
    return ""


def _fit(parts: list[str], budget: int) -> int:
    used = 0
    for count, part in enumerate(parts):
        used += _size(part) + 1
        if used > budget:
            return count
    return len(parts)


def _details(plan: Plan, change: Change) -> str:
    title = f"{SYMBOL[change.action]} {change.action} <b>{md_text(change.name)}</b>"
    if isinstance(change, Assign | Detach):
        line = f"{title} (sequence {change.id}): {md_text(moving(change))}"
        return "\n".join([line, "", *_impact_markdown(change)])
    if not isinstance(change, Create):
        title += f" (id {change.id})"
    lines = [f"<details><summary>{title}</summary>", "", *_impact_markdown(change)]
    if isinstance(change, Update):
        lines += ["| Field | Before | After |", "|---|---|---|"]
        lines += [
            f"| {_code(f)} | {_cell(o)} | {_cell(n)} |" for f, o, n in field_rows(plan, change)
        ]
        patch = json.dumps(list(change.patch), indent=1, ensure_ascii=False)
        fence = "`" * max([3, *(len(run) + 1 for run in re.findall("`+", patch))])
        lines += ["", f"{fence}json", patch, fence]
    else:
        lines += ["| Field | Value |", "|---|---|"]
        lines += [
            f"| {_code(f)} | {_cell(n if o is None else o)} |"
            for f, o, n in field_rows(plan, change)
        ]
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def _sequence_count(change: Change) -> str:
    if not isinstance(change, Update | Delete):
        return ""
    return "?" if change.sequences is None else str(len(change.sequences))


def _impact_markdown(change: Change) -> list[str]:
    """The sequences a change touches, collapsible, names escaped; and a refusal, if any."""
    lines: list[str] = []
    if denied := _denied(change):
        lines += [f"**Not allowed:** {md_text(denied)}", ""]
    if not isinstance(change, Update | Delete):
        return lines
    if not change.sequences:
        return [*lines, f"_{used_by(change)}_", ""]
    refs = change.sequences
    noun = "sequence" if len(refs) == 1 else "sequences"
    lines += [f"<details><summary>Used by {len(refs)} {noun}</summary>", ""]
    lines += [f"- {md_text(s.name)} (id {s.id})" for s in refs[:MARKDOWN_SEQUENCES]]
    if len(refs) > MARKDOWN_SEQUENCES:
        lines.append(f"- … and {len(refs) - MARKDOWN_SEQUENCES} more (see the plan JSON)")
    return [*lines, "", "</details>", ""]
