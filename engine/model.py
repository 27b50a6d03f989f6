"""The validators of a ruleset file and of defaults/overrides, built from the field table
(fields.py) as pydantic-core schemas.

pydantic-core is pydantic's own validation engine: the errors (type, message, location) are
the ones pydantic's models gave. Building a pydantic model would also import pydantic's model
layer, which costs more than all the rest of `validate`; a core schema costs next to nothing.
The JSON Schema for editors comes from the same schemas (``ruleset_json_schema``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from pydantic_core import SchemaValidator
from pydantic_core import core_schema as cs

from rulesync.fields import (
    ATTRIBUTES,
    BOOL_FIELDS,
    COUNT_FIELDS,
    DURATION_FIELDS,
    ENUMS,
    INT_MAX,
    MANAGEABLE,
    NAME_LIMIT,
    RELATIONSHIPS,
    STORED_DEFAULTS,
    STRING_LIMITS,
    parse_duration,
)

# The order editors show the fields in: the order of Outreach's Ruleset page.
ORDER: tuple[str, ...] = (
    "permitDuplicateProspects",
    "sequenceExclusivity",
    "includeUnsubscribeLinks",
    "autoResumeOotoProspects",
    "ootoAutoExtractionEnabled",
    "stepOverridesEnabled",
    "autoResumeOotoProspectsIn",
    "autoResumeOotoProspectsExpiresIn",
    "applyCompletedStageIn",
    "minimumProspectTouchedInterval",
    "clicksNeededBeforeCallTaskCreated",
    "opensNeededBeforeCallTaskCreated",
    "callOptOutAction",
    "emailOptOutAction",
    "smsOptOutAction",
    "meetingBookedAction",
    "smsReceivedAction",
    "owner",
    "startedStage",
    "repliedStage",
    "bouncedStage",
    "optedOutStage",
    "finishedStage",
    "completedStage",
    "deliveredStage",
    "callTaskPriority",
    "callTaskPriorityFromOpens",
    "callTaskPriorityFromClicks",
)
if sorted(ORDER) != sorted(MANAGEABLE):  # pragma: no cover - a field added to one list only
    raise RuntimeError("model.ORDER must list every field of fields.MANAGEABLE once")

ID_REF = "IdRef"  # the schema of `{id: N}`, and its name in a union's error locations
TEXT = "constrained-str"  # the name pydantic gives a text with limits in a union's locations
DURATION_JSON: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 0, "maximum": INT_MAX},
        {"type": "string", "pattern": r"^\s*\d+\s*[smhdw]?\s*$"},
    ],
    "description": "Seconds: an integer, or a duration such as 90s, 15m, 2h, 3d, 1w.",
}
PIN_NOTE = "Pins the live ruleset with this id (needed when live names repeat)."
SEQUENCES_NOTE = (
    "The sequences that use this ruleset, by name or {id: N}: exactly these (others using it"
    " are detached with prune); null or [] means none. Omitted: sequences are not managed."
)


def _whole(*, ge: int, le: int | None = INT_MAX, note: str | None = None) -> cs.IntSchema:
    metadata = {"pydantic_js_updates": {"description": note}} if note else None
    return cs.int_schema(strict=True, ge=ge, le=le, metadata=metadata)


def _text(max_length: int, min_length: int | None = None) -> cs.StringSchema:
    return cs.str_schema(strict=True, min_length=min_length, max_length=max_length)


def _ref() -> cs.UnionSchema:
    """A relationship: a name or email, or ``{id: N}``."""
    by_id = cs.definition_reference_schema(ID_REF)
    return cs.union_schema([(_text(255, 1), TEXT), (by_id, ID_REF)])


def _id_ref() -> cs.TypedDictSchema:
    return cs.typed_dict_schema(
        {"id": cs.typed_dict_field(_whole(ge=1, le=None))},
        extra_behavior="forbid",
        ref=ID_REF,
        metadata=_titled(ID_REF, "A relationship given by its numeric id: ``{id: 4}``."),
    )


def _titled(title: str, description: str) -> dict[str, Any]:
    """The title and description of a mapping in the JSON Schema."""
    return {"pydantic_js_updates": {"title": title, "description": description}}


def _not_null(field: str) -> Callable[[Any], Any]:
    default = STORED_DEFAULTS[field]

    def check(value: Any) -> Any:
        # Only an explicit null reaches here: an omitted field is not validated.
        if value is None:
            raise ValueError(
                f"Outreach always stores a value here and turns null into '{default}'; write "
                f"{default}, or leave the field out to leave it unmanaged"
            )
        return value

    return check


def _value(field: str) -> cs.CoreSchema:
    """The schema of one managed field's value (null included: null is a managed empty)."""
    schema: cs.CoreSchema
    if field in ENUMS:
        schema = cs.literal_schema(list(ENUMS[field]))
    elif field in BOOL_FIELDS:
        schema = cs.bool_schema(strict=True)
    elif field in DURATION_FIELDS:
        schema = cs.no_info_before_validator_function(
            parse_duration,
            _whole(ge=0),
            metadata={"pydantic_js_annotation_functions": [lambda _s, _h: dict(DURATION_JSON)]},
        )
    elif field in COUNT_FIELDS:
        schema = _whole(ge=0)
    elif field in STRING_LIMITS:
        schema = _text(STRING_LIMITS[field])
    elif field in RELATIONSHIPS:
        schema = _ref()
    else:  # pragma: no cover - ORDER is checked against MANAGEABLE above
        raise KeyError(field)
    schema = cs.nullable_schema(schema)
    if field in STORED_DEFAULTS:
        schema = cs.no_info_after_validator_function(_not_null(field), schema)
    return schema


