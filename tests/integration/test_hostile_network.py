"""The client against servers that misbehave on purpose, over real HTTP: the token stays on
api_url, every wait is bounded, Retry-After is read in each form Outreach uses."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from rulesync.auth import StaticToken
from rulesync.client import REQUEST_DEADLINE_S, Client
from rulesync.errors import ApiError, AuthError, OutcomeUnknown
from tests.hostile import Hostile, Reply, Seen, page, ruleset

TOKEN = "secret-token-123"


def client_for(server: Hostile, **kwargs: Any) -> Client:
    return Client(server.api_url, StaticToken(TOKEN, origin="T"), backoff_factor=0.01, **kwargs)


# ---- the token stays where it belongs -----------------------------------------------------


def test_links_next_to_another_host_is_refused_and_gets_no_token() -> None:
    """outreach-conventions.yml (pagination: cursor links.next): the next link is followed
    only on the configured API; a link elsewhere would carry the bearer token there."""
    with Hostile(lambda h, s, r: Reply(200, {"data": []})) as attacker:

        def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
            return page([ruleset(1, "A")], f"{attacker.api_url}/rulesets?page[after]=x")

        with Hostile(api) as server:
            client = client_for(server)
            with pytest.raises(ApiError, match=r"links\.next points outside") as caught:
                client.list_all("rulesets")
    assert attacker.seen == []  # not one request, so no token
    assert TOKEN not in str(caught.value)
    assert attacker.url.split("//")[1] in str(caught.value)  # says where it pointed


@pytest.mark.parametrize(
    "target",
    [
        "{other}/api/v2/rulesets",  # another port: another origin
        "{same}/elsewhere/rulesets",  # same host, outside the /api/v2 prefix
        "{same}/api/v2/../../admin",  # dot segments escape the prefix
    ],
)
def test_links_next_off_the_api_prefix_is_refused(target: str) -> None:
    """outreach-conventions.yml: base_url https://api.outreach.io/api/v2 — the token is
    sent to that scheme, host, port and path prefix only."""
    with Hostile(lambda h, s, r: Reply(200, {"data": []})) as other:

        def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
            nxt = target.format(other=other.url, same=h.url)
            return page([ruleset(1, "A")], nxt)

        with Hostile(api) as server:
            with pytest.raises(ApiError, match="outside the configured API"):
                client_for(server).list_all("rulesets")
            assert len(server.seen) == 1
    assert other.seen == []


def test_redirect_off_the_api_is_not_followed() -> None:
    """outreach-conventions.yml (base_url): every request goes to api.outreach.io/api/v2; a
    redirect elsewhere is refused, so the Authorization header never leaves."""
    with Hostile(lambda h, s, r: Reply(200, {"data": []})) as attacker:

        def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
            return Reply(302, b"", {"Location": f"{attacker.url}/steal"})

        with Hostile(api) as server:
            with pytest.raises(ApiError, match=r"redirect to .* not followed"):
                client_for(server).list_all("rulesets")
            with pytest.raises(ApiError, match="not followed"):
                client_for(server).update("rulesets", 1, {"type": "ruleset", "id": 1})
    assert attacker.seen == []


def test_redirect_inside_the_api_is_followed_for_reads() -> None:
    """A redirect to another path of the same API (e.g. a trailing slash) is harmless."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if seen.path == "/api/v2/rulesets":
            return Reply(301, b"", {"Location": "/api/v2/rulesets/?page[size]=1000"})
        return page([ruleset(1, "A")])

    with Hostile(api) as server:
        items = client_for(server).list_all("rulesets")
    assert [i["id"] for i in items] == [1]
    assert all(t == f"Bearer {TOKEN}" for t in server.tokens_seen())


# ---- every wait is bounded -----------------------------------------------------------------


def test_a_pagination_loop_is_detected() -> None:
    """outreach-conventions.yml (cursor pagination, opaque page[after]): a cursor seen twice
    means the server is paging in circles; stop instead of looping forever."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        cursor = "b" if seen.query.get("page[after]") == ["a"] else "a"
        return page([ruleset(1, "A")], f"{h.api_url}/rulesets?page[after]={cursor}&n={len(h.seen)}")

    with Hostile(api) as server:
        with pytest.raises(ApiError, match="pagination loop"):
            client_for(server).list_all("rulesets")
        assert len(server.seen) == 3  # first page, cursor a, cursor b, then a again: refused


def test_pages_are_capped() -> None:
    """outreach-rate-limits.yml (quotas: max page limit 1,000): a server handing out fresh
    cursors forever is stopped at a page cap."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return page([], f"{h.api_url}/rulesets?page[after]=c{len(h.seen)}")

    with Hostile(api) as server:
        with pytest.raises(ApiError, match="more than 1000 pages"):
            client_for(server).list_all("rulesets")
        assert len(server.seen) == 1000


