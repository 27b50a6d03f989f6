"""A local HTTP server that misbehaves on purpose: each test scripts every answer.

The real client talks to it over HTTP; the server records what it was sent (paths, headers,
bodies, times), so a test can assert e.g. that a token never reached it.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)


Script = Callable[["Hostile", Seen, BaseHTTPRequestHandler], Reply | None]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    def setup(self) -> None:
        super().setup()
        # headers and body go out as two writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        seen = Seen(
            self.command,
            parts.path,
            parse_qs(parts.query),
            dict(self.headers.items()),
            body,
            time.time(),
        )
        hostile = self.server.hostile
        with hostile.lock:
            hostile.seen.append(seen)
        reply = hostile.script(hostile, seen, self)
        if reply is None:
            self.close_connection = True
            return  # the script answered (or dropped the connection) itself
        payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        headers = {"Content-Type": "application/vnd.api+json", **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in reply.headers:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    hostile: Hostile

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client hanging up on a misbehaving answer is the point of most tests


# A certificate for 127.0.0.1 and localhost, for tests only (its key is public): an HTTPS
# server the client trusts through REQUESTS_CA_BUNDLE=TLS_CERT.
TLS_CERT = Path(__file__).parent / "tls" / "cert.pem"
TLS_KEY = Path(__file__).parent / "tls" / "key.pem"


class Hostile:
    def __init__(self, script: Script, *, tls: bool = False) -> None:
        self.script = script
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        self.state: dict[str, Any] = {}
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.hostile = self
        scheme = "http"
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(TLS_CERT, TLS_KEY)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self.api_url = f"{self.url}/api/v2"
        # a short poll: shutting the server down (every test) waits for one poll
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> Hostile:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def requests_to(self, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path == path]

    def tokens_seen(self) -> list[str]:
        with self.lock:
            return [s.headers.get("Authorization", "") for s in self.seen]


def page(items: list[dict[str, Any]], next_url: str | None = None) -> Reply:
    links = {"next": next_url} if next_url else {}
    return Reply(200, {"data": items, "links": links})


def ruleset(rid: int, name: str) -> dict[str, Any]:
    return {"type": "ruleset", "id": rid, "attributes": {"name": name}, "relationships": {}}
