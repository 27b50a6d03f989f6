"""Shared fixtures: one emulator over real HTTP for the session, reset before each test."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from rulesync.emulator import EmulatorServer

TOKEN = "test-token"
JSONAPI_TYPE = "application/vnd.api+json"


class Api:
    """A thin HTTP helper over the emulator: sends the token and the JSON:API content type."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.base = server.api_url
        self.root = server.url

    def headers(self, token: str | None = TOKEN, content_type: str | None = None) -> dict[str, str]:
        headers = {"Accept": JSONAPI_TYPE}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if content_type is not None:
            headers["Content-Type"] = content_type
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        token: str | None = TOKEN,
        content_type: str | None = JSONAPI_TYPE,
        data: bytes | str | None = None,
    ) -> requests.Response:
        url = path if path.startswith("http") else self.base + path
        if body is not None:
            data = json.dumps(body)
        return requests.request(
            method,
            url,
            params=params,
            data=data,
            headers=self.headers(token, content_type if data is not None else None),
            timeout=10,
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, body=body, **kwargs)

    def patch(self, path: str, body: Any, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, body=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)

    def create(
        self,
        name: str,
        attributes: dict[str, Any] | None = None,
        relationships: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "ruleset",
            "attributes": {"name": name, **(attributes or {})},
        }
        if relationships is not None:
            data["relationships"] = relationships
        response = self.post("/rulesets", {"data": data})
        assert response.status_code == 201, response.text
        resource: dict[str, Any] = response.json()["data"]
        return resource

    def control(self, method: str, path: str, body: Any = None) -> requests.Response:
        return requests.request(
            method,
            f"{self.root}/_emulator/{path}",
            json=body,
            headers=self.headers(),
            timeout=10,
        )

    def faults(self, **faults: Any) -> None:
        response = self.control("POST", "faults", faults)
        assert response.status_code == 200, response.text

    def stats(self) -> dict[str, Any]:
        response = self.control("GET", "stats")
        assert response.status_code == 200, response.text
        stats: dict[str, Any] = response.json()
        return stats


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(token=TOKEN) as server:
        yield server


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> EmulatorServer:
    """The session's emulator, reset to its seeded state (data, stats, faults)."""
    response = requests.post(
        f"{emulator_server.url}/_emulator/reset",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    response.raise_for_status()
    return emulator_server


@pytest.fixture
def api(emulator: EmulatorServer) -> Api:
    return Api(emulator)
