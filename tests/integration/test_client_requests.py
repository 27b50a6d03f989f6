"""What the client puts on the wire, against servers that record every request: the headers,
the paging and filter parameters, the write paths and bodies, where a next link or a proxy may
take the token, and how exact-name lookups fall back when a server reads filters its own way.

Citations are to Outreach's documented conventions (outreach-conventions.yml)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

import pytest

from rulesync.auth import StaticToken
from rulesync.client import Client
from rulesync.errors import ApiError
from tests.hostile import Hostile, Reply, Seen, page, ruleset

TOKEN = "wire-token-456"
JSONAPI = "application/vnd.api+json"


def client_for(server: Hostile, **kwargs: Any) -> Client:
    return Client(server.api_url, StaticToken(TOKEN, origin="T"), backoff_factor=0.01, **kwargs)


def raw_paths(server: Hostile) -> list[str]:
    """The request targets as sent (path and query, percent-escapes decoded)."""
    paths: list[str] = server.state.setdefault("raw", [])
    return paths


def recording(reply: Any) -> Any:
    """A script that records each raw request target, then answers with ``reply``."""

    def script(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> Reply | None:
        with h.lock:
            raw_paths(h).append(unquote(handler.path))
        result: Reply | None = reply(h, seen, handler)
        return result

    return script


@pytest.fixture
def empty() -> Iterator[Hostile]:
    with Hostile(recording(lambda h, s, r: page([]))) as server:
        yield server


# ---- headers -------------------------------------------------------------------------------


def test_every_request_carries_the_bearer_token_and_the_jsonapi_headers() -> None:
    """outreach-conventions.yml: `Authorization: Bearer <access_token>` on every request,
    media type application/vnd.api+json; a body is sent as JSON:API, a GET has none."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if seen.method == "DELETE":
            return Reply(204, b"")
        return Reply(200, {"data": ruleset(7, "A")} if seen.method != "GET" else {"data": []})

    with Hostile(api) as server:
        client = client_for(server)
        client.list_all("rulesets")
        client.create("rulesets", {"type": "ruleset", "attributes": {"name": "A"}})
        client.update("rulesets", 7, {"type": "ruleset", "id": 7, "attributes": {"name": "B"}})
        assert client.delete("rulesets", 7) is True
        get, post, patch, delete = server.seen
    for seen in (get, post, patch, delete):
        assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
        assert seen.headers["Accept"] == JSONAPI
        assert seen.headers["User-Agent"] == "rulesync"
    assert post.headers["Content-Type"] == JSONAPI
    assert patch.headers["Content-Type"] == JSONAPI
    assert "Content-Type" not in get.headers and "Content-Type" not in delete.headers
    assert (post.method, post.path) == ("POST", "/api/v2/rulesets")
    assert (patch.method, patch.path) == ("PATCH", "/api/v2/rulesets/7")
    assert (delete.method, delete.path) == ("DELETE", "/api/v2/rulesets/7")
    # compact JSON, the resource under `data`
    assert post.body == b'{"data":{"type":"ruleset","attributes":{"name":"A"}}}'
    assert json.loads(patch.body) == {
        "data": {"type": "ruleset", "id": 7, "attributes": {"name": "B"}}
    }


def test_writes_return_the_resource_the_api_answered_with() -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        status = 201 if seen.method == "POST" else 200
        return Reply(status, {"data": ruleset(len(h.seen), "Answered")})

    with Hostile(api) as server:
        client = client_for(server)
        created = client.create("rulesets", {"type": "ruleset", "attributes": {"name": "A"}})
        updated = client.update("rulesets", 1, {"type": "ruleset", "id": 1})
    assert created == ruleset(1, "Answered")
    assert updated == ruleset(2, "Answered")


# ---- paging and filters --------------------------------------------------------------------


def test_a_listing_asks_for_full_pages_without_counting(empty: Hostile) -> None:
    """outreach-conventions.yml (pagination): cursor paging with `page[size]` (max 1,000)
    and `count=false` for query performance."""
    client_for(empty).list_all("stages")
    [seen] = empty.seen
    assert seen.path == "/api/v2/stages"
    assert seen.query == {"page[size]": ["1000"], "count": ["false"]}


