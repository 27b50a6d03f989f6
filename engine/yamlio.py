"""YAML reading that remembers where every value came from, for ``PATH:LINE:COL`` errors."""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic_core import ValidationError

from rulesync.errors import Problem
from rulesync.suggest import suggest

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Position = tuple[int, int]


class LocatedDict(dict[Any, Any]):
    """A mapping that knows the position of itself, of each key and of each value."""

    position: Position = (0, 0)
    key_positions: dict[Any, Position]
    value_positions: dict[Any, Position]


class LocatedList(list[Any]):
    position: Position = (0, 0)
    item_positions: list[Position]


def _pos(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class DuplicateKey(Exception):
    def __init__(self, key: Any, first: Position, again: Position) -> None:
        self.key, self.first, self.again = key, first, again
        super().__init__(f"duplicate key {key!r}")


_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxlevel = 60, 60, 5, 5, 3


def short(value: Any) -> str:
    """A repr for messages: bounded, however large or deep the value (aliases can nest)."""
    return _SHORT.repr(value)


def printable(text: str) -> str:
    """A key as a message may show it: control characters escaped, one line always."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


class _Guarded(_BaseLoader):  # type: ignore[misc]
    """A safe loader (libyaml when present) whose value errors carry the node's position:
    ``!!int x`` must be a located problem, not a traceback."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {short(node.value)} as {node.tag}", node.start_mark
            ) from None


class _Fast(_Guarded):
    """The fast path for files without problems: duplicate keys refused, mappings carry the
    positions of their keys and values (for problems found later, at plan time). On any error
    the caller reads the file again with ``load_documents`` (guarded constructors)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        pairs = [
            (self.construct_object(k, deep=True), self.construct_object(v, deep=True))
            for k, v in node.value
        ]
        try:
            result = LocatedDict(pairs)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", node.start_mark
            ) from None
        if len(result) != len(pairs):
            raise DuplicateKey("?", (0, 0), (0, 0))
        # where each value is, so a problem found later (at plan time) points at the field
        result.position = _pos(node)
        result.key_positions = {
            key: _pos(k) for (key, _), (k, _) in zip(pairs, node.value, strict=True)
        }
        result.value_positions = {
            key: _pos(v) for (key, _), (_, v) in zip(pairs, node.value, strict=True)
        }
        return result


# Aliases may add at most this many values to a file (beyond those written out): enough for
# any sharing of defaults, far too few for an "alias bomb" (a billion laughs, merge keys).
ALIAS_EXPANSION_CAP = 100_000


class AliasBomb(yaml.MarkedYAMLError):
    """A document whose aliases expand too far (or refer to themselves)."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_expansion(root: yaml.Node, allowance: int = ALIAS_EXPANSION_CAP) -> int:
    """Refuse a composed document whose aliases add more than ``allowance`` values, before
    anything walks it; returns the values they add. Linear in the nodes written."""
    sizes: dict[int, int] = {}
    order: list[yaml.Node] = []
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(node))
            order.append(node)
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise AliasBomb(None, None, "an alias refers to a value that contains it", _mark(node))
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    added = sizes[id(root)] - len(sizes)
    if added > allowance:
        culprit = next((n for n in order if sizes[id(n)] > allowance), root)
        raise AliasBomb(
            None,
            None,
            f"aliases in this file expand to more than {ALIAS_EXPANSION_CAP:,} values (an "
            "alias bomb?); write the values out instead of repeating aliases",
            _mark(culprit),
        )
    return added


def _mark(node: yaml.Node) -> Any:
    return node.start_mark


_Fast.add_constructor("tag:yaml.org,2002:map", _Fast.construct_mapping)


def fast_documents(text: str) -> list[tuple[int, Any]]:
    """(line, document) for every document; raises on any problem (then use load_documents)."""
    loader = _Fast(text)
    allowance = ALIAS_EXPANSION_CAP
    aliases = "*" in text  # without an alias indicator no value is shared: nothing to expand
    try:
        docs = []
        while loader.check_node():
            node = loader.get_node()
            if aliases:
                allowance -= check_expansion(node, allowance)
            docs.append((node.start_mark.line + 1, loader.construct_document(node)))
        return docs
    finally:
        loader.dispose()