def _document(
    fields: dict[str, cs.TypedDictField], metadata: dict[str, Any]
) -> cs.DefinitionsSchema:
    """A mapping of exactly these fields (each optional unless required), refs resolved."""
    return cs.definitions_schema(
        cs.typed_dict_schema(fields, extra_behavior="forbid", metadata=metadata), [_id_ref()]
    )


def _managed() -> dict[str, cs.TypedDictField]:
    return {name: cs.typed_dict_field(_value(name), required=False) for name in ORDER}


def fields_schema() -> cs.DefinitionsSchema:
    """Defaults and overrides in rulesync.yaml: managed fields only, each optional."""
    return _document(
        _managed(),
        _titled(
            "RulesetFields",
            "The managed fields of a ruleset: used for defaults and overrides in rulesync.yaml.",
        ),
    )


def file_schema() -> cs.DefinitionsSchema:
    """One document of a ruleset file: a name, and the managed fields it sets."""
    name = _text(NAME_LIMIT, 1)
    return _document(
        {
            **_managed(),
            "name": cs.typed_dict_field(name),
            "previousNames": cs.typed_dict_field(cs.list_schema(name), required=False),
            "id": cs.typed_dict_field(
                cs.nullable_schema(_whole(ge=1, note=PIN_NOTE)), required=False
            ),
            "sequences": cs.typed_dict_field(
                cs.nullable_schema(cs.list_schema(_ref())),
                required=False,
                metadata={"pydantic_js_updates": {"description": SEQUENCES_NOTE}},
            ),
        },
        _titled("rulesync ruleset", "An Outreach sequence ruleset managed by rulesync."),
    )


@functools.cache
def _file_validator() -> SchemaValidator:
    return SchemaValidator(file_schema())


@functools.cache
def _fields_validator() -> SchemaValidator:
    return SchemaValidator(fields_schema())


def validate_file(doc: Any) -> dict[str, Any]:
    """One ruleset document -> the fields it sets (``{id: N}`` as a dict); raises
    ``pydantic_core.ValidationError``."""
    data: dict[str, Any] = _file_validator().validate_python(doc)
    return data


def validate_fields(doc: Any) -> dict[str, Any]:
    """Defaults or overrides -> the fields they set; raises ``pydantic_core.ValidationError``."""
    data: dict[str, Any] = _fields_validator().validate_python(doc)
    return data


HELD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"held": {"type": ["string", "integer", "number", "boolean", "null"]}},
    "required": ["held"],
    "additionalProperties": False,
    "description": "A value Outreach holds but would refuse on write; kept, never sent.",
}


def json_schema(schema: cs.CoreSchema) -> dict[str, Any]:
    """The JSON Schema of a core schema, as pydantic writes it (imported only for this)."""
    from pydantic.json_schema import GenerateJsonSchema

    return GenerateJsonSchema().generate(schema)


def ruleset_fields_json_schema() -> dict[str, Any]:
    """JSON Schema of defaults/overrides (completed in schemas.py)."""
    return json_schema(fields_schema())


def ruleset_json_schema() -> dict[str, Any]:
    """JSON Schema of a ruleset file, for editors (yaml-language-server)."""
    schema = json_schema(file_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    for field in ATTRIBUTES:  # `{held: VALUE}`: a value Outreach holds (see held.py)
        schema["properties"][field].setdefault("anyOf", []).append(HELD_SCHEMA)
    return schema
