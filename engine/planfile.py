"""The plan file (SPEC §5, format_version 1): a Plan to JSON and back, and the strict reading
of a saved one, every value typed and every patch checked against the ``before`` and ``after``
it claims to turn one into the other. The only module that knows the plan's JSON form."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
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

from rulesync.documents import Document, PatchOp
from rulesync.errors import ConfigError
from rulesync.fields import ATTRIBUTES, INT_MAX, RELATIONSHIPS
from rulesync.plan import (
    Assign,
    Change,
    Create,
    Delete,
    Detach,
    Kept,
    Plan,
    RulesetRef,
    SequenceRef,
    Update,
)
from rulesync.references import References

FORMAT_VERSION = 1
MAX_SHOWN = 10  # problems listed for a damaged plan file
Json = dict[str, Any]  # a JSON object: its values are any JSON

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


# ---- Plan -> JSON ---------------------------------------------------------------------------


def plan_to_json(plan: Plan) -> Json:
    return {
        "format_version": FORMAT_VERSION,
        "environment": plan.environment,
        "api_url": plan.api_url,
        "generated_at": plan.generated_at,
        "summary": plan.summary,
        "api_requests": plan.api_requests,
        "live_managed": plan.live_managed,
        "prune": plan.prune,
        "changes": [change_to_json(c) for c in plan.changes],
        "references": plan.references.to_json(),
        "kept": [{"id": k.id, "name": k.name} for k in plan.kept],
    }


def change_to_json(change: Change) -> Json:
    """One change; its keys in the order the format has always written them."""
    match change:
        case Create():
            return {"action": "create", "name": change.name, "id": None, "after": change.after}
        case Update():
            return {
                "action": "update",
                "name": change.name,
                "id": change.id,
                "renamed_from": change.renamed_from,
                "before": change.before,
                "after": change.after,
                "patch": list(change.patch),
                "live_version": change.live_version,
                "sequences": _sequences_json(change.sequences),
                "denied": change.denied,
            }
        case Delete():
            return {
                "action": "delete",
                "name": change.name,
                "id": change.id,
                "before": change.before,
                "live_version": change.live_version,
                "sequences": _sequences_json(change.sequences),
                "denied": change.denied,
            }
        case Assign() | Detach():
            return {
                "action": change.action,
                "name": change.name,
                "id": change.id,
                "ruleset_from": _ruleset_json(change.ruleset_from),
                "ruleset_to": _ruleset_json(change.ruleset_to),
                "denied": change.denied,
            }


def _sequences_json(refs: tuple[SequenceRef, ...] | None) -> list[Json] | None:
    return None if refs is None else [{"id": s.id, "name": s.name} for s in refs]


def _ruleset_json(ref: RulesetRef | None) -> Json | None:
    return None if ref is None else {"id": ref.id, "name": ref.name}


def dumps(plan: Plan) -> str:
    """The plan file's text (also `plan --format json`)."""
    return json.dumps(plan_to_json(plan), indent=2, ensure_ascii=False) + "\n"


