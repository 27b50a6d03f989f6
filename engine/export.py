"""Live rulesets -> YAML files, to bootstrap a repository from an existing org."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from rulesync.documents import live_document, resource_name
from rulesync.errors import ConfigError
from rulesync.model import ATTRIBUTES, DURATION_FIELDS, RELATIONSHIPS, format_duration
from rulesync.references import References

HEADER = (
    "# Exported from Outreach by `rulesync export`. Fields left out are not managed;\n"
    "# add one (null included) to manage it.\n"
)


def file_stem(name: str) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return stem[:80] or "ruleset"


def ruleset_yaml(resource: dict[str, Any], refs: References) -> str:
    """One ruleset as YAML: durations readable, references by name or email when unique."""
    doc = live_document(resource, [*ATTRIBUTES, *RELATIONSHIPS])
    out: dict[str, Any] = {"name": resource_name(resource)}
    for field, value in doc["attributes"].items():
        if value is None:
            continue
        if field in DURATION_FIELDS and isinstance(value, int) and not isinstance(value, bool):
            out[field] = format_duration(value) if value else 0
        else:
            out[field] = value
    for field, ref in doc["relationships"].items():
        if ref is None:
            continue
        out[field] = _ref(ref, refs)
    return HEADER + yaml.safe_dump(out, sort_keys=False, allow_unicode=True, width=100)


def _ref(ref: dict[str, Any], refs: References) -> Any:
    kind, rid = str(ref.get("type")), ref.get("id")
    labels = refs.labels.get(kind, {})
    label = labels.get(rid) if isinstance(rid, int) else None
    if label is not None and list(labels.values()).count(label) == 1:
        return label
    return {"id": rid}


def plan_files(rulesets: list[dict[str, Any]], out_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """A file path for each ruleset, unique even when names collide after slugging."""
    named = sorted((r for r in rulesets if resource_name(r)), key=lambda r: resource_name(r) or "")
    used: Counter[str] = Counter()
    files = []
    for resource in named:
        stem = file_stem(resource_name(resource) or "")
        used[stem] += 1
        suffix = f"-{used[stem]}" if used[stem] > 1 else ""
        files.append((out_dir / f"{stem}{suffix}.yaml", resource))
    return files


def write_files(files: list[tuple[Path, str]], *, overwrite: bool) -> None:
    existing = [path for path, _ in files if path.exists()]
    if existing and not overwrite:
        shown = ", ".join(str(p) for p in existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise ConfigError(
            f"refusing to overwrite {len(existing)} existing file(s): {shown}{more};"
            " pass --overwrite or choose another --out-dir"
        )
    for path, text in files:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"{path}: cannot write: {err.strerror}") from None
