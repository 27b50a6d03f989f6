"""The ruleset's fields (from Outreach's OpenAPI document) and the pydantic model of a file."""

from __future__ import annotations

import re
import reprlib
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

ENUMS: dict[str, tuple[str, ...]] = {
    "permitDuplicateProspects": ("allow", "disallow", "only_if_inactive"),
    "sequenceExclusivity": ("all_sequences", "exclusive_sequences", "none"),
}
# Outreach's Ruleset page names a default for these ("disallow (the default)", "none (the
# default)") and a ruleset always holds a value there: asking for null would never converge.
STORED_DEFAULTS: dict[str, str] = {
    "permitDuplicateProspects": "disallow",
    "sequenceExclusivity": "none",
}
DURATION_FIELDS = (
    "applyCompletedStageIn",
    "autoResumeOotoProspectsExpiresIn",
    "autoResumeOotoProspectsIn",
    "minimumProspectTouchedInterval",
)
COUNT_FIELDS = ("clicksNeededBeforeCallTaskCreated", "opensNeededBeforeCallTaskCreated")
BOOL_FIELDS = (
    "autoResumeOotoProspects",
    "includeUnsubscribeLinks",
    "ootoAutoExtractionEnabled",
    "stepOverridesEnabled",
)
STRING_LIMITS: dict[str, int] = {
    "callOptOutAction": 4,
    "emailOptOutAction": 4,
    "smsOptOutAction": 4,
    "meetingBookedAction": 255,
    "smsReceivedAction": 255,
}
NAME_LIMIT = 255
# Writable attributes other than ``name``, in a stable order.
ATTRIBUTES: tuple[str, ...] = tuple(
    sorted((*ENUMS, *DURATION_FIELDS, *COUNT_FIELDS, *BOOL_FIELDS, *STRING_LIMITS))
)
# Writable relationships and the JSON:API type each one points at.
RELATIONSHIPS: dict[str, str] = {
    "bouncedStage": "stage",
    "callTaskPriority": "taskPriority",
    "callTaskPriorityFromClicks": "taskPriority",
    "callTaskPriorityFromOpens": "taskPriority",
    "completedStage": "stage",
    "deliveredStage": "stage",
    "finishedStage": "stage",
    "optedOutStage": "stage",
    "owner": "user",
    "repliedStage": "stage",
    "startedStage": "stage",
}
READ_ONLY = ("createdAt", "updatedAt", "id", "sequences")
# In a ruleset file `id` pins the live ruleset and `sequences` lists the sequences that use
# it (SPEC §10), so only these are refused there.
FILE_READ_ONLY = ("createdAt", "updatedAt")
MANAGEABLE = (*ATTRIBUTES, *RELATIONSHIPS)

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> Any:
    """``"3d"`` -> 259200. Integers pass through; anything else is left for the type check."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(
                f"not a duration: {reprlib.repr(value)} (use whole seconds or a number with"
                " s, m, h, d or w, e.g. 90s, 15m, 2h, 3d, 1w)"
            )
        return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    return value


def format_duration(seconds: int) -> str:
    """259200 -> ``"3d"``: the largest unit that divides exactly."""
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_SECONDS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# Outreach stores these as 32-bit integers; a larger value would only fail at apply time.
INT_MAX = 2_147_483_647
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
