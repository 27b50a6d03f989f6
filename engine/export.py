"""Live rulesets -> YAML files, to adopt an existing org: planning right after shows no change.

Each live ruleset is written exactly once: into the file that already declares it (with
``overwrite``: updated in place, comments and spelling kept), or into a new file whose name
``filenames.assign`` picks. What each file needs is worked out against the project's defaults
and overrides, so that defaults + file == live. No I/O here: the caller lists the org, reads
the existing files (``read_files``) and writes what ``export`` returns.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from ruamel.yaml.error import YAMLError as RuamelError

from rulesync import exportyaml as ey
from rulesync import held
from rulesync.desired import matches
from rulesync.errors import ConfigError
from rulesync.exportyaml import Value
from rulesync.fields import (
    DURATION_FIELDS,
    MANAGEABLE,
    NAME_LIMIT,
    RELATIONSHIPS,
    format_duration,
    parse_duration,
)
from rulesync.filenames import assign, inside
from rulesync.live import relationship, resource_id, resource_name
from rulesync.loader import ruleset_files
from rulesync.model import validate_fields
from rulesync.references import KINDS, References, resolve
from rulesync.suggest import closest
from rulesync.yamlio import short

HEADER = (
    "# Exported from Outreach by `rulesync export`. Fields left out are not managed (or come\n"
    "# from defaults in rulesync.yaml); add one (null included) to manage it.\n"
)
_FastLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_UNRESOLVED = object()  # a file's reference that names nothing: never equal to live


@dataclass(frozen=True)
class Options:
    targets: tuple[str, ...] = ()
    missing_only: bool = False
    overwrite: bool = False


@dataclass(frozen=True)
class Project:
    """What the project says: the layers under every file, and where things go."""

    out_dir: Path
    schema: Path  # the JSON Schema file the modeline points editors at
    defaults: Mapping[str, Any] = field(default_factory=dict)  # global + environment, merged
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    environment: str = ""
    root: Path = Path()  # paths in messages are shown relative to it

    def shown(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


@dataclass
class SourceFile:
    """An existing ruleset file: read fast to see what it declares; read again for a round
    trip (comments kept) only when something in it changes."""

    path: Path
    text: str
    docs: list[Any]  # plain values, as the loader reads them
    changed: bool = False
    _round_trip: list[Any] | None = None

    def round_trip(self) -> list[Any]:
        if self._round_trip is None:
            try:
                self._round_trip = ey.load(self.text)
            except (RuamelError, RecursionError) as err:
                raise ConfigError(_unreadable(self.path, err)) from None
            if len(self._round_trip) != len(self.docs):
                raise ConfigError(_unreadable(self.path, "documents differ between readers"))
        return self._round_trip


@dataclass
class Result:
    writes: list[tuple[Path, str]] = field(default_factory=list)  # only files whose bytes change
    exported: int = 0  # live rulesets now in the output folder's files, each exactly once
    new_files: int = 0
    updated_files: int = 0
    unchanged: int = 0  # rulesets whose file already matched
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        if message not in self.warnings:  # a ruleset is looked at more than once
            self.warnings.append(message)


def merged_defaults(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Global then environment defaults, as the loader merges them (durations in seconds)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        try:
            merged.update(validate_fields(dict(layer)))
        except ValidationError:
            raise ConfigError(
                "the defaults in rulesync.yaml are invalid; run `rulesync validate` to see where"
            ) from None
    return merged


def read_files(folders: Sequence[Path]) -> list[SourceFile]:
    """Every ruleset file under ``folders`` (once each), read for a round trip."""
    seen: set[Path] = set()
    files = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in ruleset_files(folder):
            real = path.resolve()
            if real in seen:
                continue
            seen.add(real)
            try:
                text = path.read_text(encoding="utf-8")
                docs = list(yaml.load_all(text, Loader=_FastLoader))
            except (OSError, ValueError, yaml.YAMLError, RecursionError) as err:
                raise ConfigError(_unreadable(path, err)) from None
            files.append(SourceFile(path, text, docs))
    return files


def _unreadable(path: Path, err: object) -> str:
    reason = " ".join(str(err).split())[:200]
    return (
        f"{path}: cannot read it to see what it declares ({reason}); fix it"
        " (`rulesync validate` shows where) and export again"
    )


def export(
    live: Sequence[dict[str, Any]],
    *,
    refs: References,
    project: Project,
    files: list[SourceFile],
    options: Options,
) -> Result:
    """What to write so that the folder declares every chosen live ruleset exactly once."""
    result = Result()
    chosen = _chosen(live, options.targets, result)
    by_id = {resource_id(r) or 0: r for r in chosen}
    names = defaultdict(list)
    for rid, resource in by_id.items():
        names[resource_name(resource) or ""].append(rid)
    declared = _declared(files, by_id, names, options=options, project=project, result=result)
    collisions = [(src, index) for rid, (src, index, _) in declared.items() if rid in by_id and src]
    if collisions and not (options.overwrite or options.missing_only):
        raise ConfigError(_refusal(collisions, project))
    writer = _Writer(refs=refs, project=project, result=result)
    for rid, (src, index, pin) in sorted(declared.items()):
        if src is None:
            continue  # a pending rename, or a name to pin first: noted in `skipped`
        if options.missing_only:
            result.skipped.append(
                f"{_who(by_id[rid])}: already declared in {project.shown(src.path)}"
            )
            continue
        if not inside(src.path, project.out_dir):
            result.skipped.append(
                f"{_who(by_id[rid])}: declared in {project.shown(src.path)}, outside"
                f" {project.shown(project.out_dir)};"
                " not updated"
            )
            continue
        writer.update(src, index, by_id[rid], pin=pin)
        result.exported += 1
    undeclared = [(rid, resource_name(r) or "") for rid, r in by_id.items() if rid not in declared]
    paths = assign(undeclared, [f.path for f in files], project.out_dir)
    for rid, path in sorted(paths.items(), key=lambda item: str(item[1])):
        resource = by_id[rid]
        pin = len(names[resource_name(resource) or ""]) > 1
        result.writes.append((path, writer.new_file(path, resource, pin=pin)))
        result.new_files += 1
        result.exported += 1
    for src in files:
        if src.changed:
            text = ey.dump(src.round_trip())
            if text != src.text:
                result.writes.append((src.path, text))
                result.updated_files += 1
    return result


def _chosen(
    live: Sequence[dict[str, Any]], targets: tuple[str, ...], result: Result
) -> list[dict[str, Any]]:
    chosen = []
    for resource in live:
        name, rid = resource_name(resource), resource_id(resource)
        if targets and not (name is not None and matches(name, targets)):
            continue
        if rid is None:
            result.warnings.append(
                f"a live ruleset without a usable id ({short(name)}) is left out"
            )
        elif not name or len(name) > NAME_LIMIT or not _writable(name):
            result.warnings.append(
                f"ruleset id {rid}: its name {short(name)} cannot be written in a file (1 to"
                f" {NAME_LIMIT} characters); rename it in Outreach, then export it"
            )
        else:
            chosen.append(resource)
    if targets:
        found = {resource_name(r) for r in chosen}
        unknown = [t for t in targets if not any(n and matches(n, (t,)) for n in found)]
        if unknown:
            live_names = [n for r in live if (n := resource_name(r))]
            hints = []
            for target in unknown:
                near = closest(target, live_names)
                hints.append(target + (f" (did you mean {' or '.join(near)}?)" if near else ""))
            raise ConfigError(f"--target names no live managed ruleset: {', '.join(hints)}")
    return chosen


# id -> (file, document index, whether export must add `id:`); file None: leave it alone
Declarations = dict[int, tuple[SourceFile | None, int, bool]]


def _declared(
    files: list[SourceFile],
    by_id: Mapping[int, dict[str, Any]],
    names: Mapping[str, list[int]],
    *,
    options: Options,
    project: Project,
    result: Result,
) -> Declarations:
    """Which existing document declares which live ruleset: by `id:` first, then by name."""
    declared: Declarations = {}
    unpinned = []
    for src in files:
        for index, doc in enumerate(src.docs):
            if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
                continue
            pin = doc.get("id")
            if isinstance(pin, int) and not isinstance(pin, bool):
                if pin in by_id and pin not in declared:
                    declared[pin] = (src, index, False)
            else:
                unpinned.append((src, index, doc))
    for src, index, doc in unpinned:
        ids = [i for i in names.get(doc["name"], []) if i not in declared]
        if len(ids) == 1:
            declared[ids[0]] = (src, index, False)
        elif len(ids) > 1 and options.overwrite:
            declared[min(ids)] = (src, index, True)  # the lowest id keeps the file; pinned
        elif len(ids) > 1:
            for rid in ids:
                declared[rid] = (None, index, False)
                result.skipped.append(
                    f"{_who(by_id[rid])}: {project.shown(src.path)} declares {doc['name']!r}"
                    f" without `id:` and {len(ids)} live rulesets have that name;"
                    " --overwrite pins it and writes the others"
                )
        else:
            for old in doc.get("previousNames") or []:
                for rid in names.get(old, []) if isinstance(old, str) else []:
                    if rid not in declared:
                        declared[rid] = (None, index, False)
                        result.skipped.append(
                            f"{_who(by_id[rid])}: {project.shown(src.path)} renames it"
                            f" to {doc['name']!r} (previousNames); plan and apply that first"
                        )
    return declared


def _refusal(collisions: list[tuple[SourceFile, int]], project: Project) -> str:
    paths = sorted({project.shown(src.path) for src, _ in collisions})
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return (
        f"refusing to overwrite {len(paths)} existing file(s) that already declare"
        f" {len(collisions)} of these live rulesets: {shown}. Pass --overwrite to update"
        " them in place (comments kept), --missing-only to write only the rulesets no file"
        f" declares, or --out-dir for a folder other than {project.shown(project.out_dir)}"
    )


def _who(resource: dict[str, Any]) -> str:
    return f"{resource_name(resource)!r} (id {resource_id(resource)})"


@dataclass
class _Writer:
    refs: References
    project: Project
    result: Result

    def new_file(self, path: Path, resource: dict[str, Any], *, pin: bool) -> str:
        fields = {"name": Value(resource_name(resource) or "")}
        if pin:
            fields["id"] = Value(resource_id(resource))
        fields.update(self._needed(resource))
        schema = os.path.relpath(self.project.schema, path.parent).replace(os.sep, "/")
        modeline = f"# yaml-language-server: $schema={schema}\n"
        return ey.dump([ey.new_document(fields)], header=modeline + HEADER)

    def update(self, src: SourceFile, index: int, resource: dict[str, Any], *, pin: bool) -> None:
        doc = src.docs[index]  # plain values: compared; the round-trip copy is changed
        name = resource_name(resource)
        changes: dict[str, Value] = {}
        if pin:
            changes["id"] = Value(resource_id(resource))
        if doc.get("name") != name:
            changes["name"] = Value(name)  # renamed in Outreach; the `id:` pin holds it
        overridden = self.project.overrides.get(name or "", {})
        needed = self._needed(resource)
        for fld in MANAGEABLE:
            if fld in overridden:
                continue
            if fld in doc:
                target = _live(resource, fld)
                value = self._value(resource, fld, target)
                if value is not None and not _same(self._file_value(fld, doc[fld]), target):
                    changes[fld] = value
            elif fld in needed:
                changes[fld] = needed[fld]
        for fld, value in changes.items():
            ey.put(src.round_trip()[index], fld, value)
        if changes:
            src.changed = True
        else:
            self.result.unchanged += 1

    def _needed(self, resource: dict[str, Any]) -> dict[str, Value]:
        """The fields this ruleset's file must state so that defaults + file == live."""
        name = resource_name(resource) or ""
        overridden = self.project.overrides.get(name, {})
        needed: dict[str, Value] = {}
        for fld in ey.FIELD_ORDER:
            if fld not in MANAGEABLE:
                continue
            value = _live(resource, fld)
            if fld in overridden:
                if not _same(self._file_value(fld, overridden[fld]), value):
                    self.result.warn(
                        f"{_who(resource)}: {fld} is set by environments."
                        f"{self.project.environment}.overrides, not as live; the first"
                        " plan will change it to the override"
                    )
                continue
            if fld in self.project.defaults:
                if _same(self._file_value(fld, self.project.defaults[fld]), value):
                    continue
            elif value is None:
                continue
            written = self._value(resource, fld, value)
            if written is not None:
                needed[fld] = written
        return needed

    def _value(self, resource: dict[str, Any], fld: str, value: Any) -> Value | None:
        """Live's value of ``fld`` as a person would write it; None when no file can hold it
        (the field is then left out: unmanaged)."""
        kind = RELATIONSHIPS.get(fld)
        if kind is not None and (value is None or _positive(value)):
            return self._reference(kind, value)
        if kind is not None or not _writable(value):
            self.result.warn(
                f"{_who(resource)}: {fld}: live has {short(value)}, which no file can hold;"
                " left out of the file (unmanaged)"
            )
            return None
        why = held.refusal(fld, value) if value is not None else None
        if why:
            self.result.warn(
                f"{_who(resource)}: {fld}: Outreach holds {short(value)}, which it would refuse"
                f" on write ({why}); exported as {{held: ...}}, kept until you replace it"
            )
            return Value(
                ey.held_value(value), f"Outreach holds this value but would refuse it: {why}"
            )
        if fld in DURATION_FIELDS and isinstance(value, int) and value > 0:
            return Value(format_duration(value))
        return Value(value)

    def _reference(self, kind: str, ref_id: int | None) -> Value:
        if ref_id is None:
            return Value(None)
        word = KINDS[kind][2]
        text = self.refs.label(kind, ref_id)
        if text is None or not _writable(text):
            return Value({"id": ref_id}, f"{word} {ref_id} is not in the org's list")
        sharing = len(self.refs.ids_named(kind, text))
        if sharing == 1 and 0 < len(text) <= NAME_LIMIT:
            return Value(text)
        what = "email (ignoring case)" if kind == "user" else "name"
        return Value({"id": ref_id}, f"{word} {ey.label(text)}: {sharing} share this {what}")

    def _file_value(self, fld: str, value: Any) -> Any:
        """What a file's (or config layer's) value means: seconds, an id, the held value."""
        value = ey.plain(value)
        if held.is_held(value):
            return value[held.KEY]
        kind = RELATIONSHIPS.get(fld)
        if kind is not None:
            if value is None:
                return None
            if isinstance(value, dict):
                return value.get("id", _UNRESOLVED)
            if not isinstance(value, str):
                return _UNRESOLVED
            ref_id, _ = resolve(kind, str(value), self.refs)
            return _UNRESOLVED if ref_id is None else ref_id
        if fld in DURATION_FIELDS and isinstance(value, str):
            try:
                return parse_duration(value)
            except ValueError:
                return _UNRESOLVED
        return value


def _live(resource: dict[str, Any], fld: str) -> Any:
    if fld in RELATIONSHIPS:
        ref = relationship(resource, fld)
        return None if ref is None else ref.id
    attrs = resource.get("attributes")
    return attrs.get(fld) if isinstance(attrs, dict) else None


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _writable(value: Any) -> bool:
    """A plain value a UTF-8 YAML file can hold (the API may send anything)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (bool, int))


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python; as in the planner, a live `1` where the file says `true` differs
    return type(a) is type(b) and a == b
