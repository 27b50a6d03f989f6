"""A fast reader for the plain shape most ruleset files have, with PyYAML's exact meaning.

Ruleset files are almost always one flat mapping of ``key: value`` lines. For such a file this
returns the same documents PyYAML's safe loader returns, about ten times faster; for anything
else (indentation, lists, anchors, tags, several documents, non-ASCII text, odd quoting, a
duplicate key...) it returns None and the caller parses the file with PyYAML, which then also
reports any problem with its position. Whether a plain value is a string, a boolean, null or an
integer is decided by PyYAML's own resolver, so ``yes``, ``off``, ``~``, ``0x1F`` or
``2024-01-01`` mean here exactly what they mean there (or send the file to PyYAML).
``tests/test_fastyaml.py`` checks the equivalence on generated and hostile inputs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import yaml

# key: value   # optional comment       (the value is checked on its own below)
_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):(?: +(.*?))?[ ]*")
_COMMENT = re.compile(r" +#.*")
# a plain scalar may not start with an indicator (`@` and `-` among them) nor end in a space
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9@._+\- ]*[A-Za-z0-9@._+\-]|[A-Za-z0-9_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # PyYAML refuses these anywhere
_SINGLE = re.compile(r"'([ -&(-~]*)'")  # printable ASCII without a quote
_DOUBLE = re.compile(r'"([ !#-\[\]-~]*)"')  # printable ASCII without a quote or backslash
_BLOCK_ID = re.compile(r" +id: +(0|[1-9][0-9]*)(?: +#.*)? *")
_ID_REF = re.compile(r"\{ *id *: +(0|[1-9][0-9]*) *\}")
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_RESOLVE: Callable[..., str] = yaml.resolver.Resolver().resolve
_MISS = object()
_BOOLS = {"yes": True, "true": True, "on": True, "no": False, "false": False, "off": False}


@lru_cache(maxsize=4096)
def _plain(text: str) -> Any:
    """A plain scalar as PyYAML's safe loader reads it; ``_MISS`` when not sure."""
    tag = _RESOLVE(yaml.ScalarNode, text, (True, False))
    if tag == "tag:yaml.org,2002:str":
        return text
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:bool":
        return _BOOLS[text.lower()]
    if tag == "tag:yaml.org,2002:int" and _DECIMAL.fullmatch(text):
        return int(text)
    return _MISS  # floats, timestamps, other integer spellings: PyYAML decides


def _value(raw: str) -> Any:
    if raw[0] in "'\"":
        quoted = (_SINGLE if raw[0] == "'" else _DOUBLE).match(raw)
        if quoted is None:
            return _MISS
        rest = raw[quoted.end() :]
        if rest and not _COMMENT.fullmatch(rest):
            return _MISS
        return quoted.group(1)
    if raw[0] == "{":
        ref = _ID_REF.fullmatch(raw)
        return {"id": int(ref.group(1))} if ref else _MISS
    comment = raw.find(" #")
    if comment != -1:
        raw = raw[:comment].rstrip(" ")
    if not _PLAIN.fullmatch(raw):
        return _MISS
    return _plain(raw)


def simple_documents(text: str) -> list[tuple[int, dict[str, Any]]] | None:
    """``[(line, mapping)]`` for a file holding one flat mapping, as PyYAML would read it; an
    empty list for a file of only blank and comment lines; None for anything else."""
    if not text.isascii() or "\r" in text or "\t" in text or _CONTROL.search(text):
        return None
    lines = text.split("\n")
    doc: dict[str, Any] = {}
    first = 0
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        number = index
        if not line or line.lstrip(" ").startswith("#") or line.isspace():
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            return None
        key, raw = match.group(1), match.group(2)
        if key in doc or _plain(key) != key:
            return None  # a duplicate (PyYAML's path reports it), or a key like `yes` or `null`
        if raw:
            value = _value(raw)
        else:  # `key:` then `  id: N` alone below it: a relationship by id, block style
            value, index = _block_id(lines, index)
        if value is _MISS:
            return None
        doc[key] = value
        first = first or number
    return [(first, doc)] if doc else []


def _block_id(lines: list[str], index: int) -> tuple[Any, int]:
    ref = _BLOCK_ID.fullmatch(lines[index]) if index < len(lines) else None
    if ref is None:
        return _MISS, index
    for line in lines[index + 1 :]:
        if line and not line.isspace() and not line.lstrip(" ").startswith("#"):
            if line[0] == " ":
                return _MISS, index  # the nested mapping goes on: PyYAML reads it
            break
    return {"id": int(ref.group(1))}, index + 1
