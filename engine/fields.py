"""The ruleset's fields, from Outreach's OpenAPI document and Ruleset page: plain data.

What each field is (attribute or relationship, its type and limits) is written once here; the
validators of files (`model.py`), the planner, the renderers and export all read it.
"""

from __future__ import annotations

import re
import reprlib
from typing import Any

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
