"""Response documents: one resource or a page of them, with ``include`` (compound documents),
sparse fieldsets ``fields[TYPE]``, ``provideAuthorizationMeta`` and the paging links.

Source: CONVENTIONS (field expansion, pagination, counting) and the Ruleset page (the
``canWrite``/``canDelete`` metadata under ``provideAuthorizationMeta``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import MultiDict

from rulesync.emulator import rules
from rulesync.emulator.jsonapi import ApiError, fail
from rulesync.emulator.listing import ListQuery, encode_cursor, page_links
from rulesync.emulator.openapi import resources_table
from rulesync.emulator.resources import render, to_one
from rulesync.emulator.store import Page, Row, Store

# (collection, level) -> whether the token holds that scope
Grants = Callable[[str, str], bool]


@dataclass(frozen=True)
class Shape:
    """How the request wants resources rendered."""

    include: tuple[str, ...]
    fields: dict[str, frozenset[str]]
    authorization_meta: bool


def _bad(detail: str, parameter: str) -> ApiError:
    return fail(400, "badRequest", detail, parameter=parameter)


def parse_shape(kind: str, args: MultiDict[str, str]) -> Shape:
    include: list[str] = []
    if args.get("include"):
        targets = to_one(kind)
        for name in args["include"].split(","):
            if "." in name:
                raise _bad(f"include={name}: this emulator includes one level only", "include")
            if name not in targets:
                allowed = ", ".join(sorted(targets))
                raise _bad(f"cannot include {name!r} on {kind}; includable: {allowed}", "include")
            include.append(name)
    fields: dict[str, frozenset[str]] = {}
    known = resources_table()
    for key in args:
        if key.startswith("fields[") and key.endswith("]"):
            type_name = key[len("fields[") : -1]
            if type_name not in known:
                raise _bad(f"{key}: no resource type {type_name!r} (key by type, e.g. user)", key)
            fields[type_name] = frozenset(n for n in args[key].split(",") if n)
    flag = args.get("provideAuthorizationMeta", "false")
    if flag not in ("true", "false"):
        raise _bad("provideAuthorizationMeta must be true or false", "provideAuthorizationMeta")
    return Shape(tuple(include), fields, flag == "true")


class Renderer:
    def __init__(self, *, store: Store, base: str, shape: Shape, grants: Grants) -> None:
        self.store = store
        self.base = base
        self.shape = shape
        self.grants = grants

    def _meta(self, kind: str) -> str | None:
        if not self.shape.authorization_meta:
            return None
        collection = resources_table()[kind].collection
        write = self.grants(collection, "write")
        delete = self.grants(collection, "delete")
        return json.dumps({"canWrite": write, "canDelete": delete}, separators=(",", ":"))

    def one(self, kind: str, row: Row) -> str:
        return render(
            kind,
            row.id,
            row.attributes,
            row.relationships,
            self.base,
            fields=self.shape.fields.get(kind),
            meta=self._meta(kind),
        )

    def included(self, kind: str, rows: list[Row]) -> str | None:
        if not self.shape.include:
            return None
        targets = to_one(kind)
        seen: dict[tuple[str, int], None] = {}
        for row in rows:
            relationships: dict[str, Any] = json.loads(row.relationships)
            for name in self.shape.include:
                data = (relationships.get(name) or {}).get("data")
                if isinstance(data, dict) and isinstance(data.get("id"), int):
                    seen[(targets[name], data["id"])] = None
        parts = []
        for ref_kind, ref_id in seen:
            found = self.store.get(ref_kind, ref_id)
            if found is not None:
                parts.append(self.one(ref_kind, found))
        return "[" + ",".join(parts) + "]"

    def document(self, kind: str, row: Row) -> str:
        included = self.included(kind, [row])
        tail = f',"included":{included}' if included is not None else ""
        return f'{{"data":{self.one(kind, row)}{tail}}}'

    def page(
        self, kind: str, query: ListQuery, page: Page, url: str, args: MultiDict[str, str]
    ) -> str:
        parts = ['{"data":[', ",".join(self.one(kind, r) for r in page.rows), "]"]
        included = self.included(kind, page.rows)
        if included is not None:
            parts.append(f',"included":{included}')
        listed = args.to_dict(flat=False)
        links = _links(query, page, url, listed)
        parts.append(',"links":' + json.dumps(links, separators=(",", ":")))
        if query.count and page.count is not None:
            meta = {
                "count": min(page.count, rules.MAX_COUNT),
                "count_truncated": page.count > rules.MAX_COUNT,
            }
            parts.append(',"meta":' + json.dumps(meta, separators=(",", ":")))
        parts.append("}")
        return "".join(parts)


def _links(query: ListQuery, page: Page, url: str, args: dict[str, list[str]]) -> dict[str, str]:
    links = {"first": page_links(url, args, {})}
    if query.offset is not None:
        return _offset_links(query, page, url, args) | {
            "first": page_links(url, args, {"page[offset]": "0"})
        }
    if page.first_sort_values is not None:
        cursor = encode_cursor(query.sort_spec, page.first_sort_values)
        links["prev"] = page_links(url, args, {"page[before]": cursor})
    if page.last_sort_values is not None:
        cursor = encode_cursor(query.sort_spec, page.last_sort_values)
        links["next"] = page_links(url, args, {"page[after]": cursor})
    return links


def _offset_links(
    query: ListQuery, page: Page, url: str, args: dict[str, list[str]]
) -> dict[str, str]:
    offset = query.offset or 0
    total = page.count or 0
    links: dict[str, str] = {}
    if offset > 0:
        links["prev"] = page_links(url, args, {"page[offset]": str(max(0, offset - query.size))})
    if offset + query.size < total and offset + query.size <= rules.MAX_OFFSET:
        links["next"] = page_links(url, args, {"page[offset]": str(offset + query.size)})
    last = max(0, min(rules.MAX_OFFSET, (total - 1) // query.size * query.size)) if total else 0
    links["last"] = page_links(url, args, {"page[offset]": str(last)})
    return links
