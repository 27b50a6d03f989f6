"""Values Outreach holds that a file could not set, kept in files as ``{held: VALUE}``.

A live ruleset may carry a value the API would refuse on write (longer than the documented
limit, outside the documented list): older data, or rules Outreach changed since. Export
writes it as ``FIELD: {held: VALUE}`` so the file still equals live; planning keeps it as it
is while live agrees; it can never be sent, so a held value that differs from live is a
problem for that ruleset, and ``validate`` says why Outreach would refuse it.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import ValidationError

from rulesync.fields import ATTRIBUTES
from rulesync.model import validate_fields
from rulesync.yamlio import describe_error

KEY = "held"


def is_held(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and KEY in value


def refusal(field: str, value: Any) -> str | None:
    """Why Outreach would refuse ``value`` for the attribute ``field`` on write; None if valid."""
    try:
        validate_fields({field: value})
    except ValidationError as err:
        return describe_error(err.errors()[0])
    return None


def split(doc: dict[Any, Any]) -> tuple[dict[Any, Any], dict[str, Any]]:
    """The document without its held attributes, and those held values by field."""
    held = {
        key: value[KEY]
        for key, value in doc.items()
        if isinstance(key, str) and key in ATTRIBUTES and is_held(value)
    }
    rest = {key: value for key, value in doc.items() if key not in held}
    return rest, held


def shape_problem(value: Any) -> str | None:
    """A held value must be a plain scalar, as the API returned it."""
    if isinstance(value, (dict, list)):
        return "a held value must be a plain value (text, number, true/false)"
    return None
