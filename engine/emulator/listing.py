"""List queries as Outreach reads them: ``filter[...]`` (legacy and ``newFilterSyntax``),
``sort``, cursor paging (``page[size]``, ``page[after]``, ``page[before]``), the deprecated
offset paging (``page[offset]``, ``page[limit]``) and ``count``.

Source: Outreach's "Making requests" documentation (see docs/emulator.md). Which attributes
can be filtered and sorted comes from the badges of the official document (``openapi.py``).

Cursor pagination is keyset-based (the cursor carries the sort values of the row it points
at), so every page costs the same however deep the client goes, and rows created meanwhile
are not skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from werkzeug.datastructures import MultiDict

from rulesync.emulator import rules
from rulesync.emulator.jsonapi import ApiError, encodable, fail
from rulesync.emulator.openapi import Attribute, resource

SQL_INT_MAX = 2**63 - 1
# Columns kept beside the JSON text, so the common filters and sorts use an index.
COLUMNS = {"id": "id", "name": "name", "createdAt": "created_at", "updatedAt": "updated_at"}
_KEY = re.compile(r"^filter\[([A-Za-z0-9_]+)\](?:\[(id)\])?(?:\[([a-z]*)\])?$")
_OPERATORS = {"gte": ">=", "lte": "<=", "gt": ">", "lt": "<"}
# To-many relationships the documents call filterable by id, answered through the to-one
# relationship that points back: a ruleset's sequences are the sequences whose ruleset it is.
_REVERSE = {("ruleset", "sequences"): ("sequences", "ruleset")}


@dataclass(frozen=True)
class SortKey:
    expr: str  # SQL expression
    desc: bool


@dataclass(frozen=True)
class ListQuery:
    kind: str
    size: int = rules.DEFAULT_PAGE_SIZE
    sort_spec: str = "id"
    sort: tuple[SortKey, ...] = (SortKey("id", False),)
    conditions: tuple[str, ...] = ()
    params: tuple[Any, ...] = ()
    after: list[Any] | None = None
    before: list[Any] | None = None
    offset: int | None = None  # deprecated offset paging when not None
    count: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def _bad(detail: str, parameter: str) -> ApiError:
    return fail(400, "badRequest", detail, parameter=parameter)


def _int(raw: str, parameter: str, *, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise _bad(f"{parameter} must be an integer, got {raw!r}", parameter) from None
    if not low <= value <= high:
        raise _bad(f"{parameter} must be between {low} and {high}, got {value}", parameter)
    return value


# -- fields -------------------------------------------------------------------------------


def attribute_expr(name: str) -> str:
    """SQL for an attribute: its own column when it has one, else read from the JSON text."""
    return COLUMNS.get(name) or f"json_extract(attributes, '$.\"{name}\"')"


def relationship_expr(name: str) -> str:
    return f"json_extract(relationships, '$.\"{name}\".data.id')"


def normalize_timestamp(raw: str) -> str | None:
    """An ISO 8601 time -> the stored form (UTC, milliseconds, ``Z``); None if unparseable."""
    text = raw.strip()
    if len(text) == 10:  # a date alone means its midnight
        text += "T00:00:00"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _value(spec: Attribute | None, raw: str, parameter: str) -> Any:
    """A filter value converted to what the column holds (None ``spec``: an id)."""
    kind = "integer" if spec is None else spec.type
    if kind == "integer":
        return _int(raw.strip(), parameter, low=-SQL_INT_MAX, high=SQL_INT_MAX)
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise _bad(f"{parameter} must be a number, got {raw!r}", parameter) from None
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise _bad(f"{parameter} must be true or false, got {raw!r}", parameter)
        return 1 if raw == "true" else 0
    if spec is not None and spec.format == "date-time":
        stamp = normalize_timestamp(raw)
        if stamp is None:
            raise _bad(f"{parameter} must be an ISO 8601 time, got {raw!r}", parameter)
        return stamp
    if not encodable(raw):
        raise _bad(f"{parameter} is not valid Unicode text", parameter)
    return raw


def _target(kind: str, name: str, rel: str | None, parameter: str) -> tuple[str, Attribute | None]:
    """The SQL expression a filter key names, and the attribute spec that types its values."""
    spec = resource(kind)
    if rel is not None:
        relationship = spec.relationships.get(name)
        if relationship is None or relationship.to_many or relationship.target is None:
            raise _bad(f"cannot filter {kind} by the relationship {name!r}", parameter)
        return relationship_expr(name), None
    if name == "id":
        return "id", None
    attribute = spec.attributes.get(name)
    if attribute is None or not attribute.filterable:
        allowed = ", ".join(["id", *sorted(a for a, s in spec.attributes.items() if s.filterable)])
        raise _bad(f"cannot filter {kind} by {name!r}; filterable fields: {allowed}", parameter)
    return attribute_expr(name), attribute


def _legacy(expr: str, spec: Attribute | None, raw: str, parameter: str) -> tuple[str, list[Any]]:
    """``a,b`` a list, ``lo..hi`` a range (``neginf``/``inf`` open ends), ``__null__`` and
    ``__notnull__``."""
    if raw == "__null__":
        return f"{expr} IS NULL", []
    if raw == "__notnull__":
        return f"{expr} IS NOT NULL", []
    alternatives: list[str] = []
    params: list[Any] = []
    for item in raw.split(","):
        if ".." in item:
            low, high = item.split("..", 1)
            parts = []
            if low != "neginf":
                parts.append(f"{expr} >= ?")
                params.append(_value(spec, low, parameter))
            if high != "inf":
                parts.append(f"{expr} <= ?")
                params.append(_value(spec, high, parameter))
            alternatives.append("(" + (" AND ".join(parts) or f"{expr} IS NOT NULL") + ")")
        else:
            alternatives.append(f"{expr} = ?")
            params.append(_value(spec, item, parameter))
    return "(" + " OR ".join(alternatives) + ")", params


def _literal(
    expr: str, spec: Attribute | None, op: str | None, values: list[str], parameter: str
) -> tuple[str, list[Any]]:
    """``newFilterSyntax=true``: values are literal; ``[]`` lists them, ``[gte]`` etc. compare."""
    if op in _OPERATORS:
        if len(values) != 1:
            raise _bad(f"{parameter} takes one value", parameter)
        return f"{expr} {_OPERATORS[op]} ?", [_value(spec, values[0], parameter)]
    if op not in (None, ""):
        raise _bad(f"{parameter}: unknown operator {op!r}; use [], gte, lte, gt or lt", parameter)
    converted = [_value(spec, v, parameter) for v in values]
    return f"{expr} IN ({','.join('?' * len(converted))})", converted


def _filters(kind: str, args: MultiDict[str, str], new_syntax: bool) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    for key in args:
        if not key.startswith("filter["):
            continue
        match = _KEY.match(key)
        if match is None:
            raise _bad(f"{key} is not a filter this API understands", key)
        name, rel, op = match.groups()
        reverse = _REVERSE.get((kind, name)) if rel is not None else None
        expr, spec = ("id", None) if reverse else _target(kind, name, rel, key)
        if new_syntax or op is not None:
            condition, values = _literal(expr, spec, op, args.getlist(key), key)
        else:
            condition, values = _legacy(expr, spec, args[key], key)
        if reverse is not None:
            table, back = reverse
            # Inside the subquery `id` and `relationships` are the other table's.
            condition = f"id IN (SELECT {relationship_expr(back)} FROM {table} WHERE {condition})"
        conditions.append(condition)
        params.extend(values)
    return conditions, params


# -- sorting ------------------------------------------------------------------------------


def _sort(kind: str, raw: str) -> tuple[SortKey, ...]:
    spec = resource(kind)
    keys: list[SortKey] = []
    seen: set[str] = set()
    for part in raw.split(","):
        desc = part.startswith("-")
        name = part[1:] if desc else part
        attribute = spec.attributes.get(name)
        if name != "id" and (attribute is None or not attribute.sortable):
            allowed = ", ".join(
                ["id", *sorted(a for a, s in spec.attributes.items() if s.sortable)]
            )
            raise _bad(f"cannot sort {kind} by {name!r}; sortable fields: {allowed}", "sort")
        if name in seen:
            raise _bad(f"sort names {name!r} twice", "sort")
        seen.add(name)
        expr = attribute_expr(name)
        if name not in COLUMNS:
            # NULLs first ascending, last descending (as SQL does); the flag keeps the keyset
            # comparison total when values are missing.
            keys.append(SortKey(f"({expr} IS NOT NULL)", desc))
            keys.append(SortKey(f"COALESCE({expr}, 0)", desc))
        else:
            keys.append(SortKey(expr, desc))
    if "id" not in seen:
        keys.append(SortKey("id", False))
    return tuple(keys)


# -- cursors ------------------------------------------------------------------------------


def _cursor_value(value: Any) -> bool:
    if isinstance(value, str):
        return encodable(value)
    if isinstance(value, float):
        return True
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= SQL_INT_MAX


def encode_cursor(sort_spec: str, values: list[Any]) -> str:
    raw = json.dumps([sort_spec, values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(raw: str, query_sort: str, width: int, parameter: str) -> list[Any]:
    try:
        padded = raw + "=" * (-len(raw) % 4)
        spec, values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error):
        raise _bad(f"{parameter} is not a cursor this server issued", parameter) from None
    if spec != query_sort or not isinstance(values, list) or len(values) != width:
        raise _bad(f"{parameter} belongs to a different sort order", parameter)
    if not all(_cursor_value(v) for v in values):
        raise _bad(f"{parameter} is not a cursor this server issued", parameter)
    return values


# -- the whole query ----------------------------------------------------------------------


def _paging(args: MultiDict[str, str]) -> tuple[int, int | None]:
    size = rules.DEFAULT_PAGE_SIZE
    offset: int | None = None
    for key in args:
        value = args[key]
        if key in ("page[size]", "page[limit]"):
            size = _int(value, key, low=1, high=rules.MAX_PAGE_SIZE)
        elif key == "page[offset]":
            offset = _int(value, key, low=0, high=rules.MAX_OFFSET)
        elif key.startswith("page[") and key not in ("page[after]", "page[before]"):
            raise _bad(f"{key} is not a paging parameter; use page[size] and page[after]", key)
    if offset is None and "page[limit]" in args:
        offset = 0
    return size, offset


def _flag(args: MultiDict[str, str], name: str) -> bool:
    value = args.get(name, "false")
    if value not in ("true", "false"):
        raise _bad(f"{name} must be true or false, got {value!r}", name)
    return value == "true"


def parse_list_query(kind: str, args: MultiDict[str, str]) -> ListQuery:
    """Query string -> ListQuery; anything this API refuses is a 400 naming the parameter."""
    size, offset = _paging(args)
    sort_spec = args["sort"] if args.get("sort") else "id"
    sort = _sort(kind, sort_spec)
    conditions, params = _filters(kind, args, _flag(args, "newFilterSyntax"))
    after = before = None
    if "page[after]" in args and "page[before]" in args:
        raise _bad("give page[after] or page[before], not both", "page[before]")
    if offset is not None and ("page[after]" in args or "page[before]" in args):
        raise _bad("page[offset] cannot be combined with a cursor", "page[offset]")
    if "page[after]" in args:
        after = _decode_cursor(args["page[after]"], sort_spec, len(sort), "page[after]")
    if "page[before]" in args:
        before = _decode_cursor(args["page[before]"], sort_spec, len(sort), "page[before]")
    return ListQuery(
        kind=kind,
        size=size,
        sort_spec=sort_spec,
        sort=sort,
        conditions=tuple(conditions),
        params=tuple(params),
        after=after,
        before=before,
        offset=offset,
        count=_flag(args, "count"),
    )


def keyset_condition(
    sort: tuple[SortKey, ...], values: list[Any], *, reverse: bool
) -> tuple[str, list[Any]]:
    """Rows strictly after ``values`` in the (lexicographic, mixed-direction) order, or strictly
    before them with ``reverse``."""
    alternatives = []
    params: list[Any] = []
    for index, key in enumerate(sort):
        parts = [f"{k.expr} = ?" for k in sort[:index]]
        forward = key.desc == reverse
        parts.append(f"{key.expr} {'>' if forward else '<'} ?")
        alternatives.append("(" + " AND ".join(parts) + ")")
        params.extend(values[: index + 1])
    return "(" + " OR ".join(alternatives) + ")", params


def order_clause(sort: tuple[SortKey, ...], *, reverse: bool = False) -> str:
    return ", ".join(f"{k.expr} {'ASC' if k.desc == reverse else 'DESC'}" for k in sort)


def page_links(base_url: str, args: Mapping[str, list[str]], changes: dict[str, str | None]) -> str:
    """``base_url`` with the request's query, paging members replaced by ``changes``."""
    from urllib.parse import urlencode

    pairs = [
        (k, v)
        for k, values in args.items()
        if k not in ("page[after]", "page[before]", "page[offset]") and k not in changes
        for v in values
    ]
    pairs.extend((k, v) for k, v in changes.items() if v is not None)
    return f"{base_url}?{urlencode(pairs)}" if pairs else base_url