def test_filters_are_sent_in_the_literal_syntax(empty: Hostile) -> None:
    """outreach-conventions.yml (filtering.new_syntax): `newFilterSyntax=true` with
    `filter[name][]=...` lets a value hold `,` or `..`; a list matches any of its values."""
    client = client_for(empty)
    client.list_all("rulesets", {"name": "a,b..c", "id": ["1", "2"]})
    [seen] = empty.seen
    assert seen.query == {
        "page[size]": ["1000"],
        "count": ["false"],
        "newFilterSyntax": ["true"],
        "filter[name][]": ["a,b..c"],
        "filter[id][]": ["1", "2"],
    }


def test_ids_are_asked_for_a_hundred_at_a_time_each_once(empty: Hostile) -> None:
    ids = [*range(250, 0, -1), 5, 5]
    client_for(empty).list_by_ids("rulesets", ids)
    asked = [[int(i) for i in s.query["filter[id][]"]] for s in empty.seen]
    assert asked == [list(range(1, 101)), list(range(101, 201)), list(range(201, 251))]


def test_a_query_listing_keeps_its_commas(empty: Hostile) -> None:
    """outreach-conventions.yml (filtering): `filter[id]=1,2,3` is a list of ids; the query
    is sent as given, its commas unescaped."""
    client_for(empty).list_query(
        "sequences", [("filter[ruleset][id]", "1,2"), ("page[size]", "1000")]
    )
    assert raw_paths(empty) == ["/api/v2/sequences?filter[ruleset][id]=1,2&page[size]=1000"]
    assert empty.seen[0].query == {"filter[ruleset][id]": ["1,2"], "page[size]": ["1000"]}


def test_every_page_is_read_and_the_next_link_carries_the_parameters() -> None:
    """outreach-conventions.yml (pagination: cursor, links.next): each page's next link
    holds the whole query; the first page's parameters are not sent again on top of it."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        after = seen.query.get("page[after]", [""])[0]
        if after == "":
            return page([ruleset(1, "A")], f"{h.api_url}/rulesets?page[after]=c1&page[size]=2")
        if after == "c1":  # a relative link, as a JSON:API server may send
            return page([ruleset(2, "B"), "not a resource"], "/api/v2/rulesets?page[after]=c2")  # type: ignore[list-item]
        return page([ruleset(3, "C")])

    with Hostile(recording(api)) as server:
        items = client_for(server).list_all("rulesets")
        assert [i["id"] for i in items] == [1, 2, 3]
        assert raw_paths(server)[1:] == [
            "/api/v2/rulesets?page[after]=c1&page[size]=2",
            "/api/v2/rulesets?page[after]=c2",
        ]


def test_offset_paging_without_cursors_is_read_to_the_end() -> None:
    """outreach-conventions.yml (pagination: offset style, deprecated but documented): next
    links that carry no `page[after]` cursor are told apart by their whole address."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        offset = int(seen.query.get("page[offset]", ["0"])[0])
        nxt = f"{h.api_url}/rulesets?page[offset]={offset + 1}" if offset < 2 else None
        return page([ruleset(offset + 1, f"R{offset}")], nxt)

    with Hostile(api) as server:
        assert [i["id"] for i in client_for(server).list_all("rulesets")] == [1, 2, 3]


@pytest.mark.parametrize(
    "links",
    [{}, {"next": None}, {"next": ""}, None, "next"],
    ids=["no next", "null next", "empty next", "null links", "links not an object"],
)
def test_a_page_without_a_next_link_is_the_last(links: Any) -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(200, {"data": [ruleset(1, "A")], "links": links})

    with Hostile(api) as server:
        assert [i["id"] for i in client_for(server).list_all("rulesets")] == [1]
        assert len(server.seen) == 1


def test_a_next_link_that_is_not_a_url_is_an_error() -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(200, {"data": [], "links": {"next": {"href": "/api/v2/rulesets?x=1"}}})

    with Hostile(api) as server, pytest.raises(ApiError) as caught:
        client_for(server).list_all("rulesets")
    assert str(caught.value) == "GET /api/v2/rulesets: links.next is not a URL"
    assert caught.value.method == "GET"