def test_a_huge_declared_body_is_refused_without_reading_it() -> None:
    def api(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(50 * 2**30))
        handler.end_headers()
        handler.wfile.write(b'{"data": [' + b" " * 1000)
        return None

    with Hostile(api) as server:
        started = time.monotonic()
        with pytest.raises(ApiError, match="larger than"):
            client_for(server).list_all("rulesets")
    assert time.monotonic() - started < 5


def test_an_endless_chunked_body_is_cut_at_the_cap() -> None:
    def api(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        chunk = b" " * 65536
        try:
            for _ in range(10_000):  # 640 MB if nobody stops reading
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass
        return None

    with Hostile(api) as server, pytest.raises(ApiError, match="larger than 1 MB"):
        client_for(server, body_cap=2**20).list_all("rulesets")


def _drip(where: str) -> Any:
    def api(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        wfile = handler.wfile
        try:
            if where == "headers":
                text = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000
            else:
                wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                text = b" " * 100_000
            for byte in text:  # one byte at a time, never slow enough for a read timeout
                wfile.write(bytes([byte]))
                wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass
        return None

    return api


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_server_that_drips_one_byte_at_a_time_hits_the_deadline(where: str) -> None:
    """Each read gets a byte within the read timeout, so only a total deadline ends it. The
    default is about two minutes; the test uses two seconds."""
    assert 90 <= REQUEST_DEADLINE_S <= 150
    with Hostile(_drip(where)) as server:
        started = time.monotonic()
        with pytest.raises(ApiError, match="no complete answer within 2 s"):
            client_for(server, deadline=2.0, timeout=1.0).list_all("rulesets")
        elapsed = time.monotonic() - started
        assert len(server.seen) == 1  # the deadline covers the request: it is not retried
    assert 1.9 < elapsed < 6


def test_a_dripping_write_is_an_unknown_outcome_not_a_retry() -> None:
    with Hostile(_drip("body")) as server:
        with pytest.raises(OutcomeUnknown, match="no complete answer"):
            client_for(server, deadline=1.0).create("rulesets", {"type": "ruleset"})
        assert len(server.seen) == 1


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


FORMS: dict[str, tuple[int, Callable[[int], dict[str, str]]]] = {
    # outreach-rate-limits.yml: Retry-After "Alias of X-RateLimit-Reset on 429" (epoch)
    "429 Retry-After epoch": (429, lambda reset: {"Retry-After": str(int(reset))}),
    # outreach-rate-limits.yml: X-RateLimit-Reset "When the rate-limit counter resets"
    "429 X-RateLimit-Reset epoch": (
        429,
        lambda reset: {"X-RateLimit-Reset": str(int(reset)), "X-RateLimit-Remaining": "0"},
    ),
    # RFC 9110 delay-seconds
    "429 Retry-After seconds": (429, lambda reset: {"Retry-After": "2"}),
    # RFC 9110 HTTP-date
    "503 Retry-After HTTP date": (
        503,
        lambda reset: {"Retry-After": formatdate(int(reset), usegmt=True)},
    ),
    # outreach-error-codes.yml scheduledServerMaintenance: "Retry after the ISO-8601
    # timestamp in the Retry-After header"
    "503 Retry-After ISO-8601": (503, lambda reset: {"Retry-After": _iso(int(reset))}),
}


@pytest.mark.parametrize("form", list(FORMS))
def test_retry_after_in_every_form_is_waited_for(form: str, caplog: Any) -> None:
    """outreach-rate-limits.yml (headers, responseCodes throttled 429 / maintenance 503) and
    outreach-error-codes.yml (rateLimitExceeded, scheduledServerMaintenance)."""
    status, headers = FORMS[form]
    reset = int(time.time()) + 3  # a whole second in the future, so every form can say it

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if len(h.seen) == 1:
            error = "rateLimitExceeded" if status == 429 else "scheduledServerMaintenance"
            return Reply(status, {"errors": [{"id": error, "title": "wait"}]}, headers(reset))
        return page([ruleset(1, "A")])

    with Hostile(api) as server, caplog.at_level("WARNING", logger="rulesync"):
        items = client_for(server).list_all("rulesets")
        first, second = server.seen
    assert [i["id"] for i in items] == [1]
    expected = 2.0 if form.endswith("seconds") else reset - first.at
    assert second.at - first.at >= expected - 1.05  # whole-second headers round down
    notices = [r.getMessage() for r in caplog.records]
    assert any("waiting" in m and "until" in m for m in notices), notices


def test_a_maintenance_beyond_max_wait_fails_at_once_saying_until_when() -> None:
    """outreach-error-codes.yml scheduledServerMaintenance: a window announced far ahead."""
    until = time.time() + 3 * 3600

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(
            503, {"errors": [{"id": "scheduledServerMaintenance"}]}, {"Retry-After": _iso(until)}
        )

    with Hostile(api) as server:
        started = time.monotonic()
        with pytest.raises(ApiError, match=r"unavailable until .* longer than --max-wait"):
            client_for(server).list_all("rulesets")
    assert time.monotonic() - started < 3


def test_a_403_names_the_scope_the_request_needs() -> None:
    """outreach-scopes.yml (grammar <resource>.<level>, additive: false) and
    outreach-error-codes.yml unauthorizedOauthScope."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(
            403,
            {
                "errors": [
                    {
                        "id": "unauthorizedOauthScope",
                        "title": "Unauthorized OAuth Scope",
                        "detail": "Your authorization does not include the required scope.",
                    }
                ]
            },
        )

    with Hostile(api) as server:
        client = client_for(server)
        cases: list[tuple[Callable[[], object], str]] = [
            (lambda: client.list_all("stages"), "stages.read"),
            (lambda: client.list_all("taskPriorities"), "taskPriorities.read"),
            (lambda: client.list_all("users"), "users.read"),
            (lambda: client.list_all("rulesets"), "rulesets.read"),
            (lambda: client.update("rulesets", 1, {"type": "ruleset"}), "rulesets.write"),
            (lambda: client.create("rulesets", {"type": "ruleset"}), "rulesets.write"),
            (lambda: client.delete("rulesets", 1), "rulesets.delete"),
        ]
        for call, scope in cases:
            with pytest.raises(AuthError) as caught:
                call()
            message = str(caught.value)
            assert f"lacks the OAuth scope {scope}" in message
            assert "not additive" in message


def test_a_403_for_governance_says_scopes_are_not_the_problem() -> None:
    """outreach-error-codes.yml unauthorizedRequest: scope present, user not permitted."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(403, {"errors": [{"id": "unauthorizedRequest"}]})

    with Hostile(api) as server, pytest.raises(AuthError, match="administrator"):
        client_for(server).delete("rulesets", 1)


def test_broken_text_from_the_api_is_read_not_refused() -> None:
    """Names are data: bytes that are not UTF-8 become U+FFFD; a lone surrogate escape (valid
    JSON, not valid Unicode) is kept as sent, for output and export to handle."""
    raw = b'{"data": [{"type": "ruleset", "id": 1, "attributes": {"name": "A\\ud800B\xff"}}]}'

    with Hostile(lambda h, s, r: Reply(200, raw)) as server:
        [item] = client_for(server).list_all("rulesets")
    assert item["attributes"]["name"] == "A\ud800B\ufffd"


def test_retries_of_one_request_are_bounded_in_number() -> None:
    """outreach-rate-limits.yml policies (Backoff strategy): retry, but not forever."""
    with Hostile(lambda h, s, r: Reply(500, {"errors": [{"title": "oops"}]})) as server:
        with pytest.raises(ApiError, match="500 oops"):
            client_for(server).list_all("rulesets")
        assert len(server.seen) == 9  # the first try and 8 retries


def test_retries_of_one_request_are_bounded_in_time() -> None:
    """Slow failures: the deadline covers every attempt of a request, not each one."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        time.sleep(0.4)
        return Reply(502, {"errors": [{"title": "bad gateway"}]})

    with Hostile(api) as server:
        started = time.monotonic()
        with pytest.raises(ApiError, match="502 bad gateway"):
            client_for(server, deadline=1.0).list_all("rulesets")
        assert len(server.seen) <= 3
    assert time.monotonic() - started < 2.5


def test_a_lookup_by_name_follows_links_next_only_on_the_api() -> None:
    """outreach-conventions.yml (filtering.new_syntax, cursor pagination): the name lookup
    pages too, so its links.next gets the same origin check as list_all."""
    with Hostile(lambda h, s, r: Reply(200, {"data": []})) as attacker:

        def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
            return page([ruleset(1, "A")], f"{attacker.api_url}/rulesets?page[after]=x")

        with Hostile(api) as server, pytest.raises(ApiError, match="outside the configured"):
            client_for(server).find_by_name("rulesets", "A")
    assert attacker.seen == []
