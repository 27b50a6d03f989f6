"""Suggestions for a misspelt name ("did you mean ...?"): difflib, no I/O."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable


def suggest(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` or nothing."""
    return _suggest(word, tuple(options))


@functools.lru_cache(maxsize=1024)  # a large file repeats the same unknown keys
def _suggest(word: str, options: tuple[str, ...]) -> str:
    # difflib's ratio is at most 2*min(len)/(sum of lens): options too short or too long to
    # reach the cutoff are left out first (the same answer, without thousands of comparisons
    # for a file full of unknown keys)
    near = [o for o in options if 2 * min(len(o), len(word)) >= 0.6 * (len(o) + len(word))]
    close = difflib.get_close_matches(word, near, n=1, cutoff=0.6) if near else []
    if not close:
        lowered = {o.lower(): o for o in options}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    return f"; did you mean '{close[0]}'?" if close else ""


def closest(word: str, options: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``options`` closest to ``word``, best first (none when nothing is near)."""
    return difflib.get_close_matches(word, list(options), n=n, cutoff=0.5)
