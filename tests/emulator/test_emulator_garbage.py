"""Garbage to every route: the answer is always a 4xx with an error body, never a 500."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import socket
from typing import Any

import requests

from tests.conftest import TOKEN, Api

PATHS = [
    "/api/v2/rulesets",
    "/api/v2/rulesets/1",
    "/api/v2/rulesets/abc",
    "/api/v2/rulesets/99999999999999999999999",
    "/api/v2/rulesets/0",
    "/api/v2/stages",
    "/api/v2/stages/1",
    "/api/v2/stages/%00",
    "/api/v2/taskPriorities",
    "/api/v2/taskPriorities/1",
    "/api/v2/users",
    "/api/v2/users/%E2%91%A0",
    "/api/v2",
    "/api/v2/",
    "/api/v2/rulesets/1/owner",
    "/oauth/token",
    "/_emulator/stats",
    "/_emulator/faults",
    "/_emulator/nope",
    "/",
    "/_emulator/reset",  # last: it wipes the ruleset the others aim at
]
METHODS = ["GET", "POST", "PATCH", "DELETE", "PUT", "OPTIONS", "HEAD"]
BODIES: list[bytes] = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b"1e999",
    b"\xff\xfe\x00garbage",
    b"[" * 50_000,
    b'{"data": null}',
    b'{"data": []}',
    b'{"data": {"type": 5, "id": "1"}}',
    json.dumps(
        {"data": {"type": "ruleset", "id": 10**30, "attributes": [], "relationships": "x"}}
    ).encode(),
    json.dumps(
        {
            "data": {
                "type": "ruleset",
                "id": 1,
                "attributes": {"name": {"a": 1}, "x/~y": 1, "callOptOutAction": 1e308},
                "relationships": {
                    "owner": {"data": {"type": "user", "id": 10**30}},
                    "repliedStage": {"data": {"type": "stage", "id": -1}},
                    "x/~": None,
                },
            }
        }
    ).encode(),
    # Lone surrogates: valid JSON escapes, but not text SQLite can store.
    b'{"data": {"type": "ruleset", "attributes": {"name": "\\ud800", "smsReceivedAction": "\\udfff"'
    b"}}}",
    b'{"data": {"type": "ruleset", "id": 1, "attributes": {"name": NaN}}}',
    b"grant_type=refresh_token&client_id=%FF&client_secret=\xff&refresh_token=",
]
CONTENT_TYPES = [
    "application/vnd.api+json",
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=zz",
]


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


QUERIES = [
    "page[size]=abc",
    "page[size]=99999999999999999999",
    "page[after]=%FF%FE",
    "page[after]=" + _cursor(["id", [10**30]]),
    "page[after]=" + _cursor(["id", ["\ud800"]]),
    "page[after]=" + _cursor(["id", [None]]),
    "page[after]=" + _cursor({"a": 1}),
    "sort=name&page[after]=" + _cursor(["name", [[], 1]]),
    "filter[id]=1,,2",
    "filter[id]=-99999999999999999999",
    "filter[name]=%00%FF",
    "filter[email]=x",
    "filter[owner][id]=1",
    "sort=-",
    "sort=",
    "sort=%FF",
    "count=TRUE",
    "include=owner&fields[ruleset]=name",
    "%ZZ=1&page[size]=1",
]


def check(response: requests.Response, label: str) -> None:
    assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400 and response.request.method != "HEAD":
        body = response.json()
        assert body.get("errors") or body.get("error"), label


def test_garbage_bodies_to_every_route(api: Api) -> None:
    api.create("Target")
    session = requests.Session()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    # Every body as JSON:API, and every content type with a few bodies: the checks are
    # independent of each other, so the full cross product would only slow the suite down.
    variants = [(body, CONTENT_TYPES[0]) for body in BODIES] + [
        (body, content_type) for body in BODIES[-4:] for content_type in CONTENT_TYPES[1:]
    ]
    for path, method in itertools.product(PATHS, METHODS):
        for body, content_type in variants:
            if method in ("GET", "HEAD", "OPTIONS") and body:
                continue  # bodies on reads are ignored
            response = session.request(
                method,
                api.root + path,
                data=body,
                headers={**auth, "Content-Type": content_type},
                timeout=10,
            )
            check(response, f"{method} {path} {content_type} {body[:60]!r}")
    assert api.control("GET", "faults").json() == {"faults": {}}


def test_garbage_queries_to_every_list(api: Api) -> None:
    api.create("Target")
    for collection, query in itertools.product(
        ("rulesets", "stages", "taskPriorities", "users"), QUERIES
    ):
        response = requests.get(
            f"{api.base}/{collection}?{query}",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        check(response, f"GET /{collection}?{query}")


def test_garbage_headers(api: Api) -> None:
    for headers in (
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dGVzdA=="},
        {"Authorization": "Bearer " + "x" * 10_000},
        {"Authorization": f"Bearer {TOKEN}", "Content-Length": "5"},
        {"Authorization": f"Bearer {TOKEN}", "Host": 'evil"host:1'},
    ):
        response = requests.post(f"{api.base}/rulesets", headers=headers, timeout=10)
        check(response, str(headers)[:80])


def test_garbage_on_the_wire(api: Api) -> None:
    host, port = api.server.host, api.server.port
    for raw in (
        b"NONSENSE\r\n\r\n",
        b"GET /api/v2/rulesets HTTP/9.9\r\n\r\n",
        b"POST /api/v2/rulesets HTTP/1.1\r\nContent-Length: 100\r\n\r\n{",
        b"GET " + b"/a" * 40_000 + b" HTTP/1.1\r\n\r\n",
    ):
        answer = b""
        with socket.create_connection((host, port), timeout=5) as sock:
            # the server may answer and close before all of it is sent (an 80 KB request
            # line): then shutdown or recv find the connection gone, and what came is read
            with contextlib.suppress(OSError):
                sock.sendall(raw)
                sock.shutdown(socket.SHUT_WR)
            with contextlib.suppress(OSError):
                while chunk := sock.recv(65536):
                    answer += chunk
        if answer.startswith(b"HTTP/"):  # else an HTTP/0.9-style error page from the HTTP layer
            status = int(answer.split(b" ", 2)[1])
            assert status < 500, answer[:200]
    assert api.get("/stages").status_code == 200
