"""Lists: cursor pagination, filters, sorting and counts."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import Api


def follow(api: Api, first: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """All rows from ``first`` on, following links.next; returns the rows and the page count."""
    response = api.get("/rulesets", params=first)
    assert response.status_code == 200, response.text
    rows, pages = [], 1
    while True:
        body = response.json()
        rows.extend(body["data"])
        next_url = body.get("links", {}).get("next")
        if next_url is None:
            return rows, pages
        response = api.get(next_url)
        assert response.status_code == 200, response.text
        pages += 1


def test_page_size_two_over_five(api: Api) -> None:
    ids = [api.create(f"R{i}")["id"] for i in range(5)]
    first = api.get("/rulesets", params={"page[size]": 2, "filter[name]": "R1"})
    assert "links" not in first.json() or "next" not in first.json()["links"]
    response = api.get("/rulesets", params={"page[size]": "2", "sort": "-id", "count": "true"})
    body = response.json()
    assert [r["id"] for r in body["data"]] == ids[::-1][:2]
    next_url = body["links"]["next"]
    assert next_url.startswith(f"{api.base}/rulesets?")
    query = parse_qs(urlsplit(next_url).query)
    assert query["page[size]"] == ["2"] and query["sort"] == ["-id"] and query["count"] == ["true"]
    assert "page[after]" in query
    rows, pages = follow(api, {"page[size]": 2, "sort": "-id"})
    assert [r["id"] for r in rows] == ids[::-1] and pages == 3


def test_default_page_size_is_50_and_max_is_1000(api: Api, emulator: Any) -> None:
    from rulesync.emulator.resources import RulesetWrite

    for i in range(1001):
        emulator.store.create_ruleset(
            RulesetWrite(attributes={"name": f"B{i:04d}"}, relationships={})
        )
    body = api.get("/rulesets").json()
    assert len(body["data"]) == 50 and "next" in body["links"]
    big = api.get("/rulesets", params={"page[size]": 1000}).json()
    assert len(big["data"]) == 1000 and "next" in big["links"]
    assert len(api.get(big["links"]["next"]).json()["data"]) == 1
    rows, pages = follow(api, {"page[size]": 1000})
    assert len({r["id"] for r in rows}) == 1001 and pages == 2


@pytest.mark.parametrize("size", ["1001", "0", "-5", "abc", "", "1e3"])
def test_bad_page_sizes_are_400(api: Api, size: str) -> None:
    response = api.get("/rulesets", params={"page[size]": size})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["id"] == "badRequest" and error["source"] == {"parameter": "page[size]"}


def test_rows_created_during_paging_are_not_skipped_or_repeated(api: Api) -> None:
    for i in range(4):
        api.create(f"P{i}")
    page = api.get("/rulesets", params={"page[size]": 2}).json()
    api.delete(f"/rulesets/{page['data'][0]['id']}")
    late = api.create("Late")
    rest = api.get(page["links"]["next"]).json()
    rest_ids = [r["id"] for r in rest["data"]]
    while "next" in rest.get("links", {}):
        rest = api.get(rest["links"]["next"]).json()
        rest_ids += [r["id"] for r in rest["data"]]
    assert late["id"] in rest_ids and not set(rest_ids) & {r["id"] for r in page["data"]}


def test_filters(api: Api) -> None:
    a, b, c = api.create("Alpha"), api.create("Beta, with comma"), api.create("Gamma")
    by_ids = api.get("/rulesets", params={"filter[id]": f"{a['id']},{c['id']},9999"}).json()
    assert [r["id"] for r in by_ids["data"]] == [a["id"], c["id"]]
    # The legacy syntax reads a comma as a list; newFilterSyntax takes the value literally.
    legacy = api.get("/rulesets", params={"filter[name]": "Beta, with comma"}).json()["data"]
    assert legacy == []
    literal = {"newFilterSyntax": "true", "filter[name][]": "Beta, with comma"}
    by_name = api.get("/rulesets", params=literal).json()["data"]
    assert [r["id"] for r in by_name] == [b["id"]]
    assert api.get("/rulesets", params={"filter[name]": "alpha"}).json()["data"] == []
    stage = api.get("/stages", params={"filter[name]": "Replied"}).json()["data"]
    assert [s["id"] for s in stage] == [3]


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("filter[id]", "1,x"),
        ("filter[id]", ""),
        ("filter[colour]", "red"),
        ("sort", "colour"),
        ("sort", "name,name"),
        ("page[after]", "garbage!"),
        ("page[offset]", "10001"),
        ("page[limit]", "1001"),
        ("page[cursor]", "5"),
        ("count", "maybe"),
        ("filter[id]", "1" * 30),
    ],
)
def test_bad_list_parameters_are_400(api: Api, param: str, value: str) -> None:
    response = api.get("/rulesets", params={param: value})
    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["id"] == "badRequest" and error["source"]["parameter"] == param


def test_cursor_from_another_sort_is_refused(api: Api) -> None:
    for name in "abc":
        api.create(name)
    next_url = api.get("/rulesets", params={"page[size]": 1, "sort": "name"}).json()["links"][
        "next"
    ]
    cursor = parse_qs(urlsplit(next_url).query)["page[after]"][0]
    response = api.get(
        "/rulesets", params={"page[size]": 1, "sort": "-name", "page[after]": cursor}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["a", "b", "b", "c"]),
        ("-name", ["c", "b", "b", "a"]),
        ("-id", ["b", "a", "c", "b"]),
        ("createdAt", ["b", "c", "a", "b"]),
        ("-updatedAt,name", None),
        ("name,-id", ["a", "b", "b", "c"]),
    ],
)
def test_sort_with_pagination(api: Api, sort: str, expected: list[str] | None) -> None:
    created = [api.create(name) for name in ("b", "c", "a", "b")]
    rows, _ = follow(api, {"sort": sort, "page[size]": 1})
    assert len(rows) == 4 and len({r["id"] for r in rows}) == 4
    if expected is not None:
        assert [r["attributes"]["name"] for r in rows] == expected
    if sort == "name,-id":
        bs = [r["id"] for r in rows if r["attributes"]["name"] == "b"]
        assert bs == sorted((created[0]["id"], created[3]["id"]), reverse=True)


def test_count_meta(api: Api) -> None:
    for i in range(3):
        api.create("Dup" if i < 2 else "Other")
    body = api.get("/rulesets", params={"count": "true", "page[size]": 1}).json()
    assert body["meta"]["count"] == 3 and len(body["data"]) == 1
    body = api.get("/rulesets", params={"count": "true", "filter[name]": "Dup"}).json()
    assert body["meta"]["count"] == 2
    assert "meta" not in api.get("/rulesets").json()
    assert api.get("/users", params={"count": "true"}).json()["meta"]["count"] == 3