class _Loader(_Guarded):
    """Records positions of every key and value, and refuses duplicate keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LocatedDict:
        self.flatten_mapping(node)
        result = LocatedDict()
        result.position = _pos(node)
        result.key_positions = {}
        result.value_positions = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                ) from None
            if key in result:
                raise DuplicateKey(key, result.key_positions[key], _pos(key_node))
            result[key] = self.construct_object(value_node, deep=True)
            result.key_positions[key] = _pos(key_node)
            result.value_positions[key] = _pos(value_node)
        return result

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LocatedList:
        result = LocatedList(self.construct_object(child, deep=True) for child in node.value)
        result.position = _pos(node)
        result.item_positions = [_pos(child) for child in node.value]
        return result


_Loader.add_constructor("tag:yaml.org,2002:map", _Loader.construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _Loader.construct_sequence)


def load_documents(text: str, path: str) -> tuple[list[tuple[int, Any]], list[Problem]]:
    """(line, document) for every document in ``text``, with positions; a syntax error, unsafe
    tag or duplicate key is a Problem.

    Documents before the first broken one are still returned, so their problems show too.
    """
    docs: list[tuple[int, Any]] = []
    loader = _Loader(text)
    allowance = ALIAS_EXPANSION_CAP
    aliases = "*" in text  # without an alias indicator no value is shared: nothing to expand
    start: Position = (0, 0)
    try:
        while loader.check_node():
            node = loader.get_node()
            start = _pos(node)
            if aliases:
                allowance -= check_expansion(node, allowance)
            docs.append((node.start_mark.line + 1, loader.construct_document(node)))
        return docs, []
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError):
        # a tagged collection (`!!set`, `!!omap`...) PyYAML cannot build from what it holds
        return docs, [
            Problem(
                path,
                start[0],
                start[1],
                "",
                "YAML error: this document cannot be read as plain YAML (remove tags such"
                " as !!set or !!omap)",
            )
        ]
    except DuplicateKey as err:
        line, col = err.again
        return docs, [
            Problem(
                path,
                line,
                col,
                printable(str(err.key)),
                f"duplicate key (first at line {err.first[0]}); keep only one",
            )
        ]
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        message = " ".join(part for part in (err.context, err.problem) if part)
        if "constructor" in message or "tag" in message:
            message += " (only plain YAML is allowed: no tags such as !!python/...)"
        return docs, [Problem(path, line, col, "", f"YAML error: {message}")]
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        col = err.position - text.rfind("\n", 0, err.position)
        return docs, [
            Problem(
                path,
                line,
                col,
                "",
                f"YAML error: character #x{err.character:04x} is not allowed in YAML; remove it",
            )
        ]
    except yaml.YAMLError as err:
        return docs, [Problem(path, 0, 0, "", "YAML error: " + " ".join(str(err).split()))]
    except RecursionError:
        return docs, [Problem(path, 0, 0, "", "YAML error: nested too deeply to be a ruleset")]
    finally:
        loader.dispose()


def read_text(path: Path | str, shown: str) -> tuple[str | None, list[Problem]]:
    """The file as UTF-8 text with universal newlines (as ``Path.read_text`` reads it)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, [Problem(shown, 0, 0, "", f"not UTF-8 text ({err.reason}); save it as UTF-8")]
    except OSError as err:
        return None, [Problem(shown, 0, 0, "", f"cannot read: {err.strerror}")]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, []


def position_of(doc: Any, loc: Sequence[Any]) -> tuple[Position, bool]:
    """Walk ``loc`` into ``doc``; return the deepest known position and whether it is a key."""
    position: Position = getattr(doc, "position", (0, 0))
    node = doc
    for part in loc:
        if isinstance(node, LocatedDict) and part in node:
            position = node.value_positions[part]
            node = node[part]
        elif isinstance(node, LocatedDict) and part in node.key_positions:
            return node.key_positions[part], True
        elif isinstance(node, LocatedList) and isinstance(part, int) and part < len(node):
            position = node.item_positions[part]
            node = node[part]
        else:
            break
    return position, False


def _message(error: Any) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "string_too_long":
        return f"at most {ctx['max_length']} characters, got {short(value)}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "less_than_equal":
        return f"must be {ctx['le']} or less, got {short(value)}"
    if kind == "greater_than_equal":
        return f"must be {ctx['ge']} or more, got {short(value)}"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}, got {short(value)}"
    if kind in ("int_type", "int_parsing"):
        return f"must be a whole number, got {short(value)}"
    if kind == "bool_type":
        return f"must be true or false, got {short(value)}"
    if kind == "string_type":
        return f"must be a string, got {short(value)}"
    if kind == "list_type":
        return f"must be a list, got {short(value)}"
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])


def describe_error(error: Any) -> str:
    """One pydantic error as a short message for a person."""
    return _message(error)


SUGGESTIONS_PER_DOCUMENT = 100


def validation_problems(
    err: ValidationError,
    *,
    doc: Any,
    path: str,
    known_fields: Sequence[str],
    read_only: Sequence[str] = (),
    prefix: Sequence[Any] = (),
) -> list[Problem]:
    """pydantic errors -> Problems at the YAML positions they point to, one per field."""
    problems: list[Problem] = []
    seen: set[tuple[Any, ...]] = set()
    suggestions = SUGGESTIONS_PER_DOCUMENT  # a file of thousands of unknown keys stays fast
    for error in err.errors():
        loc = tuple(error["loc"])
        field = str(loc[0]) if loc else ""
        # A union (e.g. a relationship: name or {id: N}) reports once per branch; keep one.
        key = loc[:1] if error["type"] != "extra_forbidden" else loc
        if key in seen:
            continue
        seen.add(key)
        (line, col), _ = position_of(doc, (*prefix, *loc))
        if error["type"] == "extra_forbidden":
            if field in read_only:
                message = "is read-only in Outreach and cannot be set; remove it"
            else:
                message = "unknown field" + (suggest(field, known_fields) if suggestions else "")
                suggestions = max(0, suggestions - 1)
            (line, col), _ = position_of(doc, (*prefix, field))
            if isinstance(doc, LocatedDict):
                target = _walk(doc, prefix)
                if isinstance(target, LocatedDict) and field in target.key_positions:
                    line, col = target.key_positions[field]
        elif len(loc) > 1 and loc[1] in ("constrained-str", "IdRef", "str"):
            message = _ref_message(error)
        else:
            message = _message(error)
        problems.append(
            Problem(
                path,
                line,
                col,
                ".".join(
                    printable(str(p)) for p in loc if p not in ("constrained-str", "IdRef", "str")
                ),
                message,
            )
        )
    return problems


def _walk(doc: Any, loc: Sequence[Any]) -> Any:
    for part in loc:
        if isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            return None
    return doc


def _ref_message(error: Any) -> str:
    value = error.get("input")
    if isinstance(value, dict):
        return (
            f"give a name, an email or {{id: N}} with a positive whole number, got {short(value)}"
        )
    if error["type"] == "string_too_long":
        return _message(error)
    return f"must be a name, an email, {{id: N}} or null, got {short(value)}"
