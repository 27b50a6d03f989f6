"""Seed files (YAML and JSON, up to 10,000 rulesets) and persistent database files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from rulesync.emulator import EmulatorServer, start_embedded
from rulesync.emulator.seed import SeedError

HEADERS = {"Authorization": "Bearer t"}

SEED_YAML = """
stages:
  - {id: 10, name: Lead}
  - {id: 11, name: Customer}
users:
  - {id: 5, email: owner@acme.example, firstName: Olive, lastName: Owner}
rulesets:
  - id: 40
    attributes: {name: Seeded, callOptOutAction: never, includeUnsubscribeLinks: true}
    relationships:
      owner: {data: {type: user, id: 5}}
      repliedStage: {data: {type: stage, id: 11}}
      bouncedStage: {data: null}
  - attributes: {name: No id}
"""


def get(server: EmulatorServer, path: str, **params: Any) -> Any:
    response = requests.get(server.api_url + path, params=params, headers=HEADERS, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_yaml_seed_replaces_given_parts_and_keeps_the_rest(tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED_YAML)
    with EmulatorServer(token="t", seed_path=seed) as server:
        assert [s["attributes"]["name"] for s in get(server, "/stages")["data"]] == [
            "Lead",
            "Customer",
        ]
        assert [u["id"] for u in get(server, "/users")["data"]] == [5]
        assert [p["attributes"]["name"] for p in get(server, "/taskPriorities")["data"]] == [
            "High",
            "Medium",
            "Low",
        ]
        rulesets = get(server, "/rulesets")["data"]
        assert [r["id"] for r in rulesets] == [40, 41]
        seeded = rulesets[0]
        # Seed values are trusted: a value the API would refuse today is kept as it is.
        assert seeded["attributes"]["callOptOutAction"] == "never"
        assert seeded["relationships"]["owner"] == {"data": {"type": "user", "id": 5}}
        assert seeded["relationships"]["repliedStage"] == {"data": {"type": "stage", "id": 11}}
        assert seeded["relationships"]["completedStage"] == {"data": None}
        requests.delete(f"{server.api_url}/rulesets/40", headers=HEADERS, timeout=5)
        requests.post(f"{server.url}/_emulator/reset", headers=HEADERS, timeout=5)
        assert [r["id"] for r in get(server, "/rulesets")["data"]] == [40, 41]


def test_json_seed_of_10000_rulesets(tmp_path: Path) -> None:
    rulesets = [
        {
            "attributes": {
                "name": f"Ruleset {i:05d}",
                "clicksNeededBeforeCallTaskCreated": i,
                "sequenceExclusivity": "none",
            },
            "relationships": {"owner": {"data": {"type": "user", "id": 1 + i % 3}}},
        }
        for i in range(10_000)
    ]
    seed = tmp_path / "big.json"
    seed.write_text(json.dumps({"rulesets": rulesets}))
    with EmulatorServer(token="t", seed_path=seed) as server:
        params: dict[str, Any] = {"page[size]": 1000, "count": "true"}
        body = get(server, "/rulesets", **params)
        assert body["meta"]["count"] == 10_000
        rows = list(body["data"])
        pages = 1
        while "next" in body.get("links", {}):
            response = requests.get(body["links"]["next"], headers=HEADERS, timeout=10)
            body = response.json()
            rows.extend(body["data"])
            pages += 1
        assert pages == 10 and len(rows) == 10_000
        assert [r["id"] for r in rows] == list(range(1, 10_001))
        sample = rows[4321]
        assert sample["attributes"]["name"] == "Ruleset 04321"
        assert sample["attributes"]["clicksNeededBeforeCallTaskCreated"] == 4321
        assert sample["relationships"]["owner"]["data"] == {"type": "user", "id": 1 + 4321 % 3}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("stages: [", "not valid YAML"),
        ("- a\n- b\n", "must be a mapping"),
        ("prospects: []", "unknown key 'prospects'"),
        ("stages: [{id: x, name: A}]", "stages[0]: id must be a positive integer"),
        ("stages: [{id: 1, name: A}, {id: 1, name: B}]", "duplicate id 1"),
        ("users: [{id: 1}]", "email must be a non-empty string"),
        ("rulesets: [{attributes: {name: A, colour: red}}]", "unknown attribute 'colour'"),
        ("rulesets: [{attributes: {callOptOutAction: x}}]", "attributes.name must be a string"),
        (
            "rulesets: [{attributes: {name: A},"
            " relationships: {owner: {data: {type: stage, id: 1}}}}]",
            "relationships.owner must be",
        ),
        (
            "rulesets: [{id: 3, attributes: {name: A}}, {id: 3, attributes: {name: B}}]",
            "duplicate ids",
        ),
    ],
)
def test_bad_seed_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(text)
    with pytest.raises(SeedError) as caught:
        EmulatorServer(token="t", seed_path=seed)
    assert str(caught.value).startswith(str(seed)) and message in str(caught.value)


def test_missing_and_bad_json_seed(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read seed file"):
        EmulatorServer(token="t", seed_path=tmp_path / "absent.yaml")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(SeedError, match="not valid JSON"):
        EmulatorServer(token="t", seed_path=bad)


def test_database_file_keeps_state_between_runs(tmp_path: Path) -> None:
    db = tmp_path / "state" / "local.sqlite"
    server = start_embedded(db)
    try:
        assert server.url.startswith("http://127.0.0.1:") and len(server.token) >= 32
        response = requests.post(
            f"{server.api_url}/rulesets",
            data=json.dumps({"data": {"type": "ruleset", "attributes": {"name": "Kept"}}}),
            headers={
                "Authorization": f"Bearer {server.token}",
                "Content-Type": "application/vnd.api+json",
            },
            timeout=5,
        )
        assert response.status_code == 201
    finally:
        server.stop()
    with EmulatorServer(token="t", db_path=db) as again:
        assert [r["attributes"]["name"] for r in get(again, "/rulesets")["data"]] == ["Kept"]
        assert len(get(again, "/stages")["data"]) == 8
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"rulesets": [{"attributes": {"name": "From seed"}}]}))
    with EmulatorServer(token="t", db_path=db, seed_path=seed) as seeded:
        assert [r["attributes"]["name"] for r in get(seeded, "/rulesets")["data"]] == ["From seed"]
    with EmulatorServer(token="t", db_path=db) as later:
        requests.post(f"{later.url}/_emulator/reset", headers=HEADERS, timeout=5)
        assert [r["attributes"]["name"] for r in get(later, "/rulesets")["data"]] == ["From seed"]
