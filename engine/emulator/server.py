"""Serving the emulator over HTTP on a background thread, for tests, the embedded mode and
``rulesync emulator serve``."""

from __future__ import annotations

import logging
import secrets
import socket
import sqlite3
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from rulesync.emulator import rules
from rulesync.emulator.app import EmulatorApp
from rulesync.emulator.oauth import OAuthIssuer
from rulesync.emulator.scopes import every_scope, parse_scopes
from rulesync.emulator.seed import load_seed_file
from rulesync.emulator.store import Store

log = logging.getLogger("rulesync.emulator")


class QuietHandler(WSGIRequestHandler):
    """No access log on stdout/stderr (it would interleave with the CLI's output); the request
    line never holds a token, but only debug logging gets it anyway."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s -> %s", self.command, getattr(self, "path", "?"), code)

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug(message, *args)

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        # A dropped response (fault injection) or a client that went away: close instead of
        # waiting for another request on a keep-alive connection that has been shut down.
        self.close_connection = True


class QuietServer(ThreadedWSGIServer):
    """werkzeug's threaded server, minus its habit of printing tracebacks to stderr (its own
    logger, or socketserver's ``handle_error``): they go to the emulator's debug log."""

    def log(self, type: str, message: str, *args: Any) -> None:
        log.debug(message, *args)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("emulator connection error from %s", client_address, exc_info=True)


class EmulatorStartError(RuntimeError):
    """The emulator could not open its database; the message says which and why."""


class EmulatorServer:
    """An Outreach-compatible API on a loopback port. ``db_path`` None keeps state in memory;
    a database file keeps it between runs (``seed_path`` given replaces it)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        db_path: str | Path | None = None,
        token: str,
        seed_path: Path | None = None,
        oauth_client_id: str | None = None,
        oauth_client_secret: str | None = None,
        oauth_refresh_token: str | None = None,
        oauth_mint_interval_s: float = rules.MINT_INTERVAL_S,
        scopes: str | None = None,
    ) -> None:
        """``scopes`` (space-separated, e.g. ``"rulesets.read rulesets.write"``) are those of
        ``token`` and of minted tokens; None grants every scope. Raises ScopeError, SeedError,
        or OSError/sqlite3.Error when the database cannot be opened."""
        granted = parse_scopes(every_scope() if scopes is None else scopes)
        seed = load_seed_file(Path(seed_path)) if seed_path is not None else None
        self.host = host
        self.port = port
        self.token = token
        self.store = Store(db_path if db_path is not None else ":memory:", seed=seed)
        oauth = OAuthIssuer(
            client_id=oauth_client_id,
            client_secret=oauth_client_secret,
            refresh_token=oauth_refresh_token,
            scopes=" ".join(sorted(granted)),
            mint_interval_s=oauth_mint_interval_s,
        )
        self.app = EmulatorApp(store=self.store, token=token, oauth=oauth, scopes=granted)
        self._server: ThreadedWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> EmulatorServer:
        """Bind the port and serve on a daemon thread; returns self."""
        if self._server is not None:
            return self
        listener = _listen(self.host, self.port)
        try:
            server = QuietServer(
                self.host, self.port, self.app, handler=QuietHandler, fd=listener.fileno()
            )
        finally:
            listener.close()  # the server holds its own duplicate of the descriptor
        self._server = server
        self.port = server.port
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="rulesync-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v2"

    def stop(self) -> None:
        """Stop serving and close the database; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.store.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _listen(host: str, port: int) -> socket.socket:
    """Bind here rather than in werkzeug, which prints to stderr and exits on a busy port;
    an OSError is the caller's to report."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def start_embedded(db_path: Path) -> EmulatorServer:
    """The emulator for ``api_url: embedded``: loopback, a free port, a one-off token.
    Raises EmulatorStartError, with a one-line reason, when its database cannot be used."""
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        return EmulatorServer(db_path=db_path, token=secrets.token_urlsafe(32)).start()
    except (OSError, sqlite3.Error) as err:
        log.debug("cannot start the embedded emulator", exc_info=True)
        reason = getattr(err, "strerror", None) or str(err)
        hint = " (is another rulesync using it?)" if "locked" in reason else ""
        raise EmulatorStartError(
            f"cannot open the embedded emulator's database {db_path}: {reason}{hint}"
        ) from None
