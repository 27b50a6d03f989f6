"""Servers that read `filter[name]` the ways Outreach documents, or not at all.

A small proxy in front of the emulator: writes pass through; listing rulesets applies one of
three filter behaviours (Outreach conventions, `filtering` in outreach-conventions.yml):

- ``legacy``: `a,b` is a list and `lo..hi` a range, whatever the parameter's form;
  `newFilterSyntax` is not understood.
- ``new``: with `newFilterSyntax=true`, `filter[name][]=v` is taken literally; without it,
  the legacy reading.
- ``ignore``: every filter is ignored; the whole collection comes back.

``drop_creates`` makes the next N creates commit upstream and then answer 502, as a gateway
timing out after the API did the work.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from rulesync.emulator.server import QuietHandler

JSONAPI = "application/vnd.api+json"
MODES = ("legacy", "new", "ignore")


def legacy_match(value: str, raw: str) -> bool:
    """Outreach's legacy filter reading of ``raw``: a comma list of values or ``lo..hi``."""
    for part in raw.split(","):
        part = part.strip()
        if ".." in part:
            low, high = part.split("..", 1)
            if low <= value <= high:
                return True
        elif value == part:
            return True
    return False


class FilterProxy:
    def __init__(
        self, upstream: str, *, mode: str, drop_creates: int = 0, reject: tuple[str, ...] = ()
    ) -> None:
        assert mode in MODES
        self.reject = reject  # names whose create is refused with a 422, as Outreach would
        # (name, "lookup" | "create"): another machine creates `name` just before this server
        # answers the first literal lookup of it, or just before it forwards our create of it
        self.race: tuple[str, str] | None = None
        self._race_name = ""
        self.raced_id: int | None = None
        self.upstream = upstream.rstrip("/")  # http://host:port (no /api/v2)
        self.mode = mode
        self.drop_creates = drop_creates
        self.lookups: list[str] = []  # query strings of the listings asked for
        self._lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        headers = {
            k: v for k, v in request.headers.items() if k in ("Authorization", "Content-Type")
        }
        if request.method == "GET" and request.path == "/api/v2/rulesets":
            self.lookups.append(request.query_string.decode())
            if self._races("lookup", request.args.getlist("filter[name][]")):
                self._other_machine_creates(headers)
            return self._list(request, headers)
        if request.method == "POST" and request.path == "/api/v2/rulesets":
            body = request.get_json(force=True, silent=True) or {}
            name = body.get("data", {}).get("attributes", {}).get("name")
            if self._races("create", [name]):
                self._other_machine_creates(headers)
        if request.method == "POST" and request.path == "/api/v2/rulesets":
            name = (
                (request.get_json(force=True, silent=True) or {})
                .get("data", {})
                .get("attributes", {})
            )
            if name.get("name") in self.reject:
                return _validation_error("/data/relationships/startedStage")
        upstream = requests.request(
            request.method,
            self.upstream + request.full_path.rstrip("?"),
            data=request.get_data(),
            headers=headers,
            timeout=30,
        )
        if request.method == "POST" and request.path == "/api/v2/rulesets":
            with self._lock:
                drop = self.drop_creates > 0
                self.drop_creates -= int(drop)
            if drop and upstream.status_code == 201:
                return Response("bad gateway", status=502)
        return Response(
            upstream.content,
            status=upstream.status_code,
            content_type=upstream.headers.get("Content-Type", JSONAPI),
        )

    def _races(self, moment: str, names: list[Any]) -> bool:
        with self._lock:
            if self.race is None or self.race[1] != moment or self.race[0] not in names:
                return False
            self.race = None
            return True

    def _other_machine_creates(self, headers: dict[str, str]) -> None:
        name = self._race_name
        body = {"data": {"type": "ruleset", "attributes": {"name": name}}}
        answer = requests.post(
            f"{self.upstream}/api/v2/rulesets",
            data=json.dumps(body),
            headers={**headers, "Content-Type": JSONAPI},
            timeout=30,
        )
        self.raced_id = int(answer.json()["data"]["id"])

    def race_at(self, name: str, moment: str) -> None:
        self._race_name = name
        self.race = (name, moment)

    def _list(self, request: Request, headers: dict[str, str]) -> Response:
        items: list[dict[str, Any]] = []
        url: str | None = f"{self.upstream}/api/v2/rulesets?page[size]=1000"
        while url:
            body = requests.get(url, headers=headers, timeout=30).json()
            items.extend(body["data"])
            url = body.get("links", {}).get("next")
        args = request.args
        if self.mode != "ignore":
            literal = self.mode == "new" and args.get("newFilterSyntax") == "true"
            for key in ("filter[name]", "filter[name][]"):
                values = args.getlist(key)
                if not values:
                    continue
                if literal and key == "filter[name][]":
                    items = [r for r in items if r["attributes"]["name"] in values]
                else:
                    items = [
                        r
                        for r in items
                        if any(legacy_match(r["attributes"]["name"], v) for v in values)
                    ]
            ids = args.get("filter[id]")
            if ids:
                items = [r for r in items if legacy_match(str(r["id"]), ids)]
        return Response(json.dumps({"data": items}), status=200, content_type=JSONAPI)


def _validation_error(pointer: str) -> Response:
    error = {
        "id": "validationError",
        "title": "Validation Error",
        "detail": "is not a valid value",
        "source": {"pointer": pointer},
    }
    return Response(json.dumps({"errors": [error]}), status=422, content_type=JSONAPI)


@contextmanager
def serving(proxy: FilterProxy) -> Iterator[str]:
    """Serve ``proxy`` on a free loopback port; yields its API URL."""
    server = make_server("127.0.0.1", 0, proxy, threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/v2"
    finally:
        server.shutdown()
        server.server_close()
