"""The API client against the emulator over HTTP: pagination, retries, rate limits, auth."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from rulesync.auth import OAuthRefresh, StaticToken
from rulesync.client import Client
from rulesync.emulator.server import EmulatorServer
from rulesync.errors import ApiError, AuthError, OutcomeUnknown
from tests.helpers import Org


@pytest.fixture
def org(emulator: Any) -> Org:
    return Org(emulator.url, emulator.api_url, emulator.token)


@pytest.fixture
def client(emulator: Any) -> Client:
    return Client(emulator.api_url, StaticToken(emulator.token, origin="test"), backoff_factor=0.01)


def body(name: str, **attributes: Any) -> dict[str, Any]:
    return {"type": "ruleset", "attributes": {"name": name, **attributes}}


def test_lists_a_thousand_a_page_following_next(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(
        json.dumps({"rulesets": [{"attributes": {"name": f"R{i}"}} for i in range(2001)]})
    )
    with EmulatorServer(token="t", seed_path=seed) as server:
        client = Client(server.api_url, StaticToken("t", origin="test"))
        items = client.list_all("rulesets")
        assert len(items) == 2001 and len({i["id"] for i in items}) == 2001
        stats = Org(server.url, server.api_url, "t").stats()
        assert stats["by_route"] == {"GET /api/v2/rulesets": 3}
        assert client.requests == 3


def test_filters_and_ids_in_chunks(client: Client, org: Org) -> None:
    ids = [org.create(f"R{i}") for i in range(5)]
    org.create("R1")
    assert len(client.list_all("rulesets", {"name": "R1"})) == 2
    found = client.list_by_ids("rulesets", ids[:3])
    assert sorted(int(r["id"]) for r in found) == ids[:3]


def test_reads_are_retried_through_injected_5xx(client: Client, org: Org) -> None:
    for i in range(3):
        org.create(f"R{i}")
    org.faults(error_rate=0.6, error_statuses=[500, 502], seed=3)  # 503 carries Retry-After: 1
    for _ in range(5):
        assert len(client.list_all("rulesets")) == 3
    org.faults()
    gets = org.route("GET /api/v2/rulesets")
    assert client.requests == gets  # every attempt is counted, retries included
    assert gets > 5


def test_reads_survive_dropped_responses(client: Client, org: Org) -> None:
    org.create("R")
    org.faults(drop_after_commit_rate=0.5, seed=1)
    for _ in range(4):
        assert [r["attributes"]["name"] for r in client.list_all("rulesets")] == ["R"]


def test_updates_are_retried_after_a_lost_answer(client: Client, org: Org) -> None:
    rid = org.create("R", includeUnsubscribeLinks=False)
    org.faults(drop_after_commit_rate=1.0)
    with pytest.raises(ApiError, match="cannot reach the API"):
        client.update(
            "rulesets",
            rid,
            {"type": "ruleset", "id": rid, "attributes": {"includeUnsubscribeLinks": True}},
        )
    org.faults()
    # every PATCH was committed: PATCH is idempotent, so retrying it was safe
    assert org.by_name()["R"]["attributes"]["includeUnsubscribeLinks"] is True  # type: ignore[index]
    assert org.route("PATCH /api/v2/rulesets/{id}") == 9  # the first try and 8 retries


def test_creates_are_never_retried_blindly(client: Client, org: Org) -> None:
    org.faults(error_rate=1.0, error_statuses=[503])
    with pytest.raises(OutcomeUnknown, match="503"):
        client.create("rulesets", body("R"))
    assert org.route("POST /api/v2/rulesets") == 1
    org.faults(drop_after_commit_rate=1.0)
    with pytest.raises(OutcomeUnknown, match="no answer"):
        client.create("rulesets", body("Dropped"))
    org.faults()
    assert org.route("POST /api/v2/rulesets") == 2
    assert org.names() == ["Dropped"]  # committed once, never twice


def test_rate_limited_requests_wait_for_retry_after(client: Client, org: Org) -> None:
    org.faults(rate_limit={"limit": 3, "window_s": 1})
    started = time.monotonic()
    for i in range(7):
        client.create("rulesets", body(f"R{i}"))  # a 429 is safe to retry, even for POST
    assert len(client.list_all("rulesets")) == 7
    assert time.monotonic() - started >= 1.0
    assert len(org.names()) == 7


def test_a_retry_after_beyond_the_bound_fails_fast(client: Client, org: Org) -> None:
    org.faults(rate_limit={"limit": 1, "window_s": 3600})
    client.list_all("rulesets")
    started = time.monotonic()
    with pytest.raises(ApiError, match="rate limit is used up until"):
        client.list_all("rulesets")
    assert time.monotonic() - started < 5


def test_writes_are_paced_when_the_budget_runs_low(client: Client, org: Org) -> None:
    org.faults(rate_limit={"limit": 24, "window_s": 2})
    for i in range(30):
        client.create("rulesets", body(f"R{i}"))
    assert org.route("POST /api/v2/rulesets") == 30  # paced: not one request was refused


def test_api_errors_carry_method_path_status_and_detail(client: Client, org: Org) -> None:
    rid = org.create("R")
    with pytest.raises(ApiError) as caught:
        client.update(
            "rulesets",
            rid,
            {"type": "ruleset", "id": rid, "attributes": {"callOptOutAction": "never"}},
        )
    err = caught.value
    assert err.status == 422 and err.method == "PATCH"
    assert err.url == f"/api/v2/rulesets/{rid}"
    assert str(err).startswith(f"PATCH /api/v2/rulesets/{rid}: 422 ")
    assert "(at /data/attributes/callOptOutAction)" in str(err)
    assert client.delete("rulesets", rid) is True
    assert client.delete("rulesets", rid) is False  # 404: already gone counts as done


def test_wrong_token_is_an_auth_error(emulator: Any) -> None:
    client = Client(emulator.api_url, StaticToken("nope", origin="X"))
    with pytest.raises(AuthError, match="401") as caught:
        client.list_all("rulesets")
    assert "nope" not in str(caught.value)


def test_oauth_mints_refreshes_on_401_and_rotates(tmp_path: Path, monkeypatch: Any) -> None:
    out = tmp_path / "refresh.txt"
    monkeypatch.setenv("RULESYNC_REFRESH_TOKEN_OUT", str(out))
    with EmulatorServer(
        token="static", oauth_client_id="cid", oauth_client_secret="sec", oauth_refresh_token="r0"
    ) as server:
        tokens = OAuthRefresh(
            token_url=f"{server.url}/oauth/token",
            client_id="cid",
            client_secret="sec",
            refresh_token="r0",
        )
        client = Client(server.api_url, tokens)
        assert client.list_all("stages")
        rotated = out.read_text()
        assert rotated and rotated != "r0"
        assert oct(out.stat().st_mode & 0o777) == "0o600"
        # a second mint inside a minute is not attempted: a fresh token that is refused
        # again means the credentials are wrong, not expired
        assert tokens.refresh() is False
        bad = OAuthRefresh(
            token_url=f"{server.url}/oauth/token",
            client_id="cid",
            client_secret="wrong",
            refresh_token=rotated,
        )
        with pytest.raises(AuthError, match="refused the client id or secret"):
            bad.token()
