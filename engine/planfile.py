"""The plan file (SPEC §5, format_version 1): a Plan to JSON and back, read and written. The
only module that knows the plan's JSON form; a saved plan is checked strictly on the way in
(planschema.py), so a damaged or edited file is one clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rulesync.documents import Document, PatchOp
from rulesync.errors import ConfigError
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

if TYPE_CHECKING:  # the strict schema is imported only to read a plan
    from rulesync.planschema import (
        AssignJson,
        CreateJson,
        DeleteJson,
        DetachJson,
        DocumentJson,
        LiveRulesetRefJson,
        PatchOpJson,
        SequenceJson,
        UpdateJson,
    )

FORMAT_VERSION = 1
MAX_SHOWN = 10  # problems listed for a damaged plan file


# ---- Plan -> JSON ---------------------------------------------------------------------------


def plan_to_json(plan: Plan) -> dict[str, Any]:
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


def change_to_json(change: Change) -> dict[str, Any]:
    """One change; its keys in the order the format has always written them."""
    # isinstance, not match: mutmut's parser (tests/mutation.py) reads no match statements
    if isinstance(change, Create):
        return {"action": "create", "name": change.name, "id": None, "after": change.after}
    if isinstance(change, Update):
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
    if isinstance(change, Delete):
        return {
            "action": "delete",
            "name": change.name,
            "id": change.id,
            "before": change.before,
            "live_version": change.live_version,
            "sequences": _sequences_json(change.sequences),
            "denied": change.denied,
        }
    return {
        "action": change.action,
        "name": change.name,
        "id": change.id,
        "ruleset_from": _ruleset_json(change.ruleset_from),
        "ruleset_to": _ruleset_json(change.ruleset_to),
        "denied": change.denied,
    }


def _sequences_json(refs: tuple[SequenceRef, ...] | None) -> list[dict[str, int | str]] | None:
    return None if refs is None else [{"id": s.id, "name": s.name} for s in refs]


def _ruleset_json(ref: RulesetRef | None) -> dict[str, int | str | None] | None:
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
    from rulesync.planschema import check

    checked = check(data)
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
    # the action tells the union apart (the classes are imported only for the type checker)
    if item.action == "create":
        return Create(name=item.name, after=_document(item.after))
    if item.action == "update":
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
    if item.action == "delete":
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
    if item.action == "assign":
        return Assign(
            name=item.name,
            id=item.id,
            ruleset_from=_ruleset_ref(item.ruleset_from),
            ruleset_to=RulesetRef(id=item.ruleset_to.id, name=item.ruleset_to.name),
            denied=item.denied,
        )
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
