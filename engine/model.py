"""The pydantic models of a ruleset file and of defaults/overrides (the fields: fields.py)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from rulesync.fields import ATTRIBUTES, INT_MAX, NAME_LIMIT, STORED_DEFAULTS, parse_duration

NonNegative = Annotated[StrictInt, Field(ge=0, le=INT_MAX)]
Duration = Annotated[
    NonNegative,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": INT_MAX},
                {"type": "string", "pattern": r"^\s*\d+\s*[smhdw]?\s*$"},
            ],
            "description": "Seconds: an integer, or a duration such as 90s, 15m, 2h, 3d, 1w.",
        }
    ),
]


class IdRef(BaseModel):
    """A relationship given by its numeric id: ``{id: 4}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Annotated[StrictInt, Field(ge=1)]


Ref = Annotated[StrictStr, StringConstraints(min_length=1, max_length=255)] | IdRef


Str4 = Annotated[StrictStr, StringConstraints(max_length=4)]
Str255 = Annotated[StrictStr, StringConstraints(max_length=255)]


class RulesetFields(BaseModel):
    """The managed fields of a ruleset: used for defaults and overrides in rulesync.yaml."""

    # built when first used (defaults, overrides, held values): most runs never need it
    model_config = ConfigDict(extra="forbid", defer_build=True)

    permitDuplicateProspects: Literal["allow", "disallow", "only_if_inactive"] | None = None
    sequenceExclusivity: Literal["all_sequences", "exclusive_sequences", "none"] | None = None
    includeUnsubscribeLinks: StrictBool | None = None
    autoResumeOotoProspects: StrictBool | None = None
    ootoAutoExtractionEnabled: StrictBool | None = None
    stepOverridesEnabled: StrictBool | None = None
    autoResumeOotoProspectsIn: Duration | None = None
    autoResumeOotoProspectsExpiresIn: Duration | None = None
    applyCompletedStageIn: Duration | None = None
    minimumProspectTouchedInterval: Duration | None = None
    clicksNeededBeforeCallTaskCreated: NonNegative | None = None
    opensNeededBeforeCallTaskCreated: NonNegative | None = None
    callOptOutAction: Str4 | None = None
    emailOptOutAction: Str4 | None = None
    smsOptOutAction: Str4 | None = None
    meetingBookedAction: Str255 | None = None
    smsReceivedAction: Str255 | None = None

    owner: Ref | None = None
    startedStage: Ref | None = None
    repliedStage: Ref | None = None
    bouncedStage: Ref | None = None
    optedOutStage: Ref | None = None
    finishedStage: Ref | None = None
    completedStage: Ref | None = None
    deliveredStage: Ref | None = None
    callTaskPriority: Ref | None = None
    callTaskPriorityFromOpens: Ref | None = None
    callTaskPriorityFromClicks: Ref | None = None

    @field_validator(*STORED_DEFAULTS)
    @classmethod
    def _not_null(cls, value: str | None, info: Any) -> str | None:
        # Only an explicit null reaches here: an omitted field keeps its default unvalidated.
        if value is None:
            default = STORED_DEFAULTS[str(info.field_name)]
            raise ValueError(
                f"Outreach always stores a value here and turns null into '{default}'; write "
                f"{default}, or leave the field out to leave it unmanaged"
            )
        return value


Name = Annotated[StrictStr, StringConstraints(min_length=1, max_length=NAME_LIMIT)]


class RulesetFile(RulesetFields):
    """One YAML document of a ruleset file. Omitted fields are unmanaged; null is managed."""

    model_config = ConfigDict(
        extra="forbid",
        title="rulesync ruleset",
        json_schema_extra={"description": "An Outreach sequence ruleset managed by rulesync."},
    )

    name: Name
    previousNames: list[Name] = []
    id: (
        Annotated[
            StrictInt,
            Field(
                ge=1,
                le=INT_MAX,
                description="Pins the live ruleset with this id (needed when live names repeat).",
            ),
        ]
        | None
    ) = None
    sequences: Annotated[
        list[Ref] | None,
        Field(
            description="The sequences that use this ruleset, by name or {id: N}: exactly"
            " these (others using it are detached with prune); null or [] means none."
            " Omitted: sequences are not managed.",
        ),
    ] = None


def ruleset_json_schema() -> dict[str, Any]:
    """JSON Schema of a ruleset file, for editors (yaml-language-server)."""
    schema = RulesetFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    for field in ATTRIBUTES:  # `{held: VALUE}`: a value Outreach holds (see held.py)
        schema["properties"][field].setdefault("anyOf", []).append(HELD_SCHEMA)
    return schema


HELD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"held": {"type": ["string", "integer", "number", "boolean", "null"]}},
    "required": ["held"],
    "additionalProperties": False,
    "description": "A value Outreach holds but would refuse on write; kept, never sent.",
}
