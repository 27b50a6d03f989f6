"""A total deadline per HTTP request: connect, sending, and every read of the answer together.

A socket read timeout restarts with every byte, so a server that drips one byte at a time would
hold a request forever. Each request registers a deadline here; the connection it uses (our
urllib3 connection classes report it) is shut down when the deadline passes, which makes the
blocked read fail at once.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()


class Ticket:
    """One request's deadline, and the connection it runs on."""

    def __init__(self, watchdog: Watchdog, deadline: float) -> None:
        self.deadline = deadline
        self.expired = False
        self.conn: HTTPConnection | None = None
        self._watchdog = watchdog

    def __enter__(self) -> Ticket:
        _current.ticket = self
        self._watchdog.add(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _current.ticket = None
        self._watchdog.remove(self)

    def expire(self) -> None:
        self.expired = True
        conn = self.conn
        sock = getattr(conn, "sock", None) if conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: nothing to interrupt
                sock.shutdown(socket.SHUT_RDWR)


class Watchdog:
    """One thread that expires the tickets whose deadline passed."""

    def __init__(self) -> None:
        self._tickets: set[Ticket] = set()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def ticket(self, seconds: float) -> Ticket:
        return Ticket(self, time.monotonic() + seconds)

    def add(self, ticket: Ticket) -> None:
        with self._cond:
            self._tickets.add(ticket)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="rulesync-deadline", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def remove(self, ticket: Ticket) -> None:
        with self._cond:
            self._tickets.discard(ticket)

    def _run(self) -> None:
        while True:
            with self._cond:
                now = time.monotonic()
                due = [t for t in self._tickets if t.deadline <= now]
                for ticket in due:
                    self._tickets.discard(ticket)
                    ticket.expire()
                upcoming = min((t.deadline for t in self._tickets), default=now + 5.0)
                self._cond.wait(timeout=max(0.01, min(upcoming - now, 5.0)))


WATCHDOG = Watchdog()


class _Reporting:
    """Mixed into urllib3's connections: tell the running request's ticket which one it uses."""

    def request(self, *args: Any, **kwargs: Any) -> None:
        ticket = getattr(_current, "ticket", None)
        if ticket is not None:
            ticket.conn = self
        super().request(*args, **kwargs)  # type: ignore[misc]


class WatchedHTTPConnection(_Reporting, HTTPConnection):
    pass


class WatchedHTTPSConnection(_Reporting, HTTPSConnection):
    pass


class WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = WatchedHTTPConnection


class WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = WatchedHTTPSConnection


POOL_CLASSES = {"http": WatchedHTTPPool, "https": WatchedHTTPSPool}
