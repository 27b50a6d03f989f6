"""List queries: ``page[size]``, cursor ``page[after]``, ``filter[...]``, ``sort`` and ``count``.

Pagination is keyset-based (the cursor carries the sort values of the last row seen), so every
page costs the same however deep the client goes, and rows created meanwhile are not skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rulesync.emulator.jsonapi import ApiError, encodable, fail

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
SQL_INT_MAX = 2**63 - 1

_COMMON_SORT = {"id": "id", "name": "name", "createdAt": "created_at", "updatedAt": "updated_at"}
SORTABLE: dict[str, dict[str, str]] = {
    "ruleset": _COMMON_SORT,
    "stage": _COMMON_SORT,
    "taskPriority": _COMMON_SORT,
    "user": {**_COMMON_SORT, "email": "email"},
}
FILTERABLE: dict[str, dict[str, str]] = {
    "ruleset": {"name": "name"},
    "stage": {"name": "name"},
    "taskPriority": {"name": "name"},
    "user": {"name": "name", "email": "email"},
}


@dataclass(frozen=True)
class ListQuery:
    kind: str
    size: int = DEFAULT_PAGE_SIZE
    sort_spec: str = "id"
    # (column, descending); always ends with the id column so the order is total.
    sort: tuple[tuple[str, bool], ...] = (("id", False),)
    filters: dict[str, list[Any]] = field(default_factory=dict)
    after: list[Any] | None = None
    count: bool = False


def _bad(detail: str, parameter: str) -> ApiError:
    return fail(400, "badRequest", detail, parameter=parameter)


def _parse_size(raw: str) -> int:
    try:
        size = int(raw)
    except ValueError:
        raise _bad(f"page[size] must be an integer, got {raw!r}", "page[size]") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        detail = f"page[size] must be between 1 and {MAX_PAGE_SIZE}, got {size}"
        raise _bad(detail, "page[size]")
    return size


def _parse_sort(kind: str, raw: str) -> tuple[tuple[str, bool], ...]:
    columns = SORTABLE[kind]
    keys: list[tuple[str, bool]] = []
    for part in raw.split(","):
        desc = part.startswith("-")
        name = part[1:] if desc else part
        if name not in columns:
            allowed = ", ".join(sorted(columns))
            raise _bad(f"cannot sort {kind} by {name!r}; sortable fields: {allowed}", "sort")
        if any(col == columns[name] for col, _ in keys):
            raise _bad(f"sort names {name!r} twice", "sort")
        keys.append((columns[name], desc))
    if not any(col == "id" for col, _ in keys):
        keys.append(("id", False))
    return tuple(keys)


def _parse_filter(kind: str, name: str, raw: str) -> tuple[str, list[Any]]:
    parameter = f"filter[{name}]"
    if name == "id":
        try:
            ids = [int(part) for part in raw.split(",")]
        except ValueError:
            raise _bad(f"{parameter} must be integers separated by commas", parameter) from None
        if any(abs(i) > SQL_INT_MAX for i in ids):
            raise _bad(f"{parameter} holds an id out of range", parameter)
        return "id", ids
    column = FILTERABLE[kind].get(name)
    if column is None:
        allowed = ", ".join(["id", *sorted(FILTERABLE[kind])])
        raise _bad(f"cannot filter {kind} by {name!r}; filterable fields: {allowed}", parameter)
    # Exact match on the whole value: names may themselves contain commas.
    return column, [raw]


def _cursor_value(value: Any) -> bool:
    if isinstance(value, str):
        return encodable(value)
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= SQL_INT_MAX


def encode_cursor(sort_spec: str, values: list[Any]) -> str:
    raw = json.dumps([sort_spec, values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(raw: str, query_sort: str, width: int) -> list[Any]:
    try:
        padded = raw + "=" * (-len(raw) % 4)
        spec, values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise _bad("page[after] is not a cursor this server issued", "page[after]") from None
    if spec != query_sort or not isinstance(values, list) or len(values) != width:
        raise _bad("page[after] belongs to a different sort order", "page[after]")
    if not all(_cursor_value(v) for v in values):
        raise _bad("page[after] is not a cursor this server issued", "page[after]")
    return values


def parse_list_query(kind: str, args: Mapping[str, str]) -> ListQuery:
    """Query string -> ListQuery; anything unsupported is a 400 naming the parameter."""
    size = DEFAULT_PAGE_SIZE
    sort_spec = args.get("sort") or "id"
    sort = _parse_sort(kind, sort_spec)
    filters: dict[str, list[Any]] = {}
    count = False
    for key in args:
        value = args[key]
        if key == "page[size]":
            size = _parse_size(value)
        elif key.startswith("page[") and key != "page[after]":
            raise _bad(f"{key} is not supported; use page[size] and page[after]", key)
        elif key.startswith("filter[") and key.endswith("]"):
            column, values = _parse_filter(kind, key[len("filter[") : -1], value)
            filters[column] = values
        elif key == "count":
            if value not in ("true", "false"):
                raise _bad(f"count must be true or false, got {value!r}", "count")
            count = value == "true"
    after = None
    if "page[after]" in args:
        after = _decode_cursor(args["page[after]"], sort_spec, len(sort))
    return ListQuery(
        kind=kind,
        size=size,
        sort_spec=sort_spec,
        sort=sort,
        filters=filters,
        after=after,
        count=count,
    )


def where_clause(query: ListQuery, *, keyset: bool) -> tuple[list[str], list[Any]]:
    """SQL conditions and parameters for the filters and, with ``keyset``, the cursor."""
    conditions: list[str] = []
    params: list[Any] = []
    for column, values in query.filters.items():
        conditions.append(f"{column} IN ({','.join('?' * len(values))})")
        params.extend(values)
    if keyset and query.after is not None:
        # Rows strictly after the cursor in the (lexicographic, mixed-direction) sort order.
        alternatives = []
        for index, (column, desc) in enumerate(query.sort):
            parts = [f"{col} = ?" for col, _ in query.sort[:index]]
            parts.append(f"{column} {'<' if desc else '>'} ?")
            alternatives.append("(" + " AND ".join(parts) + ")")
            params.extend(query.after[: index + 1])
        conditions.append("(" + " OR ".join(alternatives) + ")")
    return conditions, params


def order_clause(query: ListQuery) -> str:
    return ", ".join(f"{col} {'DESC' if desc else 'ASC'}" for col, desc in query.sort)
