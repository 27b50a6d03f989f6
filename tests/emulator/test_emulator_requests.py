"""Requests as Outreach answers them (its "Making requests" documentation and the Ruleset
page): filters in both syntaxes, sorting, cursor and offset paging, counts, compound
documents, sparse fieldsets and documented defaults."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import Api


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()["data"]]


@pytest.fixture
def three(api: Api) -> list[dict[str, Any]]:
    return [
        api.create("Alpha", {"permitDuplicateProspects": "allow", "includeUnsubscribeLinks": True}),
        api.create("Beta..Gamma", {"sequenceExclusivity": "all_sequences"}),
        api.create("Gamma", {"includeUnsubscribeLinks": False}, {"owner": _user(2)}),
    ]


def _user(user_id: int) -> dict[str, Any]:
    return {"data": {"type": "user", "id": user_id}}


def test_create_stores_the_documented_defaults(api: Api) -> None:
    # Ruleset page: "disallow" (the default), "none" (the default).
    created = api.create("Plain")["attributes"]
    assert created["permitDuplicateProspects"] == "disallow"
    assert created["sequenceExclusivity"] == "none"
    explicit_null = api.create("Nulls", {"permitDuplicateProspects": None})["attributes"]
    assert explicit_null["permitDuplicateProspects"] == "disallow"
    assert created["includeUnsubscribeLinks"] is None  # no default documented


def test_legacy_filter_syntax(api: Api, three: list[dict[str, Any]]) -> None:
    a, b, c = (r["id"] for r in three)
    assert ids(api.get("/rulesets", params={"filter[id]": f"{a},{c}"})) == [a, c]
    assert ids(api.get("/rulesets", params={"filter[id]": f"{b}..{c}"})) == [b, c]
    assert ids(api.get("/rulesets", params={"filter[id]": f"neginf..{a}"})) == [a]
    assert ids(api.get("/rulesets", params={"filter[id]": f"{b}..inf"})) == [b, c]
    # `..` in a name is a range under the legacy syntax: Alpha <= name <= Gamma.
    assert ids(api.get("/rulesets", params={"filter[name]": "Beta..Gamma"})) == [b, c]
    flags = {"filter[includeUnsubscribeLinks]": "true"}
    assert ids(api.get("/rulesets", params=flags)) == [a]
    assert ids(api.get("/rulesets", params={"filter[includeUnsubscribeLinks]": "__null__"})) == [b]
    assert ids(api.get("/rulesets", params={"filter[includeUnsubscribeLinks]": "__notnull__"})) == [
        a,
        c,
    ]
    assert ids(api.get("/rulesets", params={"filter[sequenceExclusivity]": "none"})) == [a, c]
    assert ids(api.get("/rulesets", params={"filter[owner][id]": "2"})) == [c]


def test_new_filter_syntax_takes_values_literally(api: Api, three: list[dict[str, Any]]) -> None:
    a, b, c = (r["id"] for r in three)
    literal = {"newFilterSyntax": "true", "filter[name][]": ["Beta..Gamma", "Alpha"]}
    assert ids(api.get("/rulesets", params=literal)) == [a, b]
    between = {"newFilterSyntax": "true", "filter[id][gte]": str(b), "filter[id][lte]": str(c)}
    assert ids(api.get("/rulesets", params=between)) == [b, c]
    owner = {"newFilterSyntax": "true", "filter[owner][id][]": "2"}
    assert ids(api.get("/rulesets", params=owner)) == [c]


def test_timestamp_ranges_as_incremental_syncs_send_them(
    api: Api, three: list[dict[str, Any]]
) -> None:
    updated = [r["attributes"]["updatedAt"] for r in three]
    since = {"filter[updatedAt]": "2020-01-01T00:00:00Z..inf", "sort": "updatedAt"}
    assert ids(api.get("/rulesets", params=since)) == [r["id"] for r in three]
    upto = {"filter[updatedAt]": f"neginf..{updated[0]}"}
    assert ids(api.get("/rulesets", params=upto)) == [three[0]["id"]]
    future = {"filter[updatedAt]": "2999-01-01..inf"}
    assert ids(api.get("/rulesets", params=future)) == []


def test_unfilterable_and_unsortable_attributes_are_refused(api: Api) -> None:
    for params in (
        {"filter[meetingBookedAction]": "x"},
        {"sort": "meetingBookedAction"},
        {"filter[stages][id]": "1"},
    ):
        response = api.get("/rulesets", params=params)
        assert response.status_code == 400, params
        assert response.json()["errors"][0]["source"]["parameter"] in params


def test_sort_on_every_sortable_attribute_both_ways(api: Api, three: list[dict[str, Any]]) -> None:
    a, b, c = (r["id"] for r in three)
    assert ids(api.get("/rulesets", params={"sort": "-name"})) == [c, b, a]
    # Nulls first ascending (b has no includeUnsubscribeLinks), then false, true.
    assert ids(api.get("/rulesets", params={"sort": "includeUnsubscribeLinks"})) == [b, c, a]
    assert ids(api.get("/rulesets", params={"sort": "-includeUnsubscribeLinks"})) == [a, c, b]
    several = {"sort": "permitDuplicateProspects,-id"}
    assert ids(api.get("/rulesets", params=several)) == [a, c, b]
    for name in ("autoResumeOotoProspects", "createdAt", "updatedAt", "sequenceExclusivity"):
        assert sorted(ids(api.get("/rulesets", params={"sort": f"-{name}"}))) == [a, b, c]


def test_cursor_paging_forwards_and_back_on_a_nullable_sort(api: Api) -> None:
    made = [
        api.create(f"R{i}", {"includeUnsubscribeLinks": [None, True, False][i % 3]})["id"]
        for i in range(7)
    ]
    params = {"page[size]": "2", "sort": "includeUnsubscribeLinks"}
    expected = ids(api.get("/rulesets", params={**params, "page[size]": "100"}))
    assert sorted(expected) == made
    pages, body = [], api.get("/rulesets", params=params).json()
    assert "prev" not in body["links"] and "first" in body["links"]
    while True:
        pages.append([r["id"] for r in body["data"]])
        if "next" not in body["links"]:
            break
        body = api.get(body["links"]["next"]).json()
    assert [i for page in pages for i in page] == expected and len(pages) == 4
    back = []
    while "prev" in body["links"]:
        body = api.get(body["links"]["prev"]).json()
        back.append([r["id"] for r in body["data"]])
    assert back == pages[-2::-1]
    first = api.get(body["links"]["first"]).json()
    assert [r["id"] for r in first["data"]] == pages[0]


def test_offset_paging_still_answers(api: Api) -> None:
    made = [api.create(f"O{i}")["id"] for i in range(5)]
    body = api.get("/rulesets", params={"page[offset]": "2", "page[limit]": "2"}).json()
    assert [r["id"] for r in body["data"]] == made[2:4]
    links = body["links"]
    assert parse_qs(urlsplit(links["next"]).query)["page[offset]"] == ["4"]
    assert parse_qs(urlsplit(links["prev"]).query)["page[offset]"] == ["0"]
    assert parse_qs(urlsplit(links["last"]).query)["page[offset]"] == ["4"]
    too_far = api.get("/rulesets", params={"page[offset]": "10001"})
    assert too_far.status_code == 400


def test_count_meta(api: Api, three: list[dict[str, Any]]) -> None:
    body = api.get("/rulesets", params={"count": "true", "page[size]": "1"}).json()
    assert body["meta"] == {"count": 3, "count_truncated": False}
    assert "meta" not in api.get("/rulesets", params={"count": "false"}).json()


def test_include_and_sparse_fieldsets(api: Api, three: list[dict[str, Any]]) -> None:
    params = {
        "include": "owner",
        "fields[ruleset]": "name,owner",
        "fields[user]": "email",
        "filter[name]": "Gamma",
    }
    body = api.get("/rulesets", params=params).json()
    (ruleset,) = body["data"]
    assert ruleset["attributes"] == {"name": "Gamma"}
    assert list(ruleset["relationships"]) == ["owner"]
    assert body["included"] == [
        {
            "type": "user",
            "id": 2,
            "attributes": {"email": "revops@example.com"},
            "relationships": {},
            "links": {"self": f"{api.base}/users/2"},
        }
    ]
    one = api.get(f"/rulesets/{ruleset['id']}", params={"include": "owner"}).json()
    assert [i["id"] for i in one["included"]] == [2]
    created = api.request(
        "POST",
        "/rulesets",
        body={"data": {"type": "ruleset", "attributes": {"name": "New"}}},
        params={"include": "owner"},
    )
    assert created.status_code == 201 and "included" not in created.json()
    bad = api.get("/rulesets", params={"include": "colour"})
    assert bad.status_code == 400


def test_ids_that_are_not_positive_integers_are_not_found(api: Api) -> None:
    for path in ("/rulesets/abc", "/rulesets/0", "/rulesets/-3", "/sequences/1e3"):
        response = api.get(path)
        assert response.status_code == 404, path
        (error,) = response.json()["errors"]
        assert (error["id"], error["title"]) == ("resourceNotFound", "Resource Not Found")
    assert api.delete("/rulesets/x").status_code == 404
