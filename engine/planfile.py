"""Strict reading of a plan file (format_version 1): every value typed, every patch checked
against the ``before`` and ``after`` it claims to turn one into the other."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

import jsonpatch
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)

from rulesync.fields import ATTRIBUTES, INT_MAX, RELATIONSHIPS

Id = Annotated[StrictInt, Field(ge=1, le=INT_MAX)]
Count = Annotated[StrictInt, Field(ge=0)]
Version = Annotated[StrictStr, Field(pattern=r"^sha256:[0-9a-f]{64}$")]
FieldPath = Annotated[StrictStr, Field(pattern=r"^/(attributes|relationships)/[^/]+$")]
KNOWN_ATTRIBUTES = ("name", *ATTRIBUTES)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Relationship(_Strict):
    type: Literal["stage", "taskPriority", "user"]
    id: Id


class Document(_Strict):
    attributes: dict[str, Any]
    relationships: dict[str, Relationship | None]


class LiveDocument(_Strict):
    """A delete's ``before``: every attribute the API returned (any value a live org holds)."""

    attributes: dict[str, Any]
    relationships: dict[str, dict[str, Any] | None]


class PatchOp(_Strict):
    op: Literal["add", "replace", "remove"]
    path: FieldPath
    value: Any = None


class Create(_Strict):
    action: Literal["create"]
    name: StrictStr
    id: None
    after: Document


class SequenceItem(_Strict):
    id: Id
    name: StrictStr


class Update(_Strict):
    action: Literal["update"]
    name: StrictStr
    id: Id
    renamed_from: StrictStr | None
    before: Document
    after: Document
    patch: Annotated[list[PatchOp], Field(min_length=1)]
    live_version: Version
    sequences: list[SequenceItem] | None
    denied: StrictStr | None


class Delete(_Strict):
    action: Literal["delete"]
    name: StrictStr
    id: Id
    before: LiveDocument
    live_version: Version
    sequences: list[SequenceItem] | None
    denied: StrictStr | None


class RulesetRef(_Strict):
    id: Id | None
    name: StrictStr


class LiveRulesetRef(_Strict):
    id: Id
    name: StrictStr


class Assign(_Strict):
    """A sequence given a ruleset (``id`` is the sequence's); ``ruleset_to.id`` None: the
    ruleset this plan creates under that name."""

    action: Literal["assign"]
    name: StrictStr
    id: Id
    ruleset_from: LiveRulesetRef | None
    ruleset_to: RulesetRef
    denied: StrictStr | None


class Detach(_Strict):
    """A sequence left without a ruleset (prune)."""

    action: Literal["detach"]
    name: StrictStr
    id: Id
    ruleset_from: LiveRulesetRef
    ruleset_to: None
    denied: StrictStr | None


class Summary(_Strict):
    create: Count
    update: Count
    assign: Count
    detach: Count
    delete: Count
    unchanged: Count


class KeptRuleset(_Strict):
    id: Id
    name: StrictStr


class PlanFile(_Strict):
    format_version: Literal[1]
    environment: StrictStr
    api_url: StrictStr
    generated_at: StrictStr
    summary: Summary
    api_requests: Count
    live_managed: Count
    prune: StrictBool
    changes: list[
        Annotated[Create | Update | Assign | Detach | Delete, Field(discriminator="action")]
    ]
    references: dict[
        Literal["stage", "taskPriority", "user"],
        dict[Annotated[StrictStr, Field(pattern=r"^[1-9][0-9]{0,9}$")], StrictStr],
    ]
    kept: list[KeptRuleset] = []


def plan_problems(data: Any) -> list[str]:
    """Everything wrong with a decoded plan file; empty when it is sound."""
    try:
        plan = PlanFile.model_validate(data)
    except ValidationError as err:
        return [f"{_where(e['loc'])}: {e['msg']}" for e in err.errors(include_url=False)]
    return list(_consistency(plan, data))


def _consistency(plan: PlanFile, raw: dict[str, Any]) -> Iterator[str]:
    counts = {"create": 0, "update": 0, "assign": 0, "detach": 0, "delete": 0}
    ids: dict[tuple[str, int], int] = {}
    created = {c.name for c in plan.changes if isinstance(c, Create)}
    for index, change in enumerate(plan.changes):
        where = f"changes[{index}]"
        counts[change.action] += 1
        kind = "sequence" if isinstance(change, Assign | Detach) else "ruleset"
        if change.id is not None:
            if (kind, change.id) in ids:
                yield (
                    f"{where}.id: {kind} {change.id} is also changed at"
                    f" changes[{ids[(kind, change.id)]}]"
                )
            ids[(kind, change.id)] = index
        if isinstance(change, Assign):
            if change.ruleset_to.id is None and change.ruleset_to.name not in created:
                yield f"{where}.ruleset_to.id: null, but the plan creates no such ruleset"
            continue
        if isinstance(change, Delete | Detach):
            continue
        yield from _document(change.after, f"{where}.after")
        if change.after.attributes.get("name") != change.name:
            yield f"{where}.after.attributes.name: does not match the change's name"
        if isinstance(change, Update):
            yield from _update(change, raw["changes"][index], where)
    for action, count in counts.items():
        if getattr(plan.summary, action) != count:
            yield f"summary.{action}: says {getattr(plan.summary, action)}, the plan has {count}"


def _update(change: Update, raw: dict[str, Any], where: str) -> Iterator[str]:
    yield from _document(change.before, f"{where}.before")
    was = change.before.attributes.get("name")
    if was != (change.renamed_from or change.name):
        yield f"{where}.renamed_from: does not match the name in before ({was!r})"
    if change.renamed_from == change.name:
        yield f"{where}.renamed_from: is the ruleset's own name"
    for number, op in enumerate(raw["patch"]):
        if op["op"] != "remove" and "value" not in op:
            yield f"{where}.patch[{number}].value: required for {op['op']}"
        section, name = op["path"].split("/")[1:]
        known = RELATIONSHIPS if section == "relationships" else KNOWN_ATTRIBUTES
        if _unescape(name) not in known:
            yield f"{where}.patch[{number}].path: no such field {op['path']!r}"
    try:
        patched = jsonpatch.apply_patch(raw["before"], raw["patch"])
    except (
        jsonpatch.JsonPatchException,
        jsonpatch.JsonPointerException,
        TypeError,
        KeyError,
        IndexError,
    ) as err:
        yield f"{where}.patch: does not apply to before ({err})"
        return
    if patched != raw["after"]:
        yield f"{where}.patch: applied to before, it does not give after"


def _document(doc: Document, where: str) -> Iterator[str]:
    for name in doc.attributes:
        if name not in KNOWN_ATTRIBUTES:
            yield f"{where}.attributes: no such field {name!r}"
    for name, value in doc.relationships.items():
        kind = RELATIONSHIPS.get(name)
        if kind is None:
            yield f"{where}.relationships: no such relationship {name!r}"
        elif value is not None and value.type != kind:
            yield f"{where}.relationships.{name}.type: must be {kind!r}, got {value.type!r}"


def _unescape(name: str) -> str:
    return name.replace("~1", "/").replace("~0", "~")


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("create", "update", "assign", "detach", "delete") and out.endswith("]"):
            continue  # the union branch pydantic names; the action is in the value
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"
