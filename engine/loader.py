"""Ruleset files -> desired rulesets: config layers merged, every problem located."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic_core import ValidationError

from rulesync import held
from rulesync.config import Config, Environment
from rulesync.desired import Desired, matches
from rulesync.errors import InvalidFiles, Problem
from rulesync.fastyaml import read_flat
from rulesync.fields import FILE_READ_ONLY, MANAGEABLE, READ_ONLY
from rulesync.model import validate_fields, validate_file
from rulesync.yamlio import (
    DuplicateKey,
    LocatedDict,
    Position,
    fast_documents,
    load_documents,
    position_of,
    read_text,
    validation_problems,
)

FILE_FIELDS = ("name", "previousNames", "id", "sequences", *MANAGEABLE)


@dataclass(frozen=True, slots=True)
class _Declared:
    """What a validated document declares (kept small: memory at 50,000 files)."""

    name: str
    previousNames: list[str]  # spelled as in the file
    id: int | None
    own: dict[str, Any]  # the managed fields it sets, ``{id: N}`` as a dict
    sequences: tuple[str | dict[str, int], ...] | None  # None: not managed; null is managed


def _declared(doc: Any) -> _Declared:
    """Validate one ruleset document (raises ValidationError) and keep what it declares."""
    own = validate_file(doc)
    name = own.pop("name")
    previous = own.pop("previousNames", [])
    pin = own.pop("id", None)
    sequences = tuple(own.pop("sequences") or ()) if "sequences" in own else None
    return _Declared(name, previous, pin, own, sequences)


@dataclass(frozen=True)
class _Parsed:
    model: _Declared
    path: str
    line: int
    positions: Mapping[str, Position] = field(default_factory=dict)
    held: tuple[tuple[str, Any, Problem], ...] = ()  # (field, value, why it is refused)


RULESET_SUFFIXES = (".yaml", ".yml")


def ruleset_files(directory: Path, problems: list[Problem] | None = None) -> list[Path]:
    """Every ``*.yaml``/``*.yml`` (any letter case) under ``directory``, in sorted order,
    following symlinked folders (each real folder once, so a link loop ends). A folder that
    cannot be listed is a problem: a file skipped silently would be pruned."""
    return [Path(p) for p in _ruleset_paths(str(directory), problems)]


def _ruleset_paths(directory: str, problems: list[Problem] | None) -> list[str]:
    """``ruleset_files`` as strings: no Path object, and no stat for a plain file or folder
    (the directory entry's type says which; links and odd entries are looked at closely)."""
    found: list[str] = []
    seen: set[tuple[int, int]] = set()
    pending = [directory]
    while pending:
        folder = pending.pop()
        try:
            info = os.stat(folder)
            if (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as err:
            if problems is not None:
                problems.append(Problem(folder, 0, 0, "", f"cannot read: {err.strerror}"))
            continue
        for entry in entries:
            kind = _entry_kind(entry)
            if kind == "folder":
                pending.append(entry.path)
            elif kind == "file" and _suffix(entry.name) in RULESET_SUFFIXES:
                found.append(entry.path)  # an unreadable file is reported when it is read
            elif kind != "file" and problems is not None:
                problems.append(Problem(entry.path, 0, 0, "", kind))
    # the order Path objects sort in (part by part), so "first declared at" stays the same
    return sorted(found, key=lambda p: p.split(os.sep))


def _entry_kind(entry: os.DirEntry[str]) -> str:
    try:
        if not entry.is_symlink():
            if entry.is_file():
                return "file"
            if entry.is_dir():
                return "folder"
    except OSError:
        pass
    return _kind_of(Path(entry.path))


def _suffix(name: str) -> str:
    """``Path(name).suffix.lower()``, without the Path."""
    dot = name.rfind(".")
    return name[dot:].lower() if 0 < dot < len(name) - 1 else ""


def _kind_of(path: Path) -> str:
    """ "folder", "file", or why the entry cannot be read as either."""
    try:
        info = path.stat()  # follows symlinks
    except OSError as err:
        return f"cannot read ({err.strerror}); fix or remove it"
    if stat.S_ISDIR(info.st_mode):
        return "folder"
    if stat.S_ISREG(info.st_mode):
        return "file"
    if path.suffix.lower() in RULESET_SUFFIXES:
        return "not a regular file; a ruleset file must be a plain file"
    return "file"  # a socket or device without a ruleset suffix: not ours to read


@dataclass(frozen=True)
class ProjectFiles:
    """Every ruleset file read and checked once, and the config layers of every environment:
    what ``load_desired`` needs for any environment."""

    parsed: list[_Parsed]
    layers: dict[tuple[str, ...], dict[str, Any]]
    names: set[str]
    problems: list[Problem]


def read_project(config: Config) -> ProjectFiles:
    """Read and check every ruleset file and every environment's defaults and overrides."""
    problems: list[Problem] = []
    layers = _config_layers(config, problems)
    parsed = _read_files(config, problems)
    names = _check_names(parsed, config, problems)
    return ProjectFiles(parsed, layers, names, problems)


def load_desired(
    config: Config, env: Environment, files: ProjectFiles | None = None
) -> list[Desired]:
    """The desired rulesets of ``env``: the files (read now, or ``files`` read once for several
    environments) with its config layers merged; raise InvalidFiles with all problems."""
    files = read_project(config) if files is None else files
    parsed, layers, names = files.parsed, files.layers, files.names
    problems = list(files.problems)
    for name in sorted(env.overrides):
        if name not in names:
            (line, col), _ = position_of(config.document, ("environments", env.name, "overrides"))
            problems.append(
                Problem(
                    config.path,
                    line,
                    col,
                    f"overrides.{name}",
                    f"no ruleset file declares {name!r}; fix the name or remove it",
                )
            )
    if problems:
        raise InvalidFiles(sorted(problems, key=lambda p: (p.path, p.line, p.col)))
    base = {**layers.get(("defaults",), {}), **layers.get(("env", env.name, "defaults"), {})}
    base_at = {
        **_config_positions(config, ("defaults",), layers.get(("defaults",), {})),
        **_config_positions(
            config,
            ("environments", env.name, "defaults"),
            layers.get(("env", env.name, "defaults"), {}),
        ),
    }
    desired = []
    for item in parsed:
        own = item.model.own
        override = layers.get(("env", env.name, "overrides", item.model.name), {})
        override_at = _config_positions(
            config, ("environments", env.name, "overrides", item.model.name), override
        )
        config_at = {k: v for k, v in base_at.items() if k not in item.positions} if base_at else {}
        kept = {f: (v, why) for f, v, why in item.held if f not in override}
        desired.append(
            Desired(
                name=item.model.name,
                previous_names=tuple(item.model.previousNames),
                fields={**base, **own, **{f: v for f, (v, _) in kept.items()}, **override},
                source=f"{item.path}:{item.line}",
                pinned_id=item.model.id,
                sequences=item.model.sequences,
                positions={**config_at, **override_at},
                file_positions=item.positions,
                held={f: why for f, (_, why) in kept.items()},
            )
        )
    return desired


def _config_positions(
    config: Config, prefix: tuple[str, ...], values: Mapping[str, Any]
) -> dict[str, tuple[str, int, int]]:
    """Where in rulesync.yaml each field of a defaults/overrides layer is set."""
    out = {}
    for name in values:
        (line, col), _ = position_of(config.document, (*prefix, name))
        out[name] = (config.path, line, col)
    return out


def _config_layers(
    config: Config, problems: list[Problem]
) -> dict[tuple[str, ...], dict[str, Any]]:
    """Validate defaults and overrides of every environment (so `validate` checks them all)."""
    raw: dict[tuple[str, ...], tuple[tuple[Any, ...], dict[str, Any]]] = {
        ("defaults",): (("defaults",), config.defaults)
    }
    for env in config.environments.values():
        raw[("env", env.name, "defaults")] = (("environments", env.name, "defaults"), env.defaults)
        for name, values in env.overrides.items():
            raw[("env", env.name, "overrides", name)] = (
                ("environments", env.name, "overrides", name),
                values,
            )
    layers: dict[tuple[str, ...], dict[str, Any]] = {}
    for key, (prefix, values) in raw.items():
        if not values:
            layers[key] = {}  # nothing set: nothing to check
            continue
        try:
            layers[key] = validate_fields(values)
        except ValidationError as err:
            problems.extend(
                Problem(p.path, p.line, p.col, f"{'.'.join(map(str, prefix))}.{p.field}", p.message)
                for p in validation_problems(
                    err,
                    doc=config.document,
                    path=config.path,
                    known_fields=MANAGEABLE,
                    read_only=READ_ONLY,
                    prefix=prefix,
                )
            )
    return layers


def _read_files(config: Config, problems: list[Problem]) -> list[_Parsed]:
    directory = config.rulesets_dir
    shown_dir = _shown(directory, config.root)
    if not directory.is_dir():
        problems.append(
            Problem(
                shown_dir,
                0,
                0,
                "",
                "rulesets directory not found; create it or set rulesets_dir in rulesync.yaml",
            )
        )
        return []
    listing: list[Problem] = []
    root = _prefix(config.root)
    files = _ruleset_paths(str(directory), listing)
    problems.extend(Problem(_relative(p.path, root), 0, 0, "", p.message) for p in listing)
    if not files:
        problems.append(
            Problem(
                shown_dir,
                0,
                0,
                "",
                "no ruleset files (*.yaml, *.yml) found; "
                "add one, or run `rulesync export` to start from the live org",
            )
        )
    parsed: list[_Parsed] = []
    for path in files:
        shown = _relative(path, root)
        text, file_problems = read_text(path, shown)
        if text is None:
            problems.extend(file_problems)
            continue
        fast = _parse_fast(text, shown)
        parsed.extend(fast if fast is not None else _parse_located(text, shown, problems))
    return parsed


def _parse_fast(text: str, shown: str) -> list[_Parsed] | None:
    """The common case, a file without problems; None when the file has any problem (it is
    then read again, with positions, to report them). Positions of the values are kept for
    problems found later, at plan time."""
    try:
        flat = read_flat(text)
        if flat is not None:  # one flat mapping: no held value can be in it (no nesting)
            line, doc, positions = flat
            if not doc:
                return []
            return [_Parsed(_declared(doc), shown, line, positions)]
        parsed = []
        for line, doc in fast_documents(text):
            if doc is None:
                continue
            if not isinstance(doc, dict) or held.split(doc)[1]:
                return None
            parsed.append(_Parsed(_declared(doc), shown, line, _value_positions(doc)))
        return parsed
    except (
        yaml.YAMLError,
        DuplicateKey,
        ValidationError,
        RecursionError,
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        OverflowError,
    ):
        return None  # a constructor choked on an explicit tag: the located reading says where


def _parse_located(text: str, shown: str, problems: list[Problem]) -> list[_Parsed]:
    docs, file_problems = load_documents(text, shown)
    problems.extend(file_problems)
    parsed: list[_Parsed] = []
    for line, doc in docs:
        if doc is None:
            continue  # an empty document, e.g. a trailing `---`
        if not isinstance(doc, LocatedDict):
            problems.append(
                Problem(
                    shown,
                    line,
                    1,
                    "",
                    f"each YAML document must be a mapping of ruleset fields, got {_kind(doc)}",
                )
            )
            continue
        rest, held_values = held.split(doc)
        kept = _held(doc, held_values, shown=shown, plain=rest, problems=problems)
        try:
            declared = _declared(rest)
        except ValidationError as err:
            problems.extend(
                validation_problems(
                    err, doc=doc, path=shown, known_fields=FILE_FIELDS, read_only=FILE_READ_ONLY
                )
            )
            continue
        parsed.append(_Parsed(declared, shown, line, _value_positions(doc), kept))
    return parsed


def _value_positions(doc: Any) -> Mapping[str, Position]:
    positions = getattr(doc, "value_positions", None)
    return positions if isinstance(positions, dict) else {}


def _held(
    doc: LocatedDict,
    values: dict[str, Any],
    *,
    shown: str,
    plain: dict[Any, Any],
    problems: list[Problem],
) -> tuple[tuple[str, Any, Problem], ...]:
    """Held values with the located reason Outreach would refuse each (see held.py); a held
    value the API would accept moves to ``plain``."""
    kept = []
    for name, value in values.items():
        line, col = doc[name].value_positions[held.KEY]
        wrong = held.shape_problem(value)
        if wrong:
            problems.append(Problem(shown, line, col, f"{name}.{held.KEY}", wrong))
            continue
        why = held.refusal(name, value)
        if why is None:  # a value the API accepts needs no holding: it is managed as usual
            plain[name] = value
            continue
        note = (
            f"held as Outreach has it; it would be refused on write ({why}), so it is never"
            " sent: replace it with a valid value to manage this field"
        )
        kept.append((name, value, Problem(shown, line, col, name, note)))
    return tuple(kept)


def _check_names(parsed: list[_Parsed], config: Config, problems: list[Problem]) -> set[str]:
    seen: dict[str, _Parsed] = {}
    pins: dict[int, _Parsed] = {}
    for item in parsed:
        name = item.model.name
        pin = item.model.id
        if pin is not None and pin in pins:
            first = pins[pin]
            problems.append(
                _at(
                    item,
                    "id",
                    f"id {pin} is also pinned at {first.path}:{first.line};"
                    " one file per live ruleset",
                )
            )
        elif pin is not None:
            pins[pin] = item
        # Several files may share a name only when each pins its own live ruleset (live
        # names repeat in real orgs, and export writes them that way).
        if name in seen and (pin is None or seen[name].model.id is None):
            first = seen[name]
            problems.append(
                _at(
                    item,
                    "name",
                    f"{name!r} is also declared at {first.path}:{first.line};"
                    " ruleset names must be unique",
                )
            )
        else:
            seen[name] = item
        if not matches(name, config.policy.manage):
            problems.append(
                _at(
                    item,
                    "name",
                    f"{name!r} is outside `manage` {list(config.policy.manage)} in "
                    f"{config.path}; widen manage or rename the ruleset",
                )
            )
    for item in parsed:
        for old in item.model.previousNames:
            if old in seen and old != item.model.name:
                other = seen[old]
                problems.append(
                    _at(
                        item,
                        "previousNames",
                        f"{old!r} is the name of the ruleset at {other.path}:"
                        f"{other.line}; a previous name must not be in use",
                    )
                )
    return set(seen)


def _at(item: _Parsed, field: str, message: str) -> Problem:
    """A problem at the value of ``field`` in the file (the document's start if unknown)."""
    line, col = item.positions.get(field, (item.line, 1))
    return Problem(item.path, line, col, field, message)


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _prefix(root: Path) -> str:
    text = str(root)
    return text if text.endswith(os.sep) else text + os.sep


def _relative(path: str, prefix: str) -> str:
    """``_shown`` for a path string under the root ``prefix`` (ending in a separator)."""
    return path[len(prefix) :] if path.startswith(prefix) and path != prefix else path


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return "a plain value"
