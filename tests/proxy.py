"""A recording, tampering HTTP proxy in front of the emulator: a server that misbehaves on
purpose, to test what rulesync does when the real API does not do what our emulator does.

    with Proxy(emulator.url) as proxy:          # proxy.api_url replaces emulator.api_url
        proxy.tamper = drop_attribute("includeUnsubscribeLinks")
        proxy.answer = ...                       # answer some requests itself (upstream unasked)
        proxy.reply = ...                        # change the upstream's answer on the way back
        ...
        proxy.requests                           # every (method, path, query, body) seen
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

HOP_HEADERS = {"connection", "content-length", "transfer-encoding", "content-encoding"}


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    body: Any  # parsed JSON, or None


# (method, path, parsed JSON body) -> the body to forward instead
Tamper = Callable[[str, str, Any], Any]
# the request -> (status, JSON body or None) answered by the proxy itself, upstream never asked;
# None: forward it
Answer = Callable[[Seen], tuple[int, Any] | None]
# (the request, the upstream's status, its parsed JSON body or None) -> what to send back
Reply = Callable[[Seen, int, Any], tuple[int, Any]]


P = TypeVar("P", bound="Proxy")


class Proxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.requests: list[Seen] = []
        self.tamper: Tamper | None = None
        self.answer: Answer | None = None
        self.reply: Reply | None = None
        self._lock = threading.Lock()
        self._http = requests.Session()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.port}"
        self.api_url = f"{self.url}/api/v2"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self: P) -> P:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    def writes(self) -> list[Seen]:
        with self._lock:
            return [s for s in self.requests if s.method in ("POST", "PATCH", "DELETE")]

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        raw = request.get_data()
        body = json.loads(raw) if raw else None
        seen = Seen(request.method, request.path, request.query_string.decode(), body)
        with self._lock:
            self.requests.append(seen)
        answered = self.answer(seen) if self.answer is not None else None
        if answered is not None:
            return _json_response(*answered)(environ, start_response)
        if body is not None and self.tamper is not None:
            body = self.tamper(request.method, request.path, body)
            raw = json.dumps(body).encode()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        headers.pop("Host", None)
        answer = self._http.request(
            request.method,
            f"{self.upstream}{request.full_path.rstrip('?')}",
            data=raw or None,
            headers=headers,
            timeout=30,
        )
        # the emulator's own links point at itself: rewrite them to stay behind the proxy
        content = answer.content.replace(self.upstream.encode(), self.url.encode())
        if self.reply is not None:
            status, parsed = self.reply(seen, answer.status_code, json.loads(content or "null"))
            return _json_response(status, parsed)(environ, start_response)
        response = Response(content, status=answer.status_code)
        for key, value in answer.headers.items():
            if key.lower() not in HOP_HEADERS:
                response.headers[key] = value
        return response(environ, start_response)


def _json_response(status: int, body: Any) -> Response:
    content = b"" if body is None else json.dumps(body).encode()
    return Response(content, status=status, content_type="application/vnd.api+json")


def drop_attribute(field: str) -> Tamper:
    """A server that answers 200 to a PATCH but silently ignores one attribute."""

    def tamper(method: str, path: str, body: Any) -> Any:
        if method == "PATCH" and isinstance(body, dict):
            attributes = body.get("data", {}).get("attributes", {})
            attributes.pop(field, None)
        return body

    return tamper
