"""Fault injection, rate limiting and request statistics: the emulator's control surface.

All three are shared by the request threads, so each guards its state with its own lock.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from rulesync.emulator import rules
from rulesync.emulator.jsonapi import fail

DEFAULT_RATE_LIMIT = rules.RATE_LIMIT
DEFAULT_RATE_WINDOW_S = rules.RATE_WINDOW_S
_FAULT_KEYS = (
    "maintenance_s",
    "latency_ms",
    "error_rate",
    "error_statuses",
    "drop_after_commit_rate",
    "rate_limit",
    "seed",
)


@dataclass(frozen=True)
class FaultConfig:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    drop_after_commit_rate: float = 0.0
    rate_limit: int | None = None
    rate_window_s: float | None = None
    seed: int | None = None
    maintenance_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.maintenance_s:
            out["maintenance_s"] = self.maintenance_s
        if self.latency_ms:
            out["latency_ms"] = self.latency_ms
        if self.error_rate:
            out["error_rate"] = self.error_rate
            out["error_statuses"] = list(self.error_statuses)
        if self.drop_after_commit_rate:
            out["drop_after_commit_rate"] = self.drop_after_commit_rate
        if self.rate_limit is not None:
            out["rate_limit"] = {"limit": self.rate_limit, "window_s": self.rate_window_s}
        if self.seed is not None:
            out["seed"] = self.seed
        return out


def _number(body: dict[str, Any], key: str, *, low: float, high: float) -> float:
    value = body.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise fail(
            422,
            "validationError",
            f"{key} must be a number from {low} to {high}",
            pointer=f"/{key}",
        )
    return float(value)


def parse_faults(body: Any) -> FaultConfig:
    """The JSON body of ``POST /_emulator/faults`` -> FaultConfig (``{}`` clears all faults)."""
    if not isinstance(body, dict):
        raise fail(400, "badRequest", "The body must be a JSON object.")
    unknown = sorted(set(body) - set(_FAULT_KEYS))
    if unknown:
        raise fail(
            422,
            "validationError",
            f"unknown fault {unknown[0]!r}; known: " + ", ".join(_FAULT_KEYS),
            pointer=f"/{unknown[0]}",
        )
    statuses = body.get("error_statuses", [500, 502, 503])
    if (
        not isinstance(statuses, list)
        or not statuses
        or not all(
            isinstance(s, int) and not isinstance(s, bool) and 400 <= s <= 599 for s in statuses
        )
    ):
        raise fail(
            422,
            "validationError",
            "error_statuses must be a list of 4xx/5xx statuses",
            pointer="/error_statuses",
        )
    limit: int | None = None
    window: float | None = None
    if body.get("rate_limit") is not None:
        rate = body["rate_limit"]
        ok = isinstance(rate, dict) and set(rate) <= {"limit", "window_s"}
        limit = rate.get("limit") if ok else None
        window = rate.get("window_s", DEFAULT_RATE_WINDOW_S) if ok else None
        if (
            not isinstance(limit, int)
            or isinstance(limit, bool)
            or limit < 0
            or isinstance(window, bool)
            or not isinstance(window, (int, float))
            or not 0 < window <= 86_400 * 365
        ):
            raise fail(
                422,
                "validationError",
                "rate_limit must be {limit: integer >= 0, window_s: seconds > 0}",
                pointer="/rate_limit",
            )
        window = float(window)
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise fail(422, "validationError", "seed must be an integer", pointer="/seed")
    return FaultConfig(
        latency_ms=_number(body, "latency_ms", low=0, high=60_000),
        error_rate=_number(body, "error_rate", low=0, high=1),
        error_statuses=tuple(statuses),
        drop_after_commit_rate=_number(body, "drop_after_commit_rate", low=0, high=1),
        rate_limit=limit,
        rate_window_s=window,
        seed=seed,
        maintenance_s=_number(body, "maintenance_s", low=0, high=86_400),
    )


@dataclass(frozen=True)
class Decision:
    """What the faults do to one request, drawn when it arrives."""

    latency_s: float
    error_status: int | None
    drop: bool


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.config = FaultConfig()
        self._rng = random.Random()
        self.maintenance_until = 0.0

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self.maintenance_until = (
                time.time() + config.maintenance_s if config.maintenance_s else 0.0
            )

    def maintenance_end(self) -> float | None:
        """The end of a scheduled maintenance window under way (epoch seconds), or None."""
        with self._lock:
            until = self.maintenance_until
        return until if until > time.time() else None

    def decide(self) -> Decision:
        with self._lock:
            config = self.config
            error = None
            if config.error_rate and self._rng.random() < config.error_rate:
                error = self._rng.choice(config.error_statuses)
            drop = bool(
                config.drop_after_commit_rate and self._rng.random() < config.drop_after_commit_rate
            )
        return Decision(latency_s=config.latency_ms / 1000, error_status=error, drop=drop)


@dataclass(frozen=True)
class RateVerdict:
    allowed: bool
    headers: dict[str, str]


class RateLimiter:
    """A fixed window per user, as Outreach counts and reports it (all of a user's tokens
    share one budget): limit, remaining, reset (epoch seconds); on 429 ``Retry-After`` is an
    alias of the reset (CONVENTIONS, rate limits)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, int]] = {}
        self.limit = DEFAULT_RATE_LIMIT
        self.window_s = DEFAULT_RATE_WINDOW_S

    def configure(self, limit: int | None, window_s: float | None) -> None:
        with self._lock:
            self.limit = DEFAULT_RATE_LIMIT if limit is None else limit
            self.window_s = window_s or DEFAULT_RATE_WINDOW_S
            self._buckets.clear()

    def check(self, key: str | None) -> RateVerdict:
        """Count one request for user ``key`` (None: unauthenticated, reported but not counted)."""
        now = time.time()
        with self._lock:
            start, used = self._buckets.get(key or "", (now, 0))
            if now >= start + self.window_s:
                start, used = now, 0
            allowed = used < self.limit
            if key is not None and allowed:
                used += 1
                self._buckets[key] = (start, used)
            reset = start + self.window_s
            headers = {
                "X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(max(0, self.limit - used)),
                "X-RateLimit-Reset": str(math.ceil(reset)),
            }
            if not allowed:
                headers["Retry-After"] = headers["X-RateLimit-Reset"]
        return RateVerdict(allowed=allowed or key is None, headers=headers)


class Stats:
    """Requests that reached the Outreach routes, by route template."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_route: Counter[str] = Counter()
        self._reads = 0
        self._writes = 0

    def record(self, method: str, template: str) -> None:
        with self._lock:
            self._by_route[f"{method} {template}"] += 1
            if method in ("GET", "HEAD"):
                self._reads += 1
            else:
                self._writes += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self._reads + self._writes,
                "reads": self._reads,
                "writes": self._writes,
                "by_route": dict(sorted(self._by_route.items())),
            }

    def reset(self) -> None:
        with self._lock:
            self._by_route.clear()
            self._reads = self._writes = 0
