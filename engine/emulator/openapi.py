"""The field table of every resource the emulator serves, read from Outreach's official OpenAPI
documents bundled with this package (``openapi-rulesets.json``, ``openapi-sequences.json``).

The documents mark a field's traits with badges in its description (``readonly``,
``writeonly``, ``filterable``, ``sortable``); types, formats, ``maxLength`` and ``nullable``
are ordinary schema keywords; a relationship's target type is the ``enum`` of its
``data.type``, and a to-many relationship has ``links`` but no ``data``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

DOCUMENTS = ("openapi-rulesets.json", "openapi-sequences.json")
_BADGE = re.compile(r"badges/([a-z]+)\.svg")


@dataclass(frozen=True)
class Attribute:
    name: str
    type: str  # integer | number | string | boolean | array | object
    format: str | None
    max_length: int | None
    nullable: bool
    read_only: bool
    write_only: bool
    filterable: bool
    sortable: bool


@dataclass(frozen=True)
class Relationship:
    name: str
    target: str | None  # the JSON:API type it points at; None when the document gives none
    to_many: bool
    read_only: bool


@dataclass(frozen=True)
class Resource:
    """One resource type: its collection path, attributes and relationships."""

    type: str
    collection: str
    attributes: dict[str, Attribute]
    relationships: dict[str, Relationship]
    methods: frozenset[str]  # "list", "create", "get", "update", "delete" in the document

    def writable_attributes(self) -> frozenset[str]:
        return frozenset(n for n, a in self.attributes.items() if not a.read_only)

    def to_one(self) -> dict[str, str]:
        """To-one relationships with a known target: name -> type."""
        return {
            n: r.target
            for n, r in self.relationships.items()
            if not r.to_many and r.target is not None
        }


def _badges(node: dict[str, Any]) -> set[str]:
    return set(_BADGE.findall(str(node.get("description", ""))))


def _attribute(name: str, node: dict[str, Any]) -> Attribute:
    badges = _badges(node)
    return Attribute(
        name=name,
        type=str(node.get("type", "string")),
        format=node.get("format"),
        max_length=node.get("maxLength"),
        nullable=bool(node.get("nullable", False)),
        read_only="readonly" in badges,
        write_only="writeonly" in badges,
        filterable="filterable" in badges,
        sortable="sortable" in badges,
    )


def _relationship(name: str, node: dict[str, Any]) -> Relationship:
    members = node.get("properties", {})
    data = members.get("data")
    if data is None:
        return Relationship(name, None, True, "readonly" in _badges(node))
    if data.get("type") == "array":
        target = data.get("items", {}).get("properties", {}).get("type", {}).get("enum")
        return Relationship(name, target[0] if target else None, True, True)
    target = data.get("properties", {}).get("type", {}).get("enum")
    return Relationship(name, target[0] if target else None, False, "readonly" in _badges(node))


def _methods(paths: dict[str, Any], collection: str) -> frozenset[str]:
    found: set[str] = set()
    verbs = {"get": "list", "post": "create"}
    found.update(verbs[m] for m in paths.get(f"/{collection}", {}) if m in verbs)
    item = {"get": "get", "patch": "update", "delete": "delete"}
    found.update(item[m] for m in paths.get(f"/{collection}/{{id}}", {}) if m in item)
    return frozenset(found)


def read_document(name: str) -> dict[str, Any]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


def _collection_of(paths: dict[str, Any], schema: str) -> str:
    """The collection path whose list answer is made of ``schemaResponse`` objects."""
    wanted = f"#/components/schemas/{schema}Response"
    for path, ops in paths.items():
        items = (
            ops.get("get", {})
            .get("responses", {})
            .get("200", {})
            .get("content", {})
            .get("application/vnd.api+json", {})
            .get("schema", {})
            .get("properties", {})
            .get("data", {})
            .get("items", {})
        )
        if items.get("$ref") == wanted:
            return str(path).strip("/")
    raise ValueError(f"no collection serves {schema}")


@cache
def resources_table() -> dict[str, Resource]:
    """Every resource type of the bundled documents, by JSON:API type."""
    table: dict[str, Resource] = {}
    for name in DOCUMENTS:
        document = read_document(name)
        schemas = document["components"]["schemas"]
        paths = document["paths"]
        for kind, schema in schemas.items():
            if kind.endswith(("Relationships", "Response")):
                continue
            collection = _collection_of(paths, kind)
            rels = schemas.get(f"{kind}Relationships", {}).get("properties", {})
            table[kind] = Resource(
                type=kind,
                collection=collection,
                attributes={
                    n: _attribute(n, node) for n, node in schema.get("properties", {}).items()
                },
                relationships={n: _relationship(n, node) for n, node in rels.items()},
                methods=_methods(paths, collection),
            )
    return table


def resource(kind: str) -> Resource:
    return resources_table()[kind]


def by_collection() -> dict[str, Resource]:
    return {r.collection: r for r in resources_table().values()}
