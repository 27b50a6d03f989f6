"""Outreach's rate limit as the client sees it: ``Retry-After`` in every documented form, and one
request budget shared by every worker thread (fed by ``X-RateLimit-Remaining``/``Reset``)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

# A number this large is a point in time (epoch seconds), not a delay: Outreach's Retry-After on
# 429 is an alias of X-RateLimit-Reset. (1e9 seconds is ~31 years: no server asks for that.)
EPOCH_FLOOR = 1_000_000_000
MARGIN_S = 0.05  # the server's clock rounds; start a new window a little after it opened
_NUMBER = re.compile(r"\d+(\.\d+)?")


def parse_retry_after(value: str, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` (or ``X-RateLimit-Reset``) value: a delay in
    seconds, an epoch timestamp, an HTTP date or an ISO-8601 timestamp. None when unreadable."""
    text = value.strip()
    if _NUMBER.fullmatch(text):
        number = float(text)
        return max(0.0, number - now) if number >= EPOCH_FLOOR else number
    when: datetime | None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        when = None
    if when is None:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)  # Outreach's timestamps are UTC
    return max(0.0, when.timestamp() - now)


def server_wait(headers: Mapping[str, str], status: int, *, now: float) -> float | None:
    """How long the server asks us to wait: ``Retry-After``, or on 429 ``X-RateLimit-Reset``."""
    for name in ("Retry-After", "X-RateLimit-Reset") if status == 429 else ("Retry-After",):
        value = headers.get(name)
        seconds = parse_retry_after(value, now=now) if value else None
        if seconds is not None:
            return seconds
    return None


def until_text(seconds: float, *, now: float) -> str:
    """``37 s, until 12:03:10`` (local time; the date too when it is not today)."""
    at = time.localtime(now + seconds)
    clock = time.strftime("%H:%M:%S", at)
    if time.strftime("%Y-%m-%d", at) != time.strftime("%Y-%m-%d", time.localtime(now)):
        clock = time.strftime("%Y-%m-%d %H:%M:%S", at)
    return f"{seconds:.0f} s, until {clock}"


class RateBudget:
    """The requests left in the current window, shared by every thread of one client.

    Each request reserves one before it is sent; when none is left, callers wait for the reset.
    The server's headers only ever lower the count within a window (answers arrive out of
    order), and a later reset time starts a new window.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._limit: int | None = None
        self._remaining: int | None = None
        self._reset_at: float | None = None
        self._announced: float | None = None
        self._passed: float = 0.0  # the reset time of the last window that rolled over
        # Until the first answer tells the budget, one request goes alone (a probe): eight
        # threads starting blind would overdraw it. A server without the headers is not paced.
        self._probing = False
        self._unpaced = False

    def reserve(self) -> tuple[float, bool]:
        """Take one request. Returns (seconds to wait first, whether this wait is news:
        one thread announces each wait, the others wait quietly)."""
        with self._lock:
            now = self._clock()
            if self._reset_at is not None and now >= self._reset_at + MARGIN_S:
                self._passed = self._reset_at  # the window rolled over
                self._remaining, self._reset_at = self._limit, None
            if self._unpaced:
                return 0.0, False
            if self._remaining is None:
                if self._probing:
                    return 0.02, False
                self._probing = True
                return 0.0, False
            if self._remaining > 0:
                self._remaining -= 1
                return 0.0, False
            if self._reset_at is None:
                return 0.1, False  # the answers in flight will tell when the window resets
            wait = self._reset_at + MARGIN_S - now
            news = self._announced != self._reset_at
            self._announced = self._reset_at
            return wait, news

    def note(self, headers: Mapping[str, str], *, now: float) -> None:
        """Learn from an answer's ``X-RateLimit-*`` headers."""
        remaining = _count(headers.get("X-RateLimit-Remaining"))
        if remaining is None:
            with self._lock:
                if self._probing and self._remaining is None:
                    self._unpaced = True  # the server does not report its budget
                self._probing = False
            return
        limit = _count(headers.get("X-RateLimit-Limit"))
        reset = headers.get("X-RateLimit-Reset")
        wait = parse_retry_after(reset, now=now) if reset else None
        reset_at = now + wait if wait is not None else None
        with self._lock:
            self._probing = False
            if limit is not None:
                self._limit = limit
            if reset_at is not None and reset_at <= self._passed + 0.5:
                return  # an answer from a window that has passed (answers arrive late)
            if reset_at is not None and self._reset_at is not None:
                if reset_at < self._reset_at - 1:
                    return  # an answer from a window that has passed
                if reset_at > self._reset_at + 1:
                    self._remaining = None  # a new window: take the server's count
            if self._remaining is None or remaining < self._remaining:
                self._remaining = remaining
            if reset_at is not None:
                self._reset_at = reset_at

    def unanswered(self) -> None:
        """A request got no answer: the next one may probe again."""
        with self._lock:
            self._probing = False

    def exhausted(self, seconds: float) -> None:
        """A 429: nothing is left until ``seconds`` from now."""
        with self._lock:
            self._probing = False
            self._unpaced = False
            reset_at = self._clock() + seconds
            self._remaining = 0
            self._reset_at = max(reset_at, self._reset_at or 0.0)

    @property
    def reset_at(self) -> float | None:
        with self._lock:
            return self._reset_at


def _count(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None
