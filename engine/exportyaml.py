"""Ruleset documents as a person would write them, and in-place updates that keep comments.

Round-trip YAML (ruamel.yaml) so that an update rewrites only the values that changed: the
user's comments, key order and spelling (``2w`` stays ``2w``) survive. Strings are quoted
whenever a YAML 1.1 reader (the loader) or a 1.2 reader would take them for something else.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import CommentMark
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import DoubleQuotedScalarString
from ruamel.yaml.tokens import CommentToken

from rulesync.held import KEY as HELD_KEY

# The order of SPEC §2 and the README: the order a person reads a ruleset in.
FIELD_ORDER: tuple[str, ...] = (
    "name",
    "id",
    "previousNames",
    "permitDuplicateProspects",
    "sequenceExclusivity",
    "includeUnsubscribeLinks",
    "autoResumeOotoProspects",
    "autoResumeOotoProspectsIn",
    "autoResumeOotoProspectsExpiresIn",
    "applyCompletedStageIn",
    "minimumProspectTouchedInterval",
    "clicksNeededBeforeCallTaskCreated",
    "opensNeededBeforeCallTaskCreated",
    "ootoAutoExtractionEnabled",
    "stepOverridesEnabled",
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


# The comments export writes itself (see export.py), recognised to be replaced.
_OURS = re.compile(r"#\s*(stage|task priority|user|Outreach holds) ")


@dataclass(frozen=True)
class Value:
    """A field as the file writes it, with an optional end-of-line comment."""

    yaml: Any  # str, int, bool, None, or {"id": N} / {"held": V}
    comment: str = ""


def _null(representer: RoundTripRepresenter, _: None) -> Any:
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


@functools.lru_cache(maxsize=1)
def round_trip() -> YAML:
    """One configured instance (building one costs more than a small dump)."""
    rt = YAML(typ="rt")
    rt.preserve_quotes = True
    rt.width = 1_000_000  # long names and values stay on one line
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.representer.add_representer(type(None), _null)
    return rt


def scalar(value: Any) -> Any:
    """A value ready to dump: strings that any YAML reader could misread are double-quoted."""
    if isinstance(value, str) and not _plain_safe(value):
        return DoubleQuotedScalarString(value)
    if isinstance(value, Mapping):
        flow = CommentedMap((k, scalar(v)) for k, v in value.items())
        flow.fa.set_flow_style()
        return flow
    return value


_YAML12 = YAML(typ="safe", pure=True)


# Words and punctuation no YAML reader takes for anything but text (checked fully otherwise).
_PLAIN = re.compile(r"[^\W\d_][\w .@()/&'+-]*")
_WORDS = {"yes", "no", "on", "off", "true", "false", "null", "y", "n"}


@functools.lru_cache(maxsize=4096)
def _plain_safe(text: str) -> bool:
    """True when both YAML 1.1 (the loader) and 1.2 readers take ``text`` unquoted as itself."""
    if not text or not text.isprintable() or text != text.strip():
        return False
    if _PLAIN.fullmatch(text) and text.lower() not in _WORDS and not text.endswith(" "):
        return True
    try:
        return bool(yaml.safe_load(text) == text and _YAML12.load(text) == text)
    except Exception:  # whatever a reader chokes on is not safe unquoted
        return False


def plain(value: Any) -> Any:
    """A round-trip value as plain Python (ruamel keeps quoting and formats in subclasses)."""
    if isinstance(value, bool) or value is None:
        return value if value is None else bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def comment_text(text: str) -> str:
    """A comment that stays one comment, whatever the label inside it holds."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def label(text: str) -> str:
    """A name quoted for a comment: ``"Replied"``."""
    return comment_text(json.dumps(text, ensure_ascii=False))


def new_document(fields: Mapping[str, Value]) -> CommentedMap:
    doc = CommentedMap()
    for field in sorted(fields, key=_rank):
        put(doc, field, fields[field])
    return doc


def put(doc: CommentedMap, field: str, value: Value) -> None:
    """Set ``field`` (a new key goes to its documented place), with its comment."""
    moved = ""
    if field not in doc:
        position = _position(doc, field)
        moved = _take_comment_lines(doc, list(doc)[position - 1]) if position else ""
        doc.insert(position, field, scalar(value.yaml))
    else:
        doc[field] = scalar(value.yaml)
        _drop_comment(doc, field, ours_only=not value.comment)
    if value.comment:
        # two spaces before the `#`, as linters expect (ruamel would align it with others)
        line = dump([CommentedMap([(field, scalar(value.yaml))])]).splitlines()[0]
        doc.yaml_add_eol_comment(comment_text(value.comment), field, column=len(line) + 2)
    if moved:
        _give_comment_lines(doc, field, moved)


def _take_comment_lines(doc: CommentedMap, key: Any) -> str:
    """The whole-line comments below ``key``'s value (ruamel files them under that key):
    they introduce what follows, so a key inserted after ``key`` goes above them."""
    slot = doc.ca.items.get(key)
    token = slot[2] if slot and len(slot) > 2 else None
    if token is None:
        return ""
    text: str = token.value
    head, _, tail = text.partition("\n")
    if not tail.strip():
        return ""
    if head.strip():
        token.value = head + "\n"
    else:
        slot[2] = None
    return tail


def _give_comment_lines(doc: CommentedMap, key: Any, lines: str) -> None:
    slot = doc.ca.items.setdefault(key, [None, None, None, None])
    if slot[2] is None:
        slot[2] = CommentToken("\n" + lines, CommentMark(0), None)
    else:
        slot[2].value = slot[2].value.rstrip("\n") + "\n" + lines


def _drop_comment(doc: CommentedMap, field: str, *, ours_only: bool) -> None:
    """The end-of-line comment export wrote for the old value (a person's stays, unless a
    new comment of ours replaces it). A comment running on over lines below is kept."""
    slot = doc.ca.items.get(field)
    token = slot[2] if slot and len(slot) > 2 else None
    if token is None or "\n" in token.value.rstrip("\n"):
        return
    if not ours_only or _OURS.match(token.value.strip()):
        slot[2] = None


def _rank(field: str) -> int:
    return FIELD_ORDER.index(field) if field in FIELD_ORDER else len(FIELD_ORDER)


def _position(doc: CommentedMap, field: str) -> int:
    """After the last key that comes before ``field`` in the documented order."""
    keys = list(doc)
    position = 0
    for index, key in enumerate(keys):
        if isinstance(key, str) and _rank(key) < _rank(field):
            position = index + 1
    return position


def dump(docs: list[Any], header: str = "") -> str:
    out = io.StringIO()
    round_trip().dump_all(docs, out)
    return header + out.getvalue()


def load(text: str) -> list[Any]:
    return list(round_trip().load_all(text))


def held_value(value: Any) -> dict[str, Any]:
    return {HELD_KEY: value}
