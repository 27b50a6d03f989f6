"""File names for exported rulesets: readable, deterministic, always inside the target folder."""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from anyascii import anyascii

from rulesync.errors import ConfigError

STEM_LIMIT = 60
# Names Windows refuses for a file, whatever the extension (a repository is shared).
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10))}
_RESERVED |= {f"lpt{i}" for i in range(10)}


def slug(name: str) -> str:
    """``"Inbound leads"`` -> ``inbound-leads``; non-Latin scripts are transliterated
    (``Входящие лиды`` -> ``vkhodyashchie-lidy``); "" when nothing readable is left."""
    text = anyascii(unicodedata.normalize("NFKC", name)).lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    text = text[:STEM_LIMIT].rstrip("-")
    if text in _RESERVED:
        text += "-ruleset"
    return text


def assign(
    rulesets: Iterable[tuple[int, str]], taken: Iterable[Path], folder: Path
) -> dict[int, Path]:
    """A new file in ``folder`` for each ``(id, name)``.

    Names that slug alike (``A b`` / ``a-b``) each get their id as a suffix, and so does a name
    whose plain file already exists: the same org always gives the same names, whatever order
    the API lists it in. Names with nothing readable become ``ruleset-ID``.
    """
    by_stem: dict[str, list[int]] = defaultdict(list)
    for rid, name in rulesets:
        by_stem[slug(name) or f"ruleset-{rid}"].append(rid)
    used = {_key(p) for p in taken}
    paths: dict[int, Path] = {}
    for stem in sorted(by_stem):
        ids = sorted(by_stem[stem])
        plain = folder / f"{stem}.yaml"
        alone = len(ids) == 1 and _key(plain) not in used
        for rid in ids:
            path = plain if alone else folder / f"{stem}-{rid}.yaml"
            counter = 1
            while _key(path) in used:
                counter += 1
                path = folder / f"{stem}-{rid}-{counter}.yaml"
            used.add(_key(path))
            paths[rid] = path
    return paths


def _key(path: Path) -> str:
    # Case-insensitive file systems (macOS, Windows) would make A.yaml and a.yaml one file.
    return str(path).lower()


def inside(path: Path, folder: Path) -> bool:
    """True when ``path`` (symlinks followed) is within ``folder``."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def write_files(files: list[tuple[Path, str]], folder: Path) -> None:
    """Write each file whole (a temporary file renamed over it), never outside ``folder``."""
    for path, _ in files:
        if not inside(path.parent, folder):  # symlinks followed: where the bytes would land
            raise ConfigError(f"{path}: outside {folder}; nothing was written")
    for path, text in files:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".export-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
                    out.write(text)
                os.replace(temp, path)  # a symlink at ``path`` is replaced, never followed
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as err:
            raise ConfigError(f"{path}: cannot write: {err.strerror}") from None
