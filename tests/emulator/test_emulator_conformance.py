"""Requests and responses checked against Outreach's OpenAPI document (the copy shipped in
engine/emulator), converted from OpenAPI 3.0 to JSON Schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from tests.conftest import Api

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO / "engine" / "emulator" / "openapi-rulesets.json"
SHARED_SPEC = REPO.parent / "shared" / "outreach" / "openapi-rulesets.json"
SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")
_DROP = {"nullable", "x-internal", "description"}
# Writable to-one relationships of a ruleset and their types, as the document gives them.
RELATIONSHIPS: dict[str, str] = {
    name: node["properties"]["data"]["properties"]["type"]["enum"][0]
    for name, node in SPEC["components"]["schemas"]["rulesetRelationships"]["properties"].items()
    if "data" in node["properties"] and "readonly.svg" not in node.get("description", "")
}


def to_json_schema(node: Any, *, closed: bool = False) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: ``nullable`` becomes a type union, component
    ``$ref``s are inlined. ``closed`` forbids members the document does not list, which is how
    attribute and relationship objects are checked (the emulator may not invent fields)."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        name = node["$ref"].removeprefix("#/components/schemas/")
        component = SPEC["components"]["schemas"][name]
        return to_json_schema(component, closed=not name.endswith("Response"))
    out = {key: to_json_schema(value) for key, value in node.items() if key not in _DROP}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    if closed and "properties" in out:
        out["additionalProperties"] = False
    return out


def operation(template: str, method: str) -> dict[str, Any]:
    op: dict[str, Any] = SPEC["paths"][template][method.lower()]
    return op


def response_schema(template: str, method: str, status: int) -> Any:
    responses = operation(template, method)["responses"]
    if str(status) not in responses:
        # Statuses the document does not list (400, 401, 409, 415, 429, 5xx) carry the same
        # error object as the ones it does.
        status = next(int(code) for code in responses if int(code) >= 400)
    content = responses[str(status)]["content"]["application/vnd.api+json"]
    return to_json_schema(content.get("schema", {}))


def request_schema(template: str, method: str) -> Any:
    body = operation(template, method)["requestBody"]
    return to_json_schema(body["content"]["application/vnd.api+json"]["schema"])


def validate(instance: Any, schema: Any) -> None:
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(instance)


class Checked:
    """Sends requests through the Api helper and checks both directions against the spec."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(
        self, method: str, template: str, path: str, body: Any = None, **kwargs: Any
    ) -> requests.Response:
        if body is not None and kwargs.pop("valid_request", True):
            validate(body, request_schema(template, method))
        response = self.api.request(method, path, body=body, **kwargs)
        self.seen.add((method, template, response.status_code))
        if response.status_code == 204:
            assert response.content == b""
            return response
        assert response.headers["Content-Type"] == "application/vnd.api+json"
        payload = response.json()
        validate(payload, response_schema(template, method, response.status_code))
        if response.status_code >= 400:
            for error in payload["errors"]:
                assert {"id", "title", "detail"} <= set(error)
                assert all(
                    isinstance(error[k], str) and error[k] for k in ("id", "title", "detail")
                )
        else:
            data = payload["data"]
            for resource in data if isinstance(data, list) else [data]:
                check_resource(resource)
        return response


def check_resource(resource: dict[str, Any]) -> None:
    """What the document's schemas leave optional but real responses always have."""
    assert isinstance(resource["id"], int) and isinstance(resource["type"], str)
    assert resource["links"]["self"].endswith(f"/{resource['id']}")
    for name in ("createdAt", "updatedAt"):
        assert TIMESTAMP.match(resource["attributes"][name])
    if resource["type"] == "ruleset":
        properties = SPEC["components"]["schemas"]["ruleset"]["properties"]
        assert set(resource["attributes"]) == set(properties)
        assert set(RELATIONSHIPS) <= set(resource["relationships"])


@pytest.mark.parametrize("name", ["openapi-rulesets.json", "openapi-sequences.json"])
def test_shipped_document_is_the_official_copy(name: str) -> None:
    shared = SHARED_SPEC.with_name(name)
    if not shared.exists():
        pytest.skip("no shared copy of the OpenAPI document next to the repository")
    assert (SPEC_PATH.with_name(name)).read_bytes() == shared.read_bytes()


def test_every_kind_of_exchange_conforms(api: Api) -> None:
    check = Checked(api)
    collection, item = "/rulesets", "/rulesets/{id}"
    check("GET", collection, "/rulesets")
    relationships = {n: {"data": {"type": t, "id": 1}} for n, t in RELATIONSHIPS.items()}
    create = {
        "data": {
            "type": "ruleset",
            "attributes": {
                "name": "Inbound",
                "permitDuplicateProspects": "allow",
                "callOptOutAction": "x",
                "includeUnsubscribeLinks": True,
                "autoResumeOotoProspectsIn": 259200,
            },
            "relationships": relationships,
        }
    }
    created = check("POST", collection, "/rulesets", create).json()["data"]
    check(
        "POST",
        collection,
        "/rulesets",
        {"data": {"type": "ruleset", "attributes": {"name": "Second"}}},
    )
    path = f"/rulesets/{created['id']}"
    check("GET", item, path)
    patch = {
        "data": {
            "type": "ruleset",
            "id": created["id"],
            "attributes": {"callOptOutAction": None, "sequenceExclusivity": "none"},
            "relationships": {
                "owner": {"data": None},
                "finishedStage": {"data": {"type": "stage", "id": 6}},
            },
        }
    }
    check("PATCH", item, path, patch)
    listed = check("GET", collection, "/rulesets", params={"page[size]": 1, "count": "true"})
    check("GET", collection, listed.json()["links"]["next"])
    for name in ("stages", "taskPriorities", "users"):
        check("GET", f"/{name}", f"/{name}")
        check("GET", f"/{name}/{{id}}", f"/{name}/1")
        check("GET", f"/{name}/{{id}}", f"/{name}/999")

    # Errors, each through the route that produces it.
    check("GET", collection, "/rulesets", token=None)
    check("GET", item, "/rulesets/999")
    check("GET", collection, "/rulesets", params={"page[size]": 1001})
    check("POST", collection, "/rulesets", create, content_type="application/json")
    check(
        "POST",
        collection,
        "/rulesets",
        valid_request=False,
        body={"data": {"type": "ruleset", "attributes": {"name": "x", "callOptOutAction": 5}}},
    )
    check("PATCH", item, path, {"data": {"type": "ruleset", "id": created["id"] + 1}})
    check("DELETE", item, path)
    check("DELETE", item, path)
    api.faults(rate_limit={"limit": 0, "window_s": 60})
    check("GET", collection, "/rulesets")
    api.faults(error_rate=1.0, error_statuses=[503])
    check("GET", item, path)
    api.faults()

    statuses = {(method, status) for method, _, status in check.seen}
    assert {("GET", 200), ("POST", 201), ("PATCH", 200), ("DELETE", 204)} <= statuses
    assert {s for _, s in statuses if s >= 400} == {400, 401, 404, 409, 415, 422, 429, 503}


def test_converter_handles_nullable_and_closed_objects() -> None:
    schema = to_json_schema({"$ref": "#/components/schemas/ruleset"})
    assert schema["properties"]["callOptOutAction"]["type"] == ["string", "null"]
    assert schema["additionalProperties"] is False
    validate({"callOptOutAction": None}, schema)
    with pytest.raises(jsonschema.ValidationError):
        validate({"callOptOutAction": "never"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        validate({"colour": "red"}, schema)