def write_plan(plan: Plan, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A live name may hold a lone surrogate (valid JSON, not UTF-8): written as its JSON
        # escape \udXXX, which reads back exactly
        path.write_text(dumps(plan), encoding="utf-8", errors="backslashreplace")
    except OSError as err:
        raise ConfigError(f"{path}: cannot write the plan file: {err.strerror}") from None


# ---- JSON -> Plan ---------------------------------------------------------------------------


def read_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the plan file: {err.strerror}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ConfigError(
            f"{path}: not JSON ({err}); pass a file made by `rulesync plan --out`"
        ) from None
    return plan_from_json(data, source=str(path))


def plan_from_json(data: object, *, source: str = "plan") -> Plan:
    """A plan from its decoded JSON, checked strictly: a damaged or edited file is one error."""
    if not isinstance(data, dict) or "format_version" not in data:
        raise ConfigError(f"{source}: not a rulesync plan file (no format_version)")
    if data["format_version"] != FORMAT_VERSION:
        raise ConfigError(
            f"{source}: plan format_version {data['format_version']!r} is not "
            f"supported (this rulesync reads {FORMAT_VERSION}); plan again"
        )
    checked = _checked(data)
    if isinstance(checked, list):
        shown = checked[:MAX_SHOWN]
        more = len(checked) - len(shown)
        raise ConfigError(
            f"{source}: damaged or edited plan file, refused:\n  - "
            + "\n  - ".join(shown)
            + (f"\n  - ... and {more} more" if more else "")
            + "\nMake a new one with `rulesync plan --out`."
        )
    return Plan(
        environment=checked.environment,
        api_url=checked.api_url,
        changes=tuple(_change(c) for c in checked.changes),
        unchanged=checked.summary.unchanged,
        api_requests=checked.api_requests,
        live_managed=checked.live_managed,
        prune=checked.prune,
        generated_at=checked.generated_at,
        references=References.from_json(data["references"]),
        kept=tuple(Kept(id=k.id, name=k.name) for k in checked.kept),
    )


def _change(item: CreateJson | UpdateJson | AssignJson | DetachJson | DeleteJson) -> Change:
    match item:
        case CreateJson():
            return Create(name=item.name, after=_document(item.after))
        case UpdateJson():
            return Update(
                name=item.name,
                id=item.id,
                renamed_from=item.renamed_from,
                before=_document(item.before),
                after=_document(item.after),
                patch=tuple(_patch_op(op) for op in item.patch),
                live_version=item.live_version,
                sequences=_sequence_refs(item.sequences),
                denied=item.denied,
            )
        case DeleteJson():
            return Delete(
                name=item.name,
                id=item.id,
                before={
                    "attributes": dict(item.before.attributes),
                    "relationships": dict(item.before.relationships),
                },
                live_version=item.live_version,
                sequences=_sequence_refs(item.sequences),
                denied=item.denied,
            )
        case AssignJson():
            return Assign(
                name=item.name,
                id=item.id,
                ruleset_from=_ruleset_ref(item.ruleset_from),
                ruleset_to=RulesetRef(id=item.ruleset_to.id, name=item.ruleset_to.name),
                denied=item.denied,
            )
        case DetachJson():
            return Detach(
                name=item.name,
                id=item.id,
                ruleset_from=RulesetRef(id=item.ruleset_from.id, name=item.ruleset_from.name),
                denied=item.denied,
            )


def _document(doc: DocumentJson) -> Document:
    return {
        "attributes": dict(doc.attributes),
        "relationships": {
            name: None if ref is None else {"type": ref.type, "id": ref.id}
            for name, ref in doc.relationships.items()
        },
    }


def _patch_op(op: PatchOpJson) -> PatchOp:
    out = PatchOp(op=op.op, path=op.path)
    if "value" in op.model_fields_set:  # a remove carries none
        out["value"] = op.value
    return out


def _sequence_refs(items: list[SequenceJson] | None) -> tuple[SequenceRef, ...] | None:
    return None if items is None else tuple(SequenceRef(id=s.id, name=s.name) for s in items)


def _ruleset_ref(ref: LiveRulesetRefJson | None) -> RulesetRef | None:
    return None if ref is None else RulesetRef(id=ref.id, name=ref.name)


# ---- the strict reading ---------------------------------------------------------------------


def plan_problems(data: object) -> list[str]:
    """Everything wrong with a decoded plan file; empty when it is sound."""
    checked = _checked(data)
    return checked if isinstance(checked, list) else []


def _checked(data: object) -> PlanFile | list[str]:
    """The plan file's typed form, or everything wrong with it."""
    try:
        plan = PlanFile.model_validate(data)
    except ValidationError as err:
        return [f"{_where(e['loc'])}: {e['msg']}" for e in err.errors(include_url=False)]
    assert isinstance(data, dict)  # PlanFile validated it as an object
    problems = list(_consistency(plan, data))
    return problems or plan


def _consistency(plan: PlanFile, raw: dict[str, Any]) -> Iterator[str]:
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
            yield from _update(change, raw["changes"][index], where)
    for action, count in counts.items():
        if getattr(plan.summary, action) != count:
            yield f"summary.{action}: says {getattr(plan.summary, action)}, the plan has {count}"


def _update(change: UpdateJson, raw: dict[str, Any], where: str) -> Iterator[str]:
    yield from _document_problems(change.before, f"{where}.before")
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
    import jsonpatch  # only a saved plan's updates need it

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
    return out or "(top level)"
