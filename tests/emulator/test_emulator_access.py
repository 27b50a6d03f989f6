"""Auth, scopes, limits and sequences as Outreach enforces and serves them (its
authentication, scopes, rate-limit and error documentation, the Ruleset page's authorization
meta, and the sequences document)."""

from __future__ import annotations

import http.client
import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from rulesync.emulator import EmulatorServer, start_embedded
from rulesync.emulator.oauth import OAuthIssuer
from rulesync.emulator.server import EmulatorStartError
from tests.conftest import TOKEN, Api

JSONAPI = "application/vnd.api+json"


def get(server: EmulatorServer, path: str, token: str = "t", **params: str) -> requests.Response:
    return requests.get(
        server.api_url + path,
        params=params,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )


def send(
    server: EmulatorServer, method: str, path: str, body: Any, token: str = "t"
) -> requests.Response:
    return requests.request(
        method,
        server.api_url + path,
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": JSONAPI},
        timeout=10,
    )


@pytest.fixture
def read_only() -> Iterator[EmulatorServer]:
    with EmulatorServer(token="t", scopes="rulesets.read sequences.read stages.read") as server:
        yield server


def test_a_missing_scope_is_403_naming_it(read_only: EmulatorServer) -> None:
    assert get(read_only, "/rulesets").status_code == 200
    created = send(read_only, "POST", "/rulesets", {"data": {"type": "ruleset", "attributes": {}}})
    assert created.status_code == 403
    (error,) = created.json()["errors"]
    assert error["id"] == "unauthorizedOauthScope" and "'rulesets.write'" in error["detail"]
    users = get(read_only, "/users")
    assert users.status_code == 403 and "'users.read'" in users.json()["errors"][0]["detail"]


def test_scopes_are_not_additive() -> None:
    with EmulatorServer(token="t", scopes="rulesets.write rulesets.delete") as server:
        response = get(server, "/rulesets")
        assert response.status_code == 403 and "'rulesets.read'" in response.text
    with EmulatorServer(token="t", scopes="rulesets.all") as server:
        assert get(server, "/rulesets").status_code == 200


def test_authorization_meta_follows_the_scopes(api: Api, read_only: EmulatorServer) -> None:
    api.create("Mine")
    full = api.get("/rulesets", params={"provideAuthorizationMeta": "true"}).json()
    assert full["data"][0]["meta"] == {"canWrite": True, "canDelete": True}
    assert "meta" not in api.get("/rulesets").json()["data"][0]
    sequences = get(read_only, "/sequences", provideAuthorizationMeta="true").json()
    assert {json.dumps(s["meta"]) for s in sequences["data"]} == {
        json.dumps({"canWrite": False, "canDelete": False})
    }
    with EmulatorServer(token="t", scopes="rulesets.read rulesets.write") as server:
        send(
            server, "POST", "/rulesets", {"data": {"type": "ruleset", "attributes": {"name": "x"}}}
        )
        meta = get(server, "/rulesets", provideAuthorizationMeta="true").json()["data"][0]["meta"]
        assert meta == {"canWrite": True, "canDelete": False}


def test_sequences_list_filter_get_and_assign_a_ruleset(api: Api) -> None:
    listed = api.get("/sequences").json()["data"]
    assert len(listed) >= 3 and all(s["type"] == "sequence" for s in listed)
    assert all(s["relationships"]["ruleset"]["data"] is None for s in listed)
    ruleset = api.create("Inbound")
    target = listed[0]["id"]
    body = {
        "data": {
            "type": "sequence",
            "id": target,
            "relationships": {"ruleset": {"data": {"type": "ruleset", "id": ruleset["id"]}}},
        }
    }
    patched = api.patch(f"/sequences/{target}", body)
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["relationships"]["ruleset"]["data"]["id"] == ruleset["id"]
    using = api.get("/sequences", params={"filter[ruleset][id]": str(ruleset["id"])}).json()
    assert [s["id"] for s in using["data"]] == [target]
    by_sequence = api.get("/rulesets", params={"filter[sequences][id]": f"{target},999"})
    assert [r["id"] for r in by_sequence.json()["data"]] == [ruleset["id"]]
    related = ruleset["relationships"]["sequences"]["links"]["related"]
    assert [s["id"] for s in api.get(related).json()["data"]] == [target]
    # other attributes are read-only here; deleting the ruleset detaches it
    rename = {"data": {"type": "sequence", "id": target, "attributes": {"name": "x"}}}
    assert api.patch(f"/sequences/{target}", rename).status_code == 422
    api.delete(f"/rulesets/{ruleset['id']}")
    after = api.get(f"/sequences/{target}").json()["data"]
    assert after["relationships"]["ruleset"]["data"] is None
    assert api.delete(f"/sequences/{target}").status_code == 405


def test_seeded_sequences(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "rulesets: [{id: 7, attributes: {name: Outbound}}]\n"
        "sequences:\n"
        "  - {id: 3, attributes: {name: Cold},"
        " relationships: {ruleset: {data: {type: ruleset, id: 7}}}}\n"
        "  - {attributes: {name: Warm}, relationships: {ruleset: {data: null}}}\n",
        encoding="utf-8",
    )
    with EmulatorServer(token="t", seed_path=seed) as server:
        rows = get(server, "/sequences", **{"filter[ruleset][id]": "7"}).json()["data"]
        assert [(s["id"], s["attributes"]["name"]) for s in rows] == [(3, "Cold")]
        assert len(get(server, "/sequences").json()["data"]) == 2