def test_a_cursor_seen_again_under_another_address_is_a_loop() -> None:
    """outreach-conventions.yml: cursors are opaque; the same `page[after]` with other
    parameters around it is the same page."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return page([ruleset(1, "A")], f"{h.api_url}/rulesets?page[after]=same&n={len(h.seen)}")

    with Hostile(api) as server:
        with pytest.raises(ApiError) as caught:
            client_for(server).list_all("rulesets")
        assert len(server.seen) == 2
    message = str(caught.value)
    assert message.startswith("GET /api/v2/rulesets?page[after]=same&n=1: ")
    assert message.endswith(
        "links.next leads back to a page already read (a pagination loop); stopped"
    )


@pytest.mark.parametrize("body", [{"errors": []}, {"data": {"id": 1}}, {"data": None}])
def test_an_answer_without_a_data_list_says_to_check_api_url(body: Any) -> None:
    with Hostile(lambda h, s, r: Reply(200, body)) as server, pytest.raises(ApiError) as caught:
        client_for(server).list_all("rulesets")
    assert str(caught.value) == (
        "GET /api/v2/rulesets: the answer has no data list; is api_url an Outreach API v2 address?"
    )


# ---- where the token may go ------------------------------------------------------------------


def test_a_next_link_to_another_host_on_the_same_port_gets_no_token() -> None:
    """The host is part of the origin: `localhost` is not the `127.0.0.1` of api_url, even on
    the same port of the same machine."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        other = h.api_url.replace("127.0.0.1", "localhost")
        return page([ruleset(1, "A")], f"{other}/rulesets?page[after]=x")

    with Hostile(api) as server:
        with pytest.raises(ApiError, match=r"links\.next points outside the configured API"):
            client_for(server).list_all("rulesets")
        assert len(server.seen) == 1


@pytest.mark.parametrize(
    ("target", "place"),
    [
        # credentials in the URL: never shown
        ("http://user:pw@{host}/api/v2/rulesets?page[after]=x", "{url}/api/v2/rulesets"),
        ("http://{host}/api/v2x/rulesets?page[after]=x", "{url}/api/v2x/rulesets"),
        ("http://{host}?page[after]=x", "{url}/"),  # no path at all
        ("http://{host}/api/v2/%2E%2E/admin?page[after]=x", "{url}/api/v2/%2E%2E/admin"),
        ("http://{host}/api/v2/./rulesets?page[after]=x", "{url}/api/v2/./rulesets"),
        ("http://{host}/api/v2/%2e./rulesets?page[after]=x", "{url}/api/v2/%2e./rulesets"),
    ],
)
def test_next_links_that_could_leave_the_api_are_refused(target: str, place: str) -> None:
    """outreach-conventions.yml (base_url https://api.outreach.io/api/v2): the token goes to
    that scheme, host, port and path prefix only."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return page([ruleset(1, "A")], target.format(host=h.url.split("//")[1]))

    with Hostile(api) as server:
        with pytest.raises(ApiError) as caught:
            client_for(server).list_all("rulesets")
        assert len(server.seen) == 1
    message = str(caught.value)
    assert message.startswith("GET /api/v2/rulesets: links.next points outside")
    assert caught.value.method == "GET"
    assert (
        f"links.next points outside the configured API ({place.format(url=server.url)}); "
        f"refusing to send the token there. api_url is {server.api_url}; "
    ) in message
    assert message.endswith("if that is right, the API answered wrongly")
    assert "user" not in message and "pw@" not in message and "page[after]=x" not in message


def test_a_next_link_to_the_api_root_itself_is_followed() -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if seen.path == "/api/v2":
            return page([ruleset(2, "B")])
        return page([ruleset(1, "A")], f"{h.api_url}?page[after]=x")

    with Hostile(api) as server:
        assert [i["id"] for i in client_for(server).list_all("rulesets")] == [1, 2]


@pytest.mark.parametrize(
    ("url", "inside"),
    [
        ("https://api.outreach.io:443/api/v2/rulesets", True),  # the default port, spelled out
        ("HTTPS://API.Outreach.io/api/v2/rulesets", True),  # scheme and host ignore case
        ("http://api.outreach.io/api/v2/rulesets", False),  # not https
        ("http://api.outreach.io:443/api/v2/rulesets", False),
        ("https://api.outreach.io:80/api/v2/rulesets", False),
        ("https://api.outreach.io:444/api/v2/rulesets", False),
        ("https://api.outreach.io:x/api/v2/rulesets", False),  # a port that is not a number
        ("https:///api/v2/rulesets", False),  # no host
    ],
)
def test_the_default_https_port_is_the_same_origin(url: str, inside: bool) -> None:
    """outreach-conventions.yml base_url: https://api.outreach.io/api/v2 (port 443)."""
    client = Client("https://api.outreach.io/api/v2/", StaticToken(TOKEN, origin="T"))
    assert client.inside(url) is inside


