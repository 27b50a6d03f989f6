"""The emulator's Outreach routes over real HTTP: CRUD, validation, auth and errors."""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from rulesync.fields import ATTRIBUTES, RELATIONSHIPS
from tests.conftest import Api

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
REF = {"stage": 3, "taskPriority": 1, "user": 2}


def error_ids(response: Any) -> list[str]:
    return [e["id"] for e in response.json()["errors"]]


def pointers(response: Any) -> list[str]:
    return [e.get("source", {}).get("pointer") for e in response.json()["errors"]]


def test_reference_data_defaults(api: Api) -> None:
    stages = api.get("/stages").json()["data"]
    assert [(s["id"], s["attributes"]["name"]) for s in stages] == [
        (1, "Cold"),
        (2, "Approaching"),
        (3, "Replied"),
        (4, "Interested"),
        (5, "Not Interested"),
        (6, "Unresponsive"),
        (7, "Do Not Contact"),
        (8, "Bad Contact Info"),
    ]
    priorities = api.get("/taskPriorities").json()["data"]
    assert [(p["id"], p["attributes"]["name"], p["attributes"]["weight"]) for p in priorities] == [
        (1, "High", 3),
        (2, "Medium", 2),
        (3, "Low", 1),
    ]
    users = api.get("/users").json()["data"]
    assert [(u["id"], u["attributes"]["email"]) for u in users] == [
        (1, "ada@example.com"),
        (2, "revops@example.com"),
        (3, "sam@example.com"),
    ]
    assert all(u["attributes"]["firstName"] and u["attributes"]["lastName"] for u in users)
    assert api.get("/rulesets").json()["data"] == []


