"""The strict check of a decoded plan file (format_version 1): every value typed, every patch
checked against the ``before`` and ``after`` it claims to turn one into the other.

Only reading a saved plan needs it (planfile.py imports it then): writing a plan builds no
pydantic models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

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


class RelationshipJson(_Strict):
    type: Literal["stage", "taskPriority", "user"]
    id: Id


class DocumentJson(_Strict):
    attributes: dict[str, Any]
    relationships: dict[str, RelationshipJson | None]


class LiveDocumentJson(_Strict):
    """A delete's ``before``: every attribute the API returned (any value a live org holds)."""

    attributes: dict[str, Any]
    relationships: dict[str, dict[str, Any] | None]


class PatchOpJson(_Strict):
    op: Literal["add", "replace", "remove"]
    path: FieldPath
    value: Any = None


class CreateJson(_Strict):
    action: Literal["create"]
    name: StrictStr
    id: None
    after: DocumentJson


class SequenceJson(_Strict):
    id: Id
    name: StrictStr


class UpdateJson(_Strict):
    action: Literal["update"]
    name: StrictStr
    id: Id
    renamed_from: StrictStr | None
    before: DocumentJson
    after: DocumentJson
    patch: Annotated[list[PatchOpJson], Field(min_length=1)]
    live_version: Version
    sequences: list[SequenceJson] | None
    denied: StrictStr | None


class DeleteJson(_Strict):
    action: Literal["delete"]
    name: StrictStr
    id: Id
    before: LiveDocumentJson
    live_version: Version
    sequences: list[SequenceJson] | None
    denied: StrictStr | None


class RulesetRefJson(_Strict):
    id: Id | None
    name: StrictStr


class LiveRulesetRefJson(_Strict):
    id: Id
    name: StrictStr


class AssignJson(_Strict):
    """A sequence given a ruleset (``id`` is the sequence's); ``ruleset_to.id`` None: the
    ruleset this plan creates under that name."""

    action: Literal["assign"]
    name: StrictStr
    id: Id
    ruleset_from: LiveRulesetRefJson | None
    ruleset_to: RulesetRefJson
    denied: StrictStr | None


class DetachJson(_Strict):
    """A sequence left without a ruleset (prune)."""

    action: Literal["detach"]
    name: StrictStr
    id: Id
    ruleset_from: LiveRulesetRefJson
    ruleset_to: None
    denied: StrictStr | None


class SummaryJson(_Strict):
    create: Count
    update: Count
    assign: Count
    detach: Count
    delete: Count
    unchanged: Count


class KeptJson(_Strict):
    id: Id
    name: StrictStr


class PlanFile(_Strict):
    format_version: Literal[1]
    environment: StrictStr
    api_url: StrictStr
    generated_at: StrictStr
    summary: SummaryJson
    api_requests: Count
    live_managed: Count
    prune: StrictBool
    changes: list[
        Annotated[
            CreateJson | UpdateJson | AssignJson | DetachJson | DeleteJson,
            Field(discriminator="action"),
        ]
    ]
    references: dict[
        Literal["stage", "taskPriority", "user"],
        dict[Annotated[StrictStr, Field(pattern=r"^[1-9][0-9]{0,9}$")], StrictStr],
    ]
    kept: list[KeptJson] = []


def check(data: object) -> PlanFile | list[str]:
    """The plan file's typed form, or everything wrong with it."""
    try:
        plan = PlanFile.model_validate(data)
    except ValidationError as err:
        return [f"{_where(e['loc'])}: {e['msg']}" for e in err.errors()]
    problems = list(_consistency(plan))
    return problems or plan


def _consistency(plan: PlanFile) -> Iterator[str]:
    counts = {"create": 0, "update": 0, "assign": 0, "detach": 0, "delete": 0}
    ids: dict[tuple[str, int], int] = {}
    created = {c.name for c in plan.changes if isinstance(c, CreateJson)}
    for index, change in enumerate(plan.changes):
        where = f"changes[{index}]"
        counts[change.action] += 1
        kind = "sequence" if isinstance(change, AssignJson | DetachJson) else "ruleset"
        if change.id is not None:
            if (kind, change.id) in ids:
                yield (
                    f"{where}.id: {kind} {change.id} is also changed at"
                    f" changes[{ids[(kind, change.id)]}]"
                )
            ids[(kind, change.id)] = index
        if isinstance(change, AssignJson):
            if change.ruleset_to.id is None and change.ruleset_to.name not in created:
                yield f"{where}.ruleset_to.id: null, but the plan creates no such ruleset"
            continue
        if isinstance(change, DeleteJson | DetachJson):
            continue
        yield from _document_problems(change.after, f"{where}.after")
        if change.after.attributes.get("name") != change.name:
            yield f"{where}.after.attributes.name: does not match the change's name"
        if isinstance(change, UpdateJson):
            yield from _update(change, where)
    for action, count in counts.items():
        if getattr(plan.summary, action) != count:
            yield f"summary.{action}: says {getattr(plan.summary, action)}, the plan has {count}"


def _update(change: UpdateJson, where: str) -> Iterator[str]:
    yield from _document_problems(change.before, f"{where}.before")
    was = change.before.attributes.get("name")
    if was != (change.renamed_from or change.name):
        yield f"{where}.renamed_from: does not match the name in before ({was!r})"
    if change.renamed_from == change.name:
        yield f"{where}.renamed_from: is the ruleset's own name"
    for number, op in enumerate(change.patch):
        if op.op != "remove" and "value" not in op.model_fields_set:
            yield f"{where}.patch[{number}].value: required for {op.op}"
        section, name = op.path.split("/")[1:]
        known = RELATIONSHIPS if section == "relationships" else KNOWN_ATTRIBUTES
        if _unescape(name) not in known:
            yield f"{where}.patch[{number}].path: no such field {op.path!r}"
    import jsonpatch  # only a saved plan's updates need it

    try:
        patched = jsonpatch.apply_patch(
            change.before.model_dump(), [op.model_dump(exclude_unset=True) for op in change.patch]
        )
    except (
        jsonpatch.JsonPatchException,
        jsonpatch.JsonPointerException,
        TypeError,
        KeyError,
        IndexError,
    ) as err:
        yield f"{where}.patch: does not apply to before ({err})"
        return
    if patched != change.after.model_dump():
        yield f"{where}.patch: applied to before, it does not give after"


def _document_problems(doc: DocumentJson, where: str) -> Iterator[str]:
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
    return out