def test_rate_limit_is_per_user_across_tokens() -> None:
    with EmulatorServer(
        token="static",
        oauth_client_id="cid",
        oauth_client_secret="s",
        oauth_refresh_token="r0",
    ) as server:
        minted = requests.post(
            f"{server.url}/oauth/token",
            data={
                "grant_type": "refresh_token",
                "client_id": "cid",
                "client_secret": "s",
                "refresh_token": "r0",
                "redirect_uri": "https://example.com/callback",
            },
            timeout=10,
        )
        assert minted.status_code == 200, minted.text
        reply = minted.json()
        assert {"scope", "created_at", "expires_in", "refresh_token"} <= set(reply)
        assert "rulesets.all" in reply["scope"].split()
        assert abs(reply["created_at"] - time.time()) < 60
        requests.post(
            f"{server.url}/_emulator/faults",
            json={"rate_limit": {"limit": 3, "window_s": 60}},
            headers={"Authorization": "Bearer static"},
            timeout=10,
        )
        remaining = [
            get(server, "/stages", token=t).headers["X-RateLimit-Remaining"]
            for t in ("static", reply["access_token"], "static")
        ]
        assert remaining == ["2", "1", "0"]
        refused = get(server, "/stages", token=reply["access_token"])
        assert refused.status_code == 429
        assert refused.headers["Retry-After"] == refused.headers["X-RateLimit-Reset"]
        assert refused.json()["errors"][0]["id"] == "rateLimitExceeded"


def test_refresh_tokens_live_14_days_and_100_newer() -> None:
    now = [1_000_000.0]
    issuer = OAuthIssuer(
        client_id="c",
        client_secret="s",
        refresh_token="r0",
        scopes="rulesets.read",
        mint_interval_s=60,
        clock=lambda: now[0],
    )

    def mint(refresh: str) -> Any:
        form = {"grant_type": "refresh_token", "client_id": "c", "client_secret": "s"}
        return issuer.mint({**form, "refresh_token": refresh})

    issued: list[Any] = []
    for _ in range(101):
        answer = mint(issued[-1] if issued else "r0")
        assert answer.status == 200, answer.body
        issued.append(answer.body["refresh_token"])
        assert mint(issued[-1]).status == 429  # one mint a minute
        now[0] += 61
    assert mint("r0").status == 400  # 101 newer exist
    assert mint(issued[0]).status == 400  # 100 newer exist
    assert mint(issued[1]).status == 200  # 99 newer: one of the 100 active
    now[0] += 14 * 86400
    assert mint(issued[-1]).status == 400  # 14 days old
    assert issuer.accepts(issued[-1]) is False


def test_maintenance_fault(api: Api) -> None:
    api.faults(maintenance_s=30)
    response = api.get("/rulesets")
    assert response.status_code == 503
    assert response.json()["errors"][0]["id"] == "scheduledServerMaintenance"
    end = datetime.strptime(response.headers["Retry-After"], "%Y-%m-%dT%H:%M:%SZ")
    left = end.replace(tzinfo=timezone.utc).timestamp() - time.time()
    assert 20 <= left <= 31
    assert "X-RateLimit-Limit" in response.headers
    api.faults()
    assert api.get("/rulesets").status_code == 200


def test_chunked_bodies_are_capped(api: Api) -> None:
    host, port = api.server.host, api.server.port

    def chunks() -> Iterator[bytes]:
        yield b'{"data": {"type": "ruleset", "attributes": {"name": "'
        for _ in range(1200):
            yield b"x" * 1000
        yield b'"}}}'

    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request(
        "POST",
        "/api/v2/rulesets",
        body=chunks(),
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": JSONAPI},
        encode_chunked=True,
    )
    answer = connection.getresponse()
    assert answer.status == 413
    assert json.loads(answer.read())["errors"][0]["id"] == "requestTooLarge"
    connection.close()
    assert api.get("/rulesets").json()["data"] == []


def test_a_locked_database_is_an_answer_not_a_traceback(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "local.sqlite"
    server = start_embedded(db)
    try:
        holder = sqlite3.connect(db, timeout=0)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            with caplog.at_level(logging.WARNING):
                response = send(
                    server,
                    "POST",
                    "/rulesets",
                    {"data": {"type": "ruleset", "attributes": {"name": "x"}}},
                    token=server.token,
                )
            assert response.status_code == 503
            assert "locked" in response.json()["errors"][0]["detail"]
        finally:
            holder.rollback()
            holder.close()
    finally:
        server.stop()
    # A database another process holds while it is being created: a one-line reason.
    fresh = tmp_path / "fresh.sqlite"
    holder = sqlite3.connect(fresh, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE other (x)")
    try:
        with pytest.raises(EmulatorStartError, match=r"fresh\.sqlite: database is locked"):
            start_embedded(fresh).stop()
    finally:
        holder.rollback()
        holder.close()
    captured = capfd.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