@pytest.mark.parametrize(
    ("collection", "kind", "row_id", "name"),
    [("stages", "stage", 7, "Do Not Contact"), ("taskPriorities", "taskPriority", 2, "Medium")],
)
def test_get_reference_by_id(api: Api, collection: str, kind: str, row_id: int, name: str) -> None:
    response = api.get(f"/{collection}/{row_id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    data = response.json()["data"]
    assert (data["type"], data["id"], data["attributes"]["name"]) == (kind, row_id, name)
    assert data["links"]["self"] == f"{api.base}/{collection}/{row_id}"


def test_get_user_and_filter_by_email(api: Api) -> None:
    assert api.get("/users/3").json()["data"]["attributes"]["email"] == "sam@example.com"
    found = api.get("/users", params={"filter[email]": "revops@example.com"}).json()["data"]
    assert [u["id"] for u in found] == [2]


def test_create_returns_full_resource(api: Api) -> None:
    relationships = {
        name: {"data": {"type": kind, "id": REF[kind]}} for name, kind in RELATIONSHIPS.items()
    }
    attributes = {"permitDuplicateProspects": "only_if_inactive", "applyCompletedStageIn": 3600}
    started = time.time()
    created = api.create("Inbound leads", attributes, relationships)
    assert created["type"] == "ruleset" and isinstance(created["id"], int)
    attrs = created["attributes"]
    assert set(attrs) == {"name", "createdAt", "updatedAt", *ATTRIBUTES}
    assert attrs["name"] == "Inbound leads"
    assert attrs["permitDuplicateProspects"] == "only_if_inactive"
    assert attrs["callOptOutAction"] is None
    assert ISO_Z.match(attrs["createdAt"]) and attrs["createdAt"] == attrs["updatedAt"]
    created_at = datetime.strptime(attrs["createdAt"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert abs(created_at.replace(tzinfo=timezone.utc).timestamp() - started) < 5
    rels = created["relationships"]
    assert set(RELATIONSHIPS) <= set(rels)
    for name, kind in RELATIONSHIPS.items():
        assert rels[name] == {"data": {"type": kind, "id": REF[kind]}}
    assert created["links"]["self"] == f"{api.base}/rulesets/{created['id']}"
    assert api.get(f"/rulesets/{created['id']}").json()["data"] == created


def test_create_without_relationships_has_them_all_null(api: Api) -> None:
    created = api.create("Bare")
    for name in RELATIONSHIPS:
        assert created["relationships"][name] == {"data": None}


def test_names_need_not_be_unique(api: Api) -> None:
    first, second = api.create("Same"), api.create("Same")
    assert first["id"] != second["id"]
    found = api.get("/rulesets", params={"filter[name]": "Same"}).json()["data"]
    assert sorted(r["id"] for r in found) == sorted([first["id"], second["id"]])


def test_patch_is_partial_and_bumps_updated_at(api: Api) -> None:
    owner = {"owner": {"data": {"type": "user", "id": 1}}}
    created = api.create(
        "Outbound", {"includeUnsubscribeLinks": True, "smsOptOutAction": "x"}, owner
    )
    time.sleep(0.01)
    body = {
        "data": {
            "type": "ruleset",
            "id": created["id"],
            "attributes": {"includeUnsubscribeLinks": False},
            "relationships": {
                "owner": {"data": None},
                "repliedStage": {"data": {"type": "stage", "id": 3}},
            },
        }
    }
    response = api.patch(f"/rulesets/{created['id']}", body)
    assert response.status_code == 200, response.text
    updated = response.json()["data"]
    assert updated["attributes"]["includeUnsubscribeLinks"] is False
    assert updated["attributes"]["smsOptOutAction"] == "x"
    assert updated["relationships"]["owner"] == {"data": None}
    assert updated["relationships"]["repliedStage"] == {"data": {"type": "stage", "id": 3}}
    assert updated["attributes"]["createdAt"] == created["attributes"]["createdAt"]
    assert updated["attributes"]["updatedAt"] > created["attributes"]["updatedAt"]
    assert api.get(f"/rulesets/{created['id']}").json()["data"] == updated


def test_patch_attribute_to_null_and_rename(api: Api) -> None:
    created = api.create("Old", {"meetingBookedAction": "finish"})
    body = {
        "data": {
            "type": "ruleset",
            "id": created["id"],
            "attributes": {"name": "New", "meetingBookedAction": None},
        }
    }
    updated = api.patch(f"/rulesets/{created['id']}", body).json()["data"]
    assert updated["attributes"]["name"] == "New"
    assert updated["attributes"]["meetingBookedAction"] is None
    assert api.get("/rulesets", params={"filter[name]": "Old"}).json()["data"] == []


def test_delete_then_404(api: Api) -> None:
    created = api.create("Doomed")
    response = api.delete(f"/rulesets/{created['id']}")
    assert response.status_code == 204 and response.content == b""
    for response in (
        api.get(f"/rulesets/{created['id']}"),
        api.delete(f"/rulesets/{created['id']}"),
        api.patch(
            f"/rulesets/{created['id']}",
            {"data": {"type": "ruleset", "id": created["id"], "attributes": {}}},
        ),
    ):
        assert response.status_code == 404
        assert error_ids(response) == ["resourceNotFound"]


def test_ids_are_not_reused_after_delete(api: Api) -> None:
    first = api.create("One")
    api.delete(f"/rulesets/{first['id']}")
    assert api.create("Two")["id"] > first["id"]


@pytest.mark.parametrize(
    "path", ["/rulesets", "/rulesets/1", "/stages", "/users/1", "/taskPriorities"]
)
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_missing_or_wrong_token_is_401(api: Api, path: str, token: str | None) -> None:
    response = api.get(path, token=token)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/vnd.api+json"
    (error,) = response.json()["errors"]
    assert error["id"] == "unauthorized" and error["title"] and error["detail"]


def test_writes_need_the_jsonapi_content_type(api: Api) -> None:
    body = {"data": {"type": "ruleset", "attributes": {"name": "X"}}}
    for content_type in ("application/json", "text/plain", None):
        response = api.request("POST", "/rulesets", body=body, content_type=content_type)
        assert response.status_code == 415, content_type
        assert error_ids(response) == ["unsupportedMediaType"]
    created = api.create("Y")
    response = api.request(
        "PATCH",
        f"/rulesets/{created['id']}",
        content_type="application/json",
        body={"data": {"type": "ruleset", "id": created["id"]}},
    )
    assert response.status_code == 415
    assert api.get("/rulesets", params={"count": "true"}).json()["meta"]["count"] == 1


INVALID_ATTRIBUTES = [
    ("callOptOutAction", "never"),
    ("emailOptOutAction", 12),
    ("meetingBookedAction", "x" * 256),
    ("permitDuplicateProspects", "sometimes"),
    ("sequenceExclusivity", "ALL_SEQUENCES"),
    ("includeUnsubscribeLinks", "yes"),
    ("stepOverridesEnabled", 1),
    ("autoResumeOotoProspectsIn", -1),
    ("applyCompletedStageIn", "3d"),
    ("clicksNeededBeforeCallTaskCreated", 1.5),
    ("opensNeededBeforeCallTaskCreated", True),
    ("minimumProspectTouchedInterval", 2**40),
    ("name", "n" * 256),
    ("name", ""),
    ("name", None),
    ("createdAt", "2024-01-01T00:00:00Z"),
    ("updatedAt", None),
    ("colour", "red"),
]


@pytest.mark.parametrize(("field", "value"), INVALID_ATTRIBUTES)
def test_invalid_attribute_is_422_with_pointer(api: Api, field: str, value: Any) -> None:
    attributes = {"name": "Valid", field: value}
    response = api.post("/rulesets", {"data": {"type": "ruleset", "attributes": attributes}})
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["id"] == "validationError" and error["title"] == "Validation Error"
    assert error["source"]["pointer"] == f"/data/attributes/{field}"
    assert field in error["detail"]
    existing = api.create("Existing")
    response = api.patch(
        f"/rulesets/{existing['id']}",
        {"data": {"type": "ruleset", "id": existing["id"], "attributes": {field: value}}},
    )
    assert response.status_code == 422
    assert pointers(response) == [f"/data/attributes/{field}"]
    assert api.get(f"/rulesets/{existing['id']}").json()["data"] == existing


INVALID_RELATIONSHIPS = [
    ("owner", {"data": {"type": "stage", "id": 1}}),
    ("owner", {"data": {"type": "user", "id": 99}}),
    ("repliedStage", {"data": {"type": "stage", "id": "3"}}),
    ("repliedStage", {"data": {"type": "stage"}}),
    ("callTaskPriority", {"data": [{"type": "taskPriority", "id": 1}]}),
    ("callTaskPriority", {"id": 1}),
    ("callTaskPriority", 1),
    ("sequences", {"data": []}),
    ("creator", {"data": None}),
]


@pytest.mark.parametrize(("name", "value"), INVALID_RELATIONSHIPS)
def test_invalid_relationship_is_422_with_pointer(api: Api, name: str, value: Any) -> None:
    body = {
        "data": {"type": "ruleset", "attributes": {"name": "R"}, "relationships": {name: value}}
    }
    response = api.post("/rulesets", body)
    assert response.status_code == 422, response.text
    assert error_ids(response) == ["validationError"]
    assert pointers(response) == [f"/data/relationships/{name}"]


def test_every_problem_is_reported_at_once(api: Api) -> None:
    body = {
        "data": {
            "type": "ruleset",
            "attributes": {
                "name": "R",
                "callOptOutAction": "never",
                "includeUnsubscribeLinks": "no",
            },
            "relationships": {"owner": {"data": {"type": "user", "id": 42}}},
        }
    }
    response = api.post("/rulesets", body)
    assert response.status_code == 422
    assert sorted(pointers(response)) == [
        "/data/attributes/callOptOutAction",
        "/data/attributes/includeUnsubscribeLinks",
        "/data/relationships/owner",
    ]


def test_create_requires_a_name_and_no_id(api: Api) -> None:
    response = api.post("/rulesets", {"data": {"type": "ruleset", "attributes": {}}})
    assert response.status_code == 422 and pointers(response) == ["/data/attributes/name"]
    response = api.post(
        "/rulesets", {"data": {"type": "ruleset", "id": 5, "attributes": {"name": "X"}}}
    )
    assert response.status_code == 422 and pointers(response) == ["/data/id"]


def test_type_and_id_mismatch_are_409_missing_id_is_422(api: Api) -> None:
    created = api.create("Target")
    path = f"/rulesets/{created['id']}"
    response = api.post("/rulesets", {"data": {"type": "stage", "attributes": {"name": "X"}}})
    assert response.status_code == 409 and pointers(response) == ["/data/type"]
    response = api.patch(path, {"data": {"type": "stage", "id": created["id"]}})
    assert response.status_code == 409 and pointers(response) == ["/data/type"]
    response = api.patch(path, {"data": {"type": "ruleset", "id": created["id"] + 1}})
    assert response.status_code == 409 and pointers(response) == ["/data/id"]
    for bad_id in (None, str(created["id"]), 1.0, True):
        data: dict[str, Any] = {"type": "ruleset", "attributes": {"name": "Z"}}
        if bad_id is not None:
            data["id"] = bad_id
        response = api.patch(path, {"data": data})
        assert response.status_code == 422 and pointers(response) == ["/data/id"], bad_id
    response = api.patch(path, {"data": {"id": created["id"]}})
    assert response.status_code == 422 and pointers(response) == ["/data/type"]
    assert api.get(path).json()["data"] == created


@pytest.mark.parametrize(
    "body", [b"{not json", b"", b"[]", b'{"data": []}', b'{"data": null}', b'"x"', b"\xff\xfe"]
)
def test_malformed_bodies_are_400(api: Api, body: bytes) -> None:
    response = api.request("POST", "/rulesets", data=body, content_type="application/vnd.api+json")
    assert response.status_code == 400, response.text
    assert error_ids(response) == ["badRequest"]


@pytest.mark.parametrize(
    "path", ["/rulesets/abc", "/rulesets/-1", "/stages/1.5", "/users/x", "/rulesets/0"]
)
def test_ids_that_are_not_positive_integers_are_not_found(api: Api, path: str) -> None:
    # As on Outreach: such an id names no resource (404 resourceNotFound), not a bad request.
    response = api.get(path)
    assert response.status_code == 404 and error_ids(response) == ["resourceNotFound"]
    assert response.json()["errors"][0]["title"] == "Resource Not Found"


def test_unknown_ids_are_404(api: Api) -> None:
    for path in (
        "/rulesets/999",
        "/stages/99",
        "/taskPriorities/4",
        "/users/4",
        "/rulesets/99999999999999999999999",
    ):
        response = api.get(path)
        assert response.status_code == 404, path
        (error,) = response.json()["errors"]
        assert error["id"] == "resourceNotFound" and error["detail"]


def test_unknown_routes_and_methods(api: Api) -> None:
    response = api.get("/prospects")
    assert response.status_code == 404 and error_ids(response) == ["notFound"]
    response = api.request("PUT", "/rulesets/1", body={})
    assert response.status_code == 405 and "PATCH" in response.headers["Allow"]
    response = api.request("POST", "/stages", body={"data": {"type": "stage"}})
    assert response.status_code == 405


def test_rate_limit_headers_on_every_response(api: Api) -> None:
    first = api.get("/rulesets")
    second = api.get("/rulesets/12345")
    assert first.headers["X-RateLimit-Limit"] == "10000"
    assert (
        int(second.headers["X-RateLimit-Remaining"])
        == int(first.headers["X-RateLimit-Remaining"]) - 1
    )
    assert int(first.headers["X-RateLimit-Reset"]) > time.time()
    assert "X-RateLimit-Limit" in api.get("/rulesets", token=None).headers
