"""A fast reader for the plain shape most ruleset files have, with PyYAML's exact meaning.

Ruleset files are almost always one flat mapping of ``key: value`` lines. For such a file this
returns the same documents PyYAML's safe loader returns, about ten times faster; for anything
else (indentation, lists, anchors, tags, several documents, non-ASCII text, odd quoting, a
duplicate key...) it returns None and the caller parses the file with PyYAML, which then also
reports any problem with its position. Whether a plain value is a string, a boolean, null or an
integer is decided by PyYAML's own resolver, so ``yes``, ``off``, ``~``, ``0x1F`` or
``2024-01-01`` mean here exactly what they mean there (or send the file to PyYAML).
``tests/unit/test_fastyaml.py`` checks the equivalence on generated and hostile inputs.
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


Position = tuple[int, int]  # (line, column), 1-based, as PyYAML's marks give them


def simple_documents(text: str) -> list[tuple[int, dict[str, Any]]] | None:
    """``[(line, mapping)]`` for a file holding one flat mapping, as PyYAML would read it; an
    empty list for a file of only blank and comment lines; None for anything else."""
    read = read_flat(text)
    if read is None:
        return None
    return [(read[0], read[1])] if read[1] else []


def read_flat(text: str) -> tuple[int, dict[str, Any], dict[str, Position]] | None:
    """``(line, mapping, positions)`` for a file holding one flat mapping: the mapping as PyYAML
    would read it, the line its first key is on, and where each value starts (the same marks
    PyYAML gives: for ``key:`` then ``  id: N``, where ``id`` starts). An empty mapping for a
    file of only blank and comment lines; None for anything else."""
    if not text.isascii() or "\r" in text or "\t" in text or _CONTROL.search(text):
        return None
    lines = text.split("\n")
    entries: list[Any] = list(map(_LINES.get, lines))  # most lines were read in other files
    if None in entries:
        if len(_LINES) > _LINES_KEPT:
            _LINES.clear()  # bounded: the lines worth keeping come back at once
        for index, entry in enumerate(entries):
            if entry is None:
                entries[index] = _LINES[lines[index]] = _line(lines[index])
    if _MISS in entries:
        return None
    doc: dict[str, Any] = {}
    positions: dict[str, Position] = {}
    first = 0
    block = None  # a `key:` whose `  id: N` must be the very next line
    for number, entry in enumerate(entries, 1):
        if entry is _SKIP:
            if block is not None:
                return None
            continue
        if len(entry) == 2:  # an indented `id: N` line
            if block is None:
                return None  # indented under a key that has a value: PyYAML reads it
            doc[block] = {"id": entry[0]}
            positions[block] = _position(number, entry[1])
            block = None
            continue
        key, value, col = entry
        if block is not None or key in doc:
            return None  # `key:` with more than an id below it, or a duplicate key
        first = first or number
        if value is _BLOCK:
            block = key
            doc[key] = None  # its place in the order; the id line gives the value
            continue
        doc[key] = dict(value) if type(value) is dict else value  # a document owns its values
        positions[key] = _position(number, col)
    if block is not None:
        return None
    return first, doc, positions


# (line, column) pairs, one object each: files share them (memory at 50,000 files)
_POSITIONS: dict[int, dict[int, Position]] = {}


def _position(line: int, col: int) -> Position:
    row = _POSITIONS.get(line)
    if row is None:
        row = _POSITIONS[line] = {}
    found = row.get(col)
    if found is None:
        found = row[col] = (line, col)
    return found


_BLOCK = object()  # `key:` with nothing after it on its line
_SKIP = object()  # a blank or comment line
# line -> (key, value, column of the value), (id, column) for an indented `id: N` line,
# _SKIP or _MISS: most lines of ruleset files repeat from file to file
_LINES: dict[str, Any] = {}
_LINES_KEPT = 20_000


def _line(line: str) -> Any:
    """What one line of a flat file holds; ``_MISS`` when it is anything else or the reading
    is not sure (then PyYAML reads the file)."""
    if not line or line.isspace() or line.lstrip(" ").startswith("#"):
        return _SKIP
    if line[0] == " ":
        ref = _BLOCK_ID.fullmatch(line)
        return (int(ref.group(1)), len(line) - len(line.lstrip(" ")) + 1) if ref else _MISS
    match = _LINE.fullmatch(line)
    if match is None:
        return _MISS
    key, raw = match.group(1), match.group(2)
    if _plain(key) != key:
        return _MISS  # a key like `yes` or `null`
    if not raw:
        return key, _BLOCK, 0
    value = _value(raw)
    if value is _MISS:
        return _MISS
    return key, value, match.start(2) + 1