def test_the_default_http_port_is_the_same_origin() -> None:
    client = Client("http://api.example.test/api/v2", StaticToken(TOKEN, origin="T"))
    assert client.inside("http://api.example.test:80/api/v2/rulesets")
    assert not client.inside("http://api.example.test:81/api/v2/rulesets")
    assert not client.inside("http://api.example.test:443/api/v2/rulesets")


def test_a_proxy_from_the_environment_is_used(monkeypatch: Any) -> None:
    """Like every CLI, rulesync goes through the HTTP proxy named in the environment."""

    def proxy(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> Reply:
        with h.lock:
            raw_paths(h).append(unquote(handler.path))
        return page([ruleset(1, "A")])

    with Hostile(proxy) as server:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", server.url)
        monkeypatch.setenv("http_proxy", server.url)
        client = Client("http://api.outreach.test/api/v2", StaticToken(TOKEN, origin="T"))
        assert [i["id"] for i in client.list_all("rulesets")] == [1]
        assert raw_paths(server) == [
            "http://api.outreach.test/api/v2/rulesets?page[size]=1000&count=false"
        ]


# ---- exact lookups by name -------------------------------------------------------------------


def _lookup_server(mode: str) -> Any:
    """`new`: reads `filter[name][]` literally; `ignore`: returns every ruleset whatever the
    filter; `reject`: refuses newFilterSyntax with a 400; `legacy`: reads `a,b` as a list."""
    rulesets = [
        ruleset(1, "Plain"),
        ruleset(2, "a,b"),
        ruleset(3, "x..y"),
        ruleset(4, "__null__"),
        ruleset(5, " __notnull__ "),
    ]

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        names = seen.query.get("filter[name][]")
        if names is None:
            return page(rulesets)
        if mode == "reject":
            return Reply(400, {"errors": [{"title": "unknown parameter newFilterSyntax"}]})
        if mode == "unprocessable":
            return Reply(422, {"errors": [{"title": "bad filter"}]})
        if mode == "ignore":
            return page(rulesets)
        if mode == "legacy":  # `a,b` a list, `x..y` a range, `__null__` a null test
            plain = [n for n in names if not any(m in n for m in (",", "..", "__"))]
            return page([r for r in rulesets if r["attributes"]["name"] in plain])
        return page([r for r in rulesets if r["attributes"]["name"] in names])

    return api


def test_a_lookup_asks_for_each_name_literally_and_compares_exactly() -> None:
    """outreach-conventions.yml (filtering.new_syntax)."""
    with Hostile(_lookup_server("new")) as server:
        found = client_for(server).find_by_names("rulesets", ["Plain", "a,b", "Missing"])
        [seen] = server.seen
    assert {name: [r["id"] for r in hits] for name, hits in found.items()} == {
        "Missing": [],
        "Plain": [1],
        "a,b": [2],
    }
    assert seen.query == {
        "newFilterSyntax": ["true"],
        "filter[name][]": ["Missing", "Plain", "a,b"],
        "page[size]": ["1000"],
        "count": ["false"],
    }


def test_no_names_no_request(empty: Hostile) -> None:
    assert client_for(empty).find_by_names("rulesets", []) == {}
    assert empty.seen == []


def test_names_are_looked_up_twenty_a_request() -> None:
    names = [f"N{i:02}" for i in range(45)]

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        asked = seen.query["filter[name][]"]
        return page([ruleset(int(n[1:]), n) for n in asked])

    with Hostile(api) as server:
        found = client_for(server).find_by_names("rulesets", reversed(names))
        chunks = [s.query["filter[name][]"] for s in server.seen]
    assert chunks == [names[:20], names[20:40], names[40:]]
    assert all(len(found[n]) == 1 for n in names)


def test_a_lookup_follows_its_next_links() -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if "page[after]" in seen.query:
            return page([ruleset(2, "Plain")])
        return page(
            [ruleset(1, "Plain")], f"{h.api_url}/rulesets?page[after]=c&filter[name][]=Plain"
        )

    with Hostile(api) as server:
        found = client_for(server).find_by_name("rulesets", "Plain")
        assert [r["id"] for r in found] == [1, 2]
        assert all("filter[name][]" in s.query for s in server.seen)  # no full listing


@pytest.mark.parametrize("mode", ["ignore", "reject", "unprocessable"])
def test_a_server_that_does_not_filter_literally_gets_a_full_listing_once(mode: str) -> None:
    """A server that ignores the filter (answers with other names) or refuses the literal
    syntax (400/422): the names are compared against a full listing, and later lookups list
    straight away instead of asking again."""
    with Hostile(_lookup_server(mode)) as server:
        client = client_for(server)
        assert [r["id"] for r in client.find_by_name("rulesets", "Plain")] == [1]
        assert len(server.seen) == 2
        assert "filter[name][]" not in server.seen[1].query
        assert [r["id"] for r in client.find_by_name("rulesets", "a,b")] == [2]
        assert len(server.seen) == 3
        assert "filter[name][]" not in server.seen[2].query


def test_a_fallback_in_one_chunk_covers_every_name() -> None:
    names = [f"N{i:02}" for i in range(25)]

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        asked = seen.query.get("filter[name][]")
        if asked is None:
            return page([ruleset(int(n[1:]), n) for n in names])
        if "N20" in asked:
            return Reply(400, {"errors": [{"title": "no"}]})
        return page([ruleset(int(n[1:]), n) for n in asked])

    with Hostile(api) as server:
        found = client_for(server).find_by_names("rulesets", names)
    assert all([r["id"] for r in found[n]] == [int(n[1:])] for n in names)


@pytest.mark.parametrize("name", ["a,b", "x..y", "__null__", " __notnull__ "])
def test_a_name_the_legacy_syntax_misreads_is_checked_against_a_full_listing(name: str) -> None:
    """outreach-conventions.yml (filtering): the legacy syntax reads `a,b` as a list,
    `lo..hi` as a range and `__null__`/`__notnull__` as null tests; a server that falls back
    to it answers nothing for such a name, which is not proof that it does not exist."""
    with Hostile(_lookup_server("legacy")) as server:
        assert len(client_for(server).find_by_name("rulesets", name)) == 1
        assert len(server.seen) == 2


@pytest.mark.parametrize("name", ["Missing", "a.b", "null", "__null__x"])
def test_a_plain_name_not_found_is_not_found_in_one_request(name: str) -> None:
    with Hostile(_lookup_server("new")) as server:
        assert client_for(server).find_by_name("rulesets", name) == []
        assert len(server.seen) == 1


def test_a_lookup_answer_that_cannot_be_trusted_falls_back(empty: Hostile) -> None:
    answers = iter(
        [
            Reply(200, {"data": {"id": 1}}),  # no data list
            Reply(200, {"data": [ruleset(1, "Plain"), "junk"]}),  # not a resource
            Reply(200, {"data": [ruleset(1, "Plain")], "links": {"next": 5}}),  # bad next link
        ]
    )

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if "filter[name][]" in seen.query:
            return next(answers)
        return page([ruleset(1, "Plain")])

    with Hostile(api) as server:
        for _ in range(3):
            assert [r["id"] for r in client_for(server).find_by_name("rulesets", "Plain")] == [1]
        assert [("filter[name][]" in s.query) for s in server.seen] == [True, False] * 3


def test_a_lookup_that_fails_otherwise_is_an_error_not_a_fallback() -> None:
    with Hostile(lambda h, s, r: Reply(404, {"errors": [{"title": "Not Found"}]})) as server:
        with pytest.raises(ApiError, match="404 Not Found"):
            client_for(server).find_by_name("rulesets", "Plain")
        assert len(server.seen) == 1
