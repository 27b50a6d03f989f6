"""One apply at a time per environment on this machine: a lock file in `.rulesync/`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from rulesync.errors import RulesyncError

LOCK_TIMEOUT_ENV = "RULESYNC_LOCK_TIMEOUT"
DEFAULT_TIMEOUT_S = 60.0


class Busy(RulesyncError):
    """Another apply holds the environment's lock."""


def lock_timeout() -> float:
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S


@contextmanager
def environment_lock(state_dir: Path, environment: str, *, shown: str) -> Iterator[None]:
    """Hold ``STATE_DIR/ENV.lock`` while applying; wait a bounded time, then refuse."""
    path = state_dir / f"{_safe(environment)}.lock"
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RulesyncError(f"{shown}: cannot create the lock folder: {err.strerror}") from None
    timeout = lock_timeout()
    lock = FileLock(str(path), timeout=timeout)
    try:
        lock.acquire()
    except Timeout:
        raise Busy(
            f"another rulesync apply for environment {environment!r} is running on this machine"
            f" (it holds {shown}); waited {timeout:g}s. Let it finish, then run apply again"
            f" (set {LOCK_TIMEOUT_ENV} to wait longer)"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _safe(name: str) -> str:
    """An environment name as a file name: anything unusual becomes `_`."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).lstrip(".") or "_"
