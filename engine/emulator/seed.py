"""The emulator's starting data: the default org, and ``--seed`` files (YAML or JSON).

Seed data is trusted more than API writes: its structure is checked strictly (so a typo in a
field name is reported), but attribute values are stored as given, so tests can model live
rulesets holding values the API's documented rules would not accept today.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rulesync.emulator.jsonapi import encodable
from rulesync.emulator.resources import all_attributes, is_int, to_one

try:
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader  # type: ignore[assignment]


class SeedError(ValueError):
    """A seed file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class SeedResource:
    """A seeded ruleset or sequence (a JSON:API resource object)."""

    id: int | None
    attributes: dict[str, Any]
    relationships: dict[str, int | None]


SeedRuleset = SeedResource


@dataclass(frozen=True)
class Seed:
    stages: tuple[tuple[int, str], ...]
    task_priorities: tuple[tuple[int, str, int | None], ...]
    users: tuple[tuple[int, str, str | None, str | None], ...]
    rulesets: tuple[SeedResource, ...] = ()
    sequences: tuple[SeedResource, ...] = ()

    def to_json(self) -> str:
        """Stored in the database, so that a reset returns to this seed in later runs too."""
        return json.dumps(
            {
                "stages": [{"id": i, "name": n} for i, n in self.stages],
                "taskPriorities": [
                    {"id": i, "name": n, "weight": w} for i, n, w in self.task_priorities
                ],
                "users": [
                    {"id": i, "email": e, "firstName": f, "lastName": la}
                    for i, e, f, la in self.users
                ],
                "rulesets": [_resource_json("ruleset", r) for r in self.rulesets],
                "sequences": [_resource_json("sequence", r) for r in self.sequences],
            }
        )


def _resource_json(kind: str, item: SeedResource) -> dict[str, Any]:
    types = to_one(kind)
    return {
        **({"id": item.id} if item.id is not None else {}),
        "attributes": item.attributes,
        "relationships": {
            k: {"data": None if v is None else {"type": types[k], "id": v}}
            for k, v in item.relationships.items()
        },
    }


def _sequence(row_id: int, name: str, owner: int, **attributes: Any) -> SeedResource:
    return SeedResource(
        id=row_id,
        attributes={"name": name, **attributes},
        relationships={"owner": owner, "ruleset": None},
    )


# A few sequences as a sales team has them; none uses a ruleset until one is assigned.
DEFAULT_SEQUENCES = (
    _sequence(
        1,
        "Inbound demo request",
        2,
        enabled=True,
        shareType="shared",
        sequenceType="interval",
        tags=["Inbound"],
        sequenceStepCount=4,
        durationInDays=9,
    ),
    _sequence(
        2,
        "Outbound - VP Sales",
        1,
        enabled=True,
        shareType="shared",
        sequenceType="interval",
        tags=["Outbound", "Tier 1"],
        sequenceStepCount=7,
        durationInDays=21,
    ),
    _sequence(
        3,
        "Webinar follow-up",
        3,
        enabled=False,
        shareType="private",
        sequenceType="date",
        tags=[],
        sequenceStepCount=3,
        durationInDays=5,
    ),
    _sequence(
        4,
        "Closed lost - re-engage",
        2,
        enabled=True,
        shareType="read_only",
        sequenceType="interval",
        tags=["Nurture"],
        sequenceStepCount=5,
        durationInDays=60,
    ),
)

DEFAULT_SEED = Seed(
    stages=(
        (1, "Cold"),
        (2, "Approaching"),
        (3, "Replied"),
        (4, "Interested"),
        (5, "Not Interested"),
        (6, "Unresponsive"),
        (7, "Do Not Contact"),
        (8, "Bad Contact Info"),
    ),
    task_priorities=((1, "High", 3), (2, "Medium", 2), (3, "Low", 1)),
    users=(
        (1, "ada@example.com", "Ada", "Lovelace"),
        (2, "revops@example.com", "Rev", "Ops"),
        (3, "sam@example.com", "Sam", "Rivera"),
    ),
    sequences=DEFAULT_SEQUENCES,
)

_TOP_KEYS = ("stages", "taskPriorities", "users", "rulesets", "sequences")


