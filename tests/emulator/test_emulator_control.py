"""Control routes (stats, faults, reset), rate limiting, OAuth and concurrency."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from rulesync.emulator import EmulatorServer
from tests.conftest import Api


def count(api: Api) -> int:
    response = api.get("/rulesets", params={"count": "true"})
    assert response.status_code == 200, response.text
    total: int = response.json()["meta"]["count"]
    return total


def test_stats_count_route_templates_not_control_requests(api: Api) -> None:
    created = api.create("S")
    api.get(f"/rulesets/{created['id']}")
    api.get(f"/rulesets/{created['id'] + 100}")
    api.patch(
        f"/rulesets/{created['id']}",
        {"data": {"type": "ruleset", "id": created["id"], "attributes": {}}},
    )
    api.get("/stages/1")
    api.get("/users", token=None)
    api.delete(f"/rulesets/{created['id']}")
    api.stats()
    api.control("GET", "faults")
    stats = api.stats()
    assert stats["by_route"] == {
        "DELETE /api/v2/rulesets/{id}": 1,
        "GET /api/v2/rulesets/{id}": 2,
        "GET /api/v2/stages/{id}": 1,
        "GET /api/v2/users": 1,
        "PATCH /api/v2/rulesets/{id}": 1,
        "POST /api/v2/rulesets": 1,
    }
    assert (stats["total"], stats["reads"], stats["writes"]) == (7, 4, 3)


def test_control_routes_need_the_token(api: Api) -> None:
    for method, path in (("GET", "stats"), ("POST", "faults"), ("POST", "reset")):
        response = requests.request(method, f"{api.root}/_emulator/{path}", json={}, timeout=5)
        assert response.status_code == 401


def test_injected_errors_answer_before_touching_state(api: Api) -> None:
    existing = api.create("Keep", {"smsOptOutAction": "a"})
    api.faults(error_rate=1.0, error_statuses=[503, 500])
    patch = {"data": {"type": "ruleset", "id": existing["id"], "attributes": {"name": "Changed"}}}
    responses = [
        api.post("/rulesets", {"data": {"type": "ruleset", "attributes": {"name": "New"}}}),
        api.patch(f"/rulesets/{existing['id']}", patch),
        api.delete(f"/rulesets/{existing['id']}"),
        api.get("/rulesets"),
    ]
    for response in responses:
        assert response.status_code in (500, 503)
        assert response.headers["Content-Type"] == "application/vnd.api+json"
        assert response.json()["errors"][0]["detail"]
        if response.status_code == 503:
            assert response.headers["Retry-After"] == "1"
    assert api.stats()["by_route"]["POST /api/v2/rulesets"] == 2  # the setup's create too
    api.faults()
    assert count(api) == 1
    assert api.get(f"/rulesets/{existing['id']}").json()["data"] == existing


def test_seeded_faults_are_reproducible(api: Api) -> None:
    def statuses() -> list[int]:
        api.faults(error_rate=0.5, error_statuses=[500, 502], seed=7)
        return [api.get("/stages").status_code for _ in range(20)]

    first = statuses()
    assert first == statuses()
    assert {200, 500, 502} <= set(first)


def test_latency(api: Api) -> None:
    api.faults(latency_ms=150)
    started = time.monotonic()
    assert api.get("/stages").status_code == 200
    assert time.monotonic() - started >= 0.15


def test_dropped_response_commits_then_the_client_sees_a_connection_error(
    api: Api, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    api.faults(drop_after_commit_rate=1.0)
    body = {"data": {"type": "ruleset", "attributes": {"name": "Lost answer"}}}
    with pytest.raises(requests.ConnectionError):
        api.post("/rulesets", body)
    with pytest.raises(requests.ConnectionError):
        api.get("/rulesets")
    api.faults()
    found = api.get("/rulesets", params={"filter[name]": "Lost answer"}).json()["data"]
    assert len(found) == 1
    assert api.stats()["by_route"]["POST /api/v2/rulesets"] == 1
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_rate_limit_fault_gives_429_with_retry_after(api: Api) -> None:
    api.faults(rate_limit={"limit": 3, "window_s": 60})
    for remaining in ("2", "1", "0"):
        response = api.get("/stages")
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == remaining
    response = api.get("/stages")
    assert response.status_code == 429
    assert response.json()["errors"][0]["id"] == "rateLimitExceeded"
    # On 429 Outreach's Retry-After is an alias of X-RateLimit-Reset: the reset, epoch seconds.
    assert response.headers["Retry-After"] == response.headers["X-RateLimit-Reset"]
    assert 0 <= int(response.headers["X-RateLimit-Reset"]) - time.time() <= 61
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert api.stats()["total"] == 4
    api.faults()
    assert api.get("/stages").headers["X-RateLimit-Limit"] == "10000"


def test_rate_limit_window_resets(api: Api) -> None:
    api.faults(rate_limit={"limit": 1, "window_s": 0.5})
    assert api.get("/stages").status_code == 200
    assert api.get("/stages").status_code == 429
    time.sleep(0.55)
    assert api.get("/stages").status_code == 200


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 2},
        {"error_rate": "x"},
        {"latency_ms": -1},
        {"boom": 1},
        {"error_statuses": [200]},
        {"error_statuses": []},
        {"rate_limit": {"limit": -1}},
        {"rate_limit": 5},
        {"seed": "x"},
        [],
        "x",
    ],
)
def test_bad_fault_settings_are_refused(api: Api, faults: Any) -> None:
    response = api.control("POST", "faults", faults)
    assert response.status_code in (400, 422)
    assert response.json()["errors"][0]["detail"]
    assert api.control("GET", "faults").json() == {"faults": {}}


def test_faults_do_not_apply_to_control_routes(api: Api) -> None:
    api.faults(error_rate=1.0, drop_after_commit_rate=1.0)
    assert api.control("GET", "stats").status_code == 200
    assert api.control("GET", "faults").json()["faults"]["error_rate"] == 1.0


def test_reset_restores_seed_and_clears_everything(api: Api) -> None:
    api.create("Gone")
    api.faults(error_rate=1.0)
    response = api.control("POST", "reset")
    assert response.status_code == 200 and response.json()["rulesets"] == 0
    assert api.control("GET", "faults").json() == {"faults": {}}
    assert api.stats() == {"total": 0, "reads": 0, "writes": 0, "by_route": {}}
    assert count(api) == 0
    assert api.create("First again")["id"] == 1


def test_parallel_creates_and_patches_lose_nothing(api: Api) -> None:
    def create(worker: int) -> list[int]:
        return [api.create(f"w{worker}-{i}")["id"] for i in range(25)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [i for chunk in pool.map(create, range(8)) for i in chunk]
    assert len(set(ids)) == 200 and count(api) == 200

    target = ids[0]
    fields = [
        "callOptOutAction",
        "emailOptOutAction",
        "smsOptOutAction",
        "meetingBookedAction",
        "smsReceivedAction",
        "permitDuplicateProspects",
        "sequenceExclusivity",
        "includeUnsubscribeLinks",
    ]
    values: dict[str, Any] = {
        "permitDuplicateProspects": "allow",
        "sequenceExclusivity": "none",
        "includeUnsubscribeLinks": True,
    }

    def patch(field: str) -> int:
        value = values.get(field, "v")
        body = {"data": {"type": "ruleset", "id": target, "attributes": {field: value}}}
        return api.patch(f"/rulesets/{target}", body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(patch, fields)) == {200}
    final = api.get(f"/rulesets/{target}").json()["data"]["attributes"]
    assert all(final[f] == values.get(f, "v") for f in fields)


@pytest.fixture
def oauth_server() -> Any:
    with EmulatorServer(
        token="static",
        oauth_client_id="cid",
        oauth_client_secret="secret",
        oauth_refresh_token="refresh-0",
    ) as server:
        yield server


def mint(server: EmulatorServer, refresh: str, **overrides: str) -> requests.Response:
    form = {
        "grant_type": "refresh_token",
        "client_id": "cid",
        "client_secret": "secret",
        "refresh_token": refresh,
        **overrides,
    }
    return requests.post(f"{server.url}/oauth/token", data=form, timeout=5)


def test_oauth_refresh_flow(oauth_server: EmulatorServer) -> None:
    assert mint(oauth_server, "refresh-0", client_secret="nope").status_code == 401
    assert mint(oauth_server, "refresh-0", grant_type="password").status_code == 400
    response = mint(oauth_server, "refresh-0")
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 7200
    assert token["refresh_token"] != "refresh-0" and token["access_token"]
    api_response = requests.get(
        f"{oauth_server.api_url}/rulesets",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert api_response.status_code == 200
    again = mint(oauth_server, token["refresh_token"])
    assert again.status_code == 429 and 1 <= int(again.headers["Retry-After"]) <= 60
    # Earlier refresh tokens stay valid (until 14 days old or 100 newer exist): the refusal
    # is the one-mint-per-minute limit, not the token.
    earlier = mint(oauth_server, "refresh-0")
    assert earlier.status_code == 429
    unknown = mint(oauth_server, "never-issued")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
    stats = requests.get(
        f"{oauth_server.url}/_emulator/stats", headers={"Authorization": "Bearer static"}, timeout=5
    ).json()
    assert stats["by_route"]["POST /oauth/token"] == 6


def test_oauth_unconfigured_is_refused(api: Api) -> None:
    response = mint(api.server, "anything")
    assert response.status_code == 400 and response.json()["error"] == "invalid_client"


def test_server_survives_a_client_that_hangs_up(api: Api) -> None:
    import socket

    host, port = api.server.host, api.server.port
    for payload in (b"", b"GET /api/v2/rulesets HTTP/1.1\r\n", b"\x00\xff garbage\r\n\r\n"):
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(payload)
    assert api.get("/stages").status_code == 200
    assert threading.active_count() < 50
