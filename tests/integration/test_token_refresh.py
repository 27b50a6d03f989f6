"""A token the API stops accepting mid-run is replaced once, not fatal (outreach-authentication
.yml: access tokens live two hours and can be revoked; a 401 means a new one is needed), and a
token refused right after it was minted is not re-minted in a loop (one mint a minute)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from rulesync.auth import OAuthRefresh
from rulesync.client import Client
from rulesync.errors import AuthError

JSONAPI = "application/vnd.api+json"


class Org:
    """A token endpoint and an API that refuses the tokens in ``revoked``."""

    def __init__(self) -> None:
        self.minted: list[str] = []
        self.revoked: set[str] = set()
        self.seen: list[str] = []  # the bearer of every API request
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/oauth/token":
            token = f"access-{len(self.minted) + 1:04}"
            self.minted.append(token)
            body = {"access_token": token, "refresh_token": "refresh", "expires_in": 7200}
            answer = Response(json.dumps(body), content_type="application/json")
        else:
            bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
            self.seen.append(bearer)
            if bearer in self.revoked:
                error = {"errors": [{"id": "unauthorized", "title": "Unauthorized"}]}
                answer = Response(json.dumps(error), status=401, content_type=JSONAPI)
            else:
                answer = Response(json.dumps({"data": [], "links": {}}), content_type=JSONAPI)
        return answer(environ, start_response)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def org() -> Iterator[Org]:
    server = Org()
    yield server
    server.close()


def tokens(org: Org, clock: Clock) -> OAuthRefresh:
    return OAuthRefresh(
        token_url=f"{org.url}/oauth/token",
        client_id="client",
        client_secret="client-secret",
        refresh_token="refresh",
        clock=clock,
    )


def test_a_token_revoked_mid_run_is_replaced_and_the_request_retried(org: Org) -> None:
    clock = Clock()
    client = Client(f"{org.url}/api/v2", tokens(org, clock))
    assert client.list_all("rulesets") == []
    assert org.minted == ["access-0001"]
    clock.now += 600  # ten minutes into a long apply, an admin revokes the token
    org.revoked.add("access-0001")
    assert client.list_all("rulesets") == []
    assert org.minted == ["access-0001", "access-0002"]
    assert org.seen[-2:] == ["access-0001", "access-0002"]


def test_a_token_refused_right_after_minting_is_an_error_not_a_loop(org: Org) -> None:
    clock = Clock()
    org.revoked.update(f"access-{i:04}" for i in range(1, 10))
    client = Client(f"{org.url}/api/v2", tokens(org, clock))
    with pytest.raises(AuthError, match="401"):
        client.list_all("rulesets")
    assert org.minted == ["access-0001"]
