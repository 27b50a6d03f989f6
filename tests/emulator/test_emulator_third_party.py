"""The requests common third-party Outreach clients make, replayed against the emulator.

Open-source connectors (Airbyte's source-outreach and the connectors modelled on it, Singer
taps, integration SDKs) sync incrementally: ``filter[updatedAt]=START..inf`` (a full
timestamp or a bare date), ``sort=updatedAt``, ``page[size]=100``, ``count=false``, following
``links.next``; some send ``filter[updatedAt][gte]``/``[lt]`` windows instead. They mint
access tokens with ``grant_type=refresh_token`` and their ``redirect_uri``, form-encoded.
Before this emulator followed Outreach's filter syntax, the first of these requests got 400.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from rulesync.emulator import EmulatorServer

CLIENT = {"client_id": "app-id", "client_secret": "app-secret"}
REDIRECT = "https://integrations.example.com/oauth/callback"


@pytest.fixture
def org() -> Iterator[EmulatorServer]:
    with EmulatorServer(
        token="static",
        oauth_client_id=CLIENT["client_id"],
        oauth_client_secret=CLIENT["client_secret"],
        oauth_refresh_token="first-refresh",
    ) as server:
        yield server


def mint(server: EmulatorServer, refresh: str) -> dict[str, Any]:
    response = requests.post(
        f"{server.url}/oauth/token",
        data={
            **CLIENT,
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "redirect_uri": REDIRECT,
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    token: dict[str, Any] = response.json()
    return token


def sync(server: EmulatorServer, token: str, since: str, stream: str) -> list[dict[str, Any]]:
    """One incremental sync as the connectors run it."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    params: dict[str, Any] | None = {
        "filter[updatedAt]": f"{since}..inf",
        "sort": "updatedAt",
        "page[size]": 100,
        "count": "false",
    }
    url: str | None = f"{server.api_url}/{stream}"
    records: list[dict[str, Any]] = []
    while url:
        response = session.get(url, params=params, timeout=10)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "meta" not in body  # count=false: no count is computed
        records.extend(body["data"])
        url, params = body["links"].get("next"), None
    return records


def create(server: EmulatorServer, token: str, name: str) -> dict[str, Any]:
    response = requests.post(
        f"{server.api_url}/rulesets",
        json={"data": {"type": "ruleset", "attributes": {"name": name}}},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/vnd.api+json"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["data"]
    return created


def test_incremental_sync_with_a_minted_token(org: EmulatorServer) -> None:
    token = mint(org, "first-refresh")
    assert token["expires_in"] == 7200 and token["token_type"] == "bearer"
    access = token["access_token"]
    made = [create(org, access, f"R{i:03}") for i in range(230)]
    first = sync(org, access, "2020-01-01T00:00:00Z", "rulesets")
    assert [r["id"] for r in first] == [r["id"] for r in made]
    stamps = [r["attributes"]["updatedAt"] for r in first]
    assert stamps == sorted(stamps)
    # The next run starts at the newest updatedAt it saw (inclusive), and sees only that
    # record and what changed since.
    time.sleep(0.01)
    changed = requests.patch(
        f"{org.api_url}/rulesets/{made[5]['id']}",
        json={"data": {"type": "ruleset", "id": made[5]["id"], "attributes": {"name": "New"}}},
        headers={"Authorization": f"Bearer {access}", "Content-Type": "application/vnd.api+json"},
        timeout=10,
    )
    assert changed.status_code == 200
    second = sync(org, access, stamps[-1], "rulesets")
    assert [r["id"] for r in second][-1] == made[5]["id"]
    assert {r["id"] for r in second} <= {made[-1]["id"], made[5]["id"]} | {
        r["id"] for r in first if r["attributes"]["updatedAt"] == stamps[-1]
    }


def test_bare_dates_and_gte_lt_windows(org: EmulatorServer) -> None:
    for name in ("A", "B"):
        create(org, "static", name)
    assert len(sync(org, "static", "2020-01-01", "rulesets")) == 2
    assert len(sync(org, "static", "2020-01-01", "sequences")) == 4
    params: dict[str, str | int] = {
        "filter[updatedAt][gte]": "2020-01-01T00:00:00Z",
        "filter[updatedAt][lt]": "2999-01-01T00:00:00Z",
        "page[size]": 100,
    }
    window = requests.get(
        f"{org.api_url}/rulesets",
        params=params,
        headers={"Authorization": "Bearer static"},
        timeout=10,
    )
    assert window.status_code == 200 and len(window.json()["data"]) == 2


def test_refresh_token_rotation_as_connectors_store_it(org: EmulatorServer) -> None:
    first = mint(org, "first-refresh")
    assert first["refresh_token"] != "first-refresh"
    assert isinstance(first["created_at"], int) and first["scope"]
    too_soon = requests.post(
        f"{org.url}/oauth/token",
        data={
            **CLIENT,
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "redirect_uri": REDIRECT,
        },
        timeout=10,
    )
    assert too_soon.status_code == 429 and int(too_soon.headers["Retry-After"]) <= 60