def load_seed_file(path: Path) -> Seed:
    """Read a YAML or JSON seed file; raise SeedError with a one-line reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise SeedError(f"{path}: cannot read seed file: {err}") from None
    try:
        doc = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=SafeLoader)
    except (ValueError, yaml.YAMLError) as err:
        reason = " ".join(str(err).split())
        raise SeedError(
            f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {reason}"
        ) from None
    return parse_seed(doc, source=str(path))


def parse_seed(doc: Any, *, source: str = "seed") -> Seed:
    """Keys present replace that part of the default data; absent keys keep the default."""
    if not isinstance(doc, dict):
        raise SeedError(f"{source}: the seed must be a mapping with keys {', '.join(_TOP_KEYS)}")
    for key in doc:
        if key not in _TOP_KEYS:
            raise SeedError(f"{source}: unknown key {key!r} (expected {', '.join(_TOP_KEYS)})")
    base = DEFAULT_SEED
    stages = base.stages
    if "stages" in doc:
        rows = _rows(doc["stages"], "stages", ("id", "name"), source)
        stages = tuple((r["id"], _text(r, "name", f"{source}: stages", True)) for r in rows)
    priorities = base.task_priorities
    if "taskPriorities" in doc:
        rows = _rows(doc["taskPriorities"], "taskPriorities", ("id", "name", "weight"), source)
        priorities = tuple(
            (r["id"], _text(r, "name", f"{source}: taskPriorities", True), _weight(r, source))
            for r in rows
        )
    users = base.users
    if "users" in doc:
        rows = _rows(doc["users"], "users", ("id", "email", "firstName", "lastName"), source)
        where = f"{source}: users"
        users = tuple(
            (
                r["id"],
                str(_text(r, "email", where, True)),
                _text(r, "firstName", where, False),
                _text(r, "lastName", where, False),
            )
            for r in rows
        )
    rulesets = _resources(doc, "ruleset", "rulesets", source)
    sequences = base.sequences
    if "sequences" in doc:
        sequences = _resources(doc, "sequence", "sequences", source)
    seeded = {r.id for r in rulesets}
    for index, item in enumerate(sequences):
        used = item.relationships.get("ruleset")
        if used is not None and used not in seeded:
            raise SeedError(
                f"{source}: sequences[{index}]: ruleset {used} is not among the seeded rulesets"
                " (give that ruleset an id)"
            )
    return Seed(
        stages=stages,
        task_priorities=priorities,
        users=users,
        rulesets=rulesets,
        sequences=sequences,
    )


def _resources(doc: dict[str, Any], kind: str, key: str, source: str) -> tuple[SeedResource, ...]:
    items = tuple(
        _resource(kind, item, f"{source}: {key}[{i}]")
        for i, item in enumerate(_list(doc, key, source))
    )
    ids = [r.id for r in items if r.id is not None]
    if len(ids) != len(set(ids)):
        raise SeedError(f"{source}: {key}: duplicate ids")
    return items


def _list(doc: dict[str, Any], key: str, source: str) -> list[Any]:
    value = doc.get(key) or []
    if not isinstance(value, list):
        raise SeedError(f"{source}: {key} must be a list")
    return value


def _rows(value: Any, key: str, allowed: tuple[str, ...], source: str) -> list[dict[str, Any]]:
    items = _list({key: value}, key, source)
    seen: set[int] = set()
    for index, row in enumerate(items):
        where = f"{source}: {key}[{index}]"
        if not isinstance(row, dict):
            raise SeedError(f"{where}: must be a mapping with keys {', '.join(allowed)}")
        extra = sorted(set(row) - set(allowed))
        if extra:
            raise SeedError(f"{where}: unknown key {extra[0]!r} (expected {', '.join(allowed)})")
        if not is_int(row.get("id")) or row["id"] < 1:
            raise SeedError(f"{where}: id must be a positive integer")
        if row["id"] in seen:
            raise SeedError(f"{where}: duplicate id {row['id']}")
        seen.add(row["id"])
    return items


def _text(row: dict[str, Any], key: str, where: str, required: bool) -> Any:
    value = row.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or not encodable(value):
        raise SeedError(f"{where}[id={row['id']}]: {key} must be a non-empty string")
    return value


def _weight(row: dict[str, Any], source: str) -> int | None:
    weight = row.get("weight")
    if weight is not None and not is_int(weight):
        raise SeedError(f"{source}: taskPriorities[id={row['id']}]: weight must be an integer")
    return weight


def _resource(kind: str, item: Any, where: str) -> SeedResource:
    if not isinstance(item, dict):
        raise SeedError(f"{where}: must be a resource object with attributes and relationships")
    extra = sorted(set(item) - {"type", "id", "attributes", "relationships", "links"})
    if extra:
        raise SeedError(f"{where}: unknown key {extra[0]!r}")
    if item.get("type", kind) != kind:
        raise SeedError(f"{where}: type must be {kind!r}")
    row_id = item.get("id")
    if row_id is not None and (not is_int(row_id) or not 1 <= row_id <= 2**63 - 1):
        raise SeedError(f"{where}: id must be a positive integer")
    attributes = item.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise SeedError(f"{where}: attributes must be a mapping")
    known = all_attributes(kind)
    for key, value in attributes.items():
        if key not in known:
            raise SeedError(f"{where}: unknown attribute {key!r}")
        if isinstance(value, dict) or (isinstance(value, list) and key != "tags"):
            raise SeedError(f"{where}: attribute {key} must be a scalar")
        if isinstance(value, str) and not encodable(value):
            raise SeedError(f"{where}: attribute {key} is not valid Unicode text")
    if not isinstance(attributes.get("name"), str):
        raise SeedError(f"{where}: attributes.name must be a string")
    return SeedResource(
        id=row_id,
        attributes=dict(attributes),
        relationships=_seed_relationships(kind, item, where),
    )


def _seed_relationships(kind: str, item: dict[str, Any], where: str) -> dict[str, int | None]:
    raw = item.get("relationships") or {}
    if not isinstance(raw, dict):
        raise SeedError(f"{where}: relationships must be a mapping")
    types = to_one(kind)
    out: dict[str, int | None] = {}
    for key, value in raw.items():
        if key not in types:
            raise SeedError(f"{where}: unknown relationship {key!r}")
        data = value.get("data", "missing") if isinstance(value, dict) else "missing"
        if data is None:
            out[key] = None
            continue
        expected = types[key]
        if not isinstance(data, dict) or data.get("type") != expected or not is_int(data.get("id")):
            raise SeedError(
                f"{where}: relationships.{key} must be {{data: {{type: {expected}, id: N}}}}"
                " or {data: null}"
            )
        out[key] = data["id"]
    return out
