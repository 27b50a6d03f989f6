"""What the client does when a request goes wrong, against servers that fail on purpose: which
answers are retried and how often, how long it waits and when it stops waiting, which redirects
it follows, and what each error says (method, path, status, the API's own detail, what to do).

Citations: outreach-rate-limits.yml (429, 503, X-RateLimit-*, Retry-After, backoff policy),
outreach-error-codes.yml (the JSON:API error object, scheduledServerMaintenance),
outreach-conventions.yml (idempotency: POST is never deduplicated, so never retried blindly)."""

from __future__ import annotations

import itertools
import logging
import re
import socket
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from rulesync.auth import OAuthRefresh, StaticToken
from rulesync.client import Client, NoAnswer, post_form
from rulesync.errors import ApiError, AuthError, OutcomeUnknown, RateLimited
from tests.hostile import TLS_CERT, Hostile, Reply, Seen, page, ruleset

TOKEN = "failing-token-789"
Call = Callable[[Client], object]


def client_for(server: Hostile, **kwargs: Any) -> Client:
    kwargs.setdefault("backoff_factor", 0.01)
    return Client(server.api_url, StaticToken(TOKEN, origin="RULESYNC_TOKEN"), **kwargs)


def failing(status: int, times: int, **headers: str) -> Any:
    """Answers ``status`` to the first ``times`` requests, then succeeds."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if len(h.seen) <= times:
            return Reply(status, {"errors": [{"title": "oops"}]}, dict(headers))
        if seen.method == "GET":
            return page([ruleset(1, "A")])
        if seen.method == "DELETE":
            return Reply(204, b"")
        return Reply(201 if seen.method == "POST" else 200, {"data": ruleset(1, "A")})

    return api


CALLS: dict[str, Call] = {
    "GET": lambda c: c.list_all("rulesets"),
    "POST": lambda c: c.create("rulesets", {"type": "ruleset", "attributes": {"name": "A"}}),
    "PATCH": lambda c: c.update("rulesets", 1, {"type": "ruleset", "id": 1}),
    "DELETE": lambda c: c.delete("rulesets", 1),
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def clocks(epoch: float) -> set[str]:
    """The local clock times within a second of ``epoch``, as messages print them."""
    return {time.strftime("%H:%M:%S", time.localtime(epoch + d)) for d in (-1, 0, 1)}


# ---- what is retried, and how many times -----------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_transient_answers_are_retried(method: str, status: int) -> None:
    """outreach-rate-limits.yml (throttled 429, maintenance 503; Backoff strategy) and
    outreach-conventions.yml (idempotency: GET and DELETE are safe to retry; a PATCH sets the
    same fields again)."""
    with Hostile(failing(status, 1)) as server:
        CALLS[method](client_for(server))
        assert len(server.seen) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422, 501, 505])
def test_other_answers_are_not_retried(status: int) -> None:
    with Hostile(failing(status, 1)) as server:
        with pytest.raises(ApiError) as caught:
            CALLS["PATCH"](client_for(server))
        assert len(server.seen) == 1
    assert caught.value.status == status


def test_a_create_is_retried_after_a_429_only() -> None:
    """outreach-conventions.yml (idempotency: POST is not deduplicated): a 429 means nothing
    was done, so the create is sent again; a 5xx may hide a create that happened."""
    with Hostile(failing(429, 1)) as server:
        CALLS["POST"](client_for(server))
        assert len(server.seen) == 2
    for status in (500, 502, 503, 504):
        with Hostile(failing(status, 1)) as server:
            with pytest.raises(OutcomeUnknown) as caught:
                CALLS["POST"](client_for(server))
            assert len(server.seen) == 1
        assert str(caught.value) == f"POST /api/v2/rulesets: {status} oops"
        assert caught.value.status == status


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_retries_stop_after_eight(method: str) -> None:
    """outreach-rate-limits.yml (Backoff strategy): retry, but not forever."""
    with Hostile(failing(500, 20)) as server:
        with pytest.raises(ApiError) as caught:
            CALLS[method](client_for(server, backoff_factor=0.001))
        assert len(server.seen) == 9
    assert type(caught.value) is ApiError  # a read or an update: nothing unknown
    assert caught.value.status == 500


def test_retries_wait_longer_each_time() -> None:
    """Exponential backoff with jitter: 0.1 s, then 0.2 s, then 0.4 s (each within 20%)."""
    with Hostile(failing(500, 3)) as server:
        client_for(server, backoff_factor=0.1).list_all("rulesets")
        times = [s.at for s in server.seen]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for gap, expected in zip(gaps, [0.1, 0.2, 0.4], strict=True):
        assert 0.8 * expected - 0.01 <= gap <= 1.2 * expected + 0.15, gaps


def test_the_first_retry_waits_half_a_second_by_default() -> None:
    with Hostile(failing(502, 1)) as server:
        Client(server.api_url, StaticToken(TOKEN, origin="T")).list_all("rulesets")
        first, second = server.seen
    assert 0.39 <= second.at - first.at <= 0.95


def test_a_refused_connection_is_tried_four_times_and_names_api_url() -> None:
    """A refused connection is rarely transient (a wrong api_url, a firewall): three quick
    retries, then an error that says where it tried and what to check."""
    api_url = f"http://127.0.0.1:{free_port()}/api/v2"
    client = Client(api_url, StaticToken(TOKEN, origin="T"), backoff_factor=0.01)
    with pytest.raises(ApiError) as caught:
        client.list_all("rulesets")
    assert client.requests == 4
    message = str(caught.value)
    assert message.startswith(f"GET /api/v2/rulesets: cannot reach the API at {api_url} (")
    assert message.endswith("); check api_url and the network")
    assert "Connection refused" in message or "Errno" in message
    assert "HTTPConnectionPool" not in message and "Max retries" not in message
    assert len(message) < 400


def test_a_create_whose_connection_was_refused_was_never_sent() -> None:
    api_url = f"http://127.0.0.1:{free_port()}/api/v2"
    client = Client(api_url, StaticToken(TOKEN, origin="T"), backoff_factor=0.01)
    with pytest.raises(OutcomeUnknown, match=r"^POST /api/v2/rulesets: no answer \(") as caught:
        CALLS["POST"](client)
    assert client.requests == 4  # never sent, so safe to try again
    assert "HTTPConnectionPool" not in str(caught.value)


def _drop(handler: BaseHTTPRequestHandler) -> None:
    """Read the request, hang up without a word."""
    handler.close_connection = True


def test_a_create_whose_answer_was_lost_is_not_sent_again() -> None:
    """outreach-conventions.yml (idempotency: POST is not deduplicated): a create that
    reached the server but whose answer was lost may have happened; sending it again could make
    two, so the caller is told the outcome is unknown (and resolves it by name)."""

    def api(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> Reply | None:
        if seen.method == "POST":
            _drop(handler)
            return None
        return page([])

    with Hostile(api) as server:
        with pytest.raises(OutcomeUnknown) as caught:
            CALLS["POST"](client_for(server))
        assert [s.method for s in server.seen] == ["POST"]
    message = str(caught.value)
    assert message.startswith("POST /api/v2/rulesets: no answer (") and message.endswith(")")
    assert caught.value.method == "POST" and caught.value.url == "/api/v2/rulesets"


def test_a_dropped_connection_after_a_5xx_is_retried_too() -> None:
    def api(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> Reply | None:
        n = len(h.seen)
        if n == 1:
            return Reply(502, {"errors": [{"title": "bad gateway"}]})
        if n == 2:
            _drop(handler)
            return None
        return page([ruleset(1, "A")])

    with Hostile(api) as server:
        assert [i["id"] for i in client_for(server).list_all("rulesets")] == [1]
        assert len(server.seen) == 3


def test_a_server_that_stops_answering_is_given_up_on_after_the_read_timeout() -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if len(h.seen) == 1:
            time.sleep(1.5)
        return page([ruleset(1, "A")])

    with Hostile(api) as server:
        started = time.monotonic()
        assert client_for(server, timeout=0.3).list_all("rulesets")
        assert len(server.seen) == 2
    assert time.monotonic() - started < 1.3


# ---- waits the server asks for -------------------------------------------------------------


def test_maintenance_waits_count_against_max_wait_not_the_deadline(caplog: Any) -> None:
    """outreach-error-codes.yml scheduledServerMaintenance (503, Retry-After) and
    outreach-rate-limits.yml (maintenance: 503): the waits the server asks for are waited in
    full, up to --max-wait in all, and are not part of the request's deadline."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        n = len(h.seen)
        if n == 1:
            error = {"errors": [{"id": "scheduledServerMaintenance", "title": "Maintenance"}]}
            return Reply(503, error, {"Retry-After": "1"})
        if n == 2:
            return Reply(503, b"<html>down</html>", {"Retry-After": "1"})
        return page([ruleset(1, "A")])

    with Hostile(api) as server, caplog.at_level(logging.WARNING, logger="rulesync"):
        client = client_for(server, max_wait=2.0, deadline=1.0)
        assert [i["id"] for i in client.list_all("rulesets")] == [1]
        times = [s.at for s in server.seen]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.95 and times[2] - times[1] >= 0.95
    records = [r for r in caplog.records if r.name == "rulesync.client"]
    assert all(getattr(r, "notice", False) is True for r in records)  # shown as plain lines
    notices = [r.getMessage() for r in records]
    assert len(notices) == 2, notices
    assert re.fullmatch(
        r"the API is unavailable \(scheduledServerMaintenance\): waiting 1 s, until "
        r"\d\d:\d\d:\d\d",
        notices[0],
    )
    assert re.fullmatch(r"the API is unavailable \(503\): waiting 1 s, until \S+", notices[1])


def test_a_retry_after_on_429_is_waited_out_and_said(caplog: Any) -> None:
    """outreach-rate-limits.yml: Retry-After on 429 (here as delay-seconds)."""
    with Hostile(failing(429, 1, **{"Retry-After": "1"})) as server:
        with caplog.at_level(logging.WARNING, logger="rulesync"):
            client_for(server, deadline=0.5).list_all("rulesets")
        first, second = server.seen
    assert second.at - first.at >= 0.95
    records = [r for r in caplog.records if r.name == "rulesync.client"]
    notices = [r.getMessage() for r in records]
    assert len(notices) == 1 and notices[0].startswith("rate limit: waiting 1 s, until ")
    assert getattr(records[0], "notice", False) is True  # shown as a plain line, no WARNING:


def test_a_budget_used_up_is_waited_for_before_the_next_request(caplog: Any) -> None:
    """outreach-rate-limits.yml (X-RateLimit-Remaining, X-RateLimit-Reset): with nothing
    left, the next request waits for the reset instead of drawing a 429. A short wait is
    pacing, logged with -v only; a longer one is announced once."""
    resets = iter(["0.5", "1", "1"])

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "1"}
        reset = next(resets, None)
        if reset is not None:
            headers["X-RateLimit-Reset"] = reset
        return Reply(200, {"data": [], "links": {}}, headers)

    with Hostile(api) as server, caplog.at_level(logging.INFO, logger="rulesync"):
        client = client_for(server, deadline=0.5)
        client.list_all("rulesets")
        caplog.clear()
        client.list_all("rulesets")  # 0.5 s: pacing
        paced = [(r.levelno, r.getMessage()) for r in caplog.records if "rate limit" in r.msg]
        caplog.clear()
        client.list_all("rulesets")  # 1 s: announced
        announced = [(r.levelno, r.getMessage()) for r in caplog.records if "rate limit" in r.msg]
        times = [s.at for s in server.seen]
    assert times[1] - times[0] >= 0.45 and times[2] - times[1] >= 0.95
    assert [level for level, _ in paced] == [logging.INFO]
    assert re.fullmatch(r"rate limit: pacing, waiting 0\.\d s", paced[0][1])
    assert [level for level, _ in announced] == [logging.WARNING]
    assert re.fullmatch(r"rate limit: waiting 1 s, until \d\d:\d\d:\d\d", announced[0][1])


@pytest.mark.parametrize(
    ("max_wait", "shown"),
    [(119, "119 s"), (120, "2 min"), (7199, "120 min"), (7200, "2.0 h"), (7380.1, "2.1 h")],
)
def test_a_maintenance_beyond_max_wait_says_until_when(max_wait: float, shown: str) -> None:
    """outreach-error-codes.yml scheduledServerMaintenance: a window announced far ahead
    (Retry-After as an ISO-8601 timestamp) is not waited for."""
    until = time.time() + 3 * 3600
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until))

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(503, {"errors": [{"id": "scheduledServerMaintenance"}]}, {"Retry-After": iso})

    with Hostile(api) as server:
        with pytest.raises(ApiError) as caught:
            client_for(server, max_wait=max_wait).update("rulesets", 1, {"type": "ruleset"})
        assert len(server.seen) == 1
    message = str(caught.value)
    prefix = "PATCH /api/v2/rulesets/1: 503: the API is unavailable until "
    assert message.startswith(prefix)
    clock = message[len(prefix) : len(prefix) + 8]
    assert clock in clocks(int(until)), message
    assert message[len(prefix) + 8 :] == (
        f" (Retry-After), longer than --max-wait ({shown}); run again after that"
    )
    assert (caught.value.status, caught.value.method) == (503, "PATCH")


@pytest.mark.parametrize(
    ("ahead", "shown"), [(100, {"99 s", "100 s"}), (1500, {"25 min"}), (9000, {"2.5 h"})]
)
def test_a_rate_limit_beyond_max_wait_is_not_waited_for(ahead: int, shown: set[str]) -> None:
    """outreach-rate-limits.yml: Retry-After on 429 is the epoch second the budget resets."""
    reset = int(time.time()) + ahead

    with Hostile(failing(429, 5, **{"Retry-After": str(reset)})) as server:
        client = client_for(server, max_wait=60)
        assert client.exhausted_until is None
        started = time.monotonic()
        with pytest.raises(RateLimited) as caught:
            client.list_all("rulesets")
        assert len(server.seen) == 1
    assert time.monotonic() - started < 2
    err = caught.value
    assert abs(err.reset_at - reset) < 2 and client.exhausted_until == err.reset_at
    message = str(err)
    prefix = "GET /api/v2/rulesets: not sent: the API's rate limit is used up until "
    assert message.startswith(prefix)
    assert message[len(prefix) : len(prefix) + 8] in clocks(reset)
    rest = message[len(prefix) + 8 :]
    assert rest in {
        f" (in {span}), longer than --max-wait (60 s); run again after that" for span in shown
    }


# ---- redirects -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_read_follows_a_redirect_within_the_api(status: int) -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if seen.path == "/api/v2/rulesets":
            return Reply(status, b"", {"Location": "/api/v2/rulesets/?page[size]=1000"})
        return page([ruleset(1, "A")])

    with Hostile(api) as server:
        assert [i["id"] for i in client_for(server).list_all("rulesets")] == [1]
        assert server.seen[1].query == {"page[size]": ["1000"]}  # the redirect's own query


def test_a_redirect_chain_is_followed_five_times_at_most() -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        n = len(h.seen)
        if n > 20:
            return page([ruleset(1, "A")])
        return Reply(302, b"", {"Location": f"/api/v2/r{n}"})

    with Hostile(api) as server:
        with pytest.raises(ApiError) as caught:
            client_for(server).list_all("rulesets")
        assert [s.path for s in server.seen] == [
            "/api/v2/rulesets",
            *(f"/api/v2/r{n}" for n in range(1, 6)),
        ]
    assert str(caught.value) == (
        f"GET /api/v2/r5: 302 redirect to {server.url}/api/v2/r6, not followed: rulesync sends "
        f"the token only to api_url ({server.api_url}) and does not follow redirects of writes "
        "or off it; check api_url (https, host and the /api/v2 path)"
    )


@pytest.mark.parametrize("method", ["POST", "PATCH", "DELETE"])
def test_a_write_does_not_follow_a_redirect_even_within_the_api(method: str) -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(307, b"", {"Location": "/api/v2/other"})

    with Hostile(api) as server:
        with pytest.raises(ApiError, match=r"307 redirect to .* not followed"):
            CALLS[method](client_for(server))
        assert len(server.seen) == 1


# ---- what errors say -------------------------------------------------------------------------


def test_a_refused_token_names_where_it_came_from() -> None:
    """outreach-authentication.yml: a 401 means the token is not (or no longer) accepted."""
    with (
        Hostile(lambda h, s, r: Reply(401, {"errors": [{"title": "Unauthorized"}]})) as server,
        pytest.raises(AuthError) as caught,
    ):
        client_for(server).list_all("rulesets")
    assert str(caught.value) == (
        "GET /api/v2/rulesets: 401 Unauthorized — the API refused the credentials; check the "
        "token in $RULESYNC_TOKEN (expired, or for another org?)"
    )
    assert caught.value.status == 401 and caught.value.method == "GET"
    assert TOKEN not in str(caught.value)


def test_a_refused_oauth_token_points_at_the_auth_settings() -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if seen.path == "/oauth/token":
            body = {"access_token": "access-1", "expires_in": 7200}
            return Reply(200, body, {"Content-Type": "application/json"})
        return Reply(401, b"")

    with Hostile(api) as server:
        tokens = OAuthRefresh(
            token_url=f"{server.url}/oauth/token",
            client_id="cid",
            client_secret="secret",
            refresh_token="refresh",
        )
        with pytest.raises(AuthError) as caught:
            Client(server.api_url, tokens).list_all("rulesets")
    assert str(caught.value).endswith(
        "401 Unauthorized — the API refused the credentials; check the credentials named in "
        "auth: (expired, or for another org?)"
    )


def test_a_403_carries_its_status() -> None:
    with (
        Hostile(lambda h, s, r: Reply(403, {"errors": [{"id": "unauthorizedRequest"}]})) as srv,
        pytest.raises(AuthError) as caught,
    ):
        client_for(srv).list_all("rulesets")
    assert caught.value.status == 403
    assert str(caught.value) == (
        "GET /api/v2/rulesets: 403 unauthorizedRequest — the token has the scope, but the "
        "user's Outreach permissions (governance profile) do not allow this; ask an Outreach "
        "administrator"
    )


def test_a_403_for_a_scope_names_the_resource_and_level() -> None:
    """outreach-scopes.yml (<resource>.<level>, not additive)."""
    with (
        Hostile(lambda h, s, r: Reply(403, {"errors": [{"id": "unauthorizedOauthScope"}]})) as s,
        pytest.raises(AuthError) as caught,
    ):
        client_for(s).delete("sequences", 5)
    assert str(caught.value) == (
        "DELETE /api/v2/sequences/5: 403 unauthorizedOauthScope — the token lacks the OAuth "
        "scope sequences.delete; re-authorize the app with it (scopes are not additive: "
        "sequences.write does not grant sequences.read; sequences.all grants read, write and "
        "delete)"
    )


@pytest.mark.parametrize(
    ("status", "body", "shown"),
    [
        # outreach-error-codes.yml: every error object's detail, else title, else id,
        # with source.pointer when it names a field
        (
            409,
            {
                "errors": [
                    {
                        "id": "validationError",
                        "title": "Validation Error",
                        "detail": "Name can't be blank.",
                        "source": {"pointer": "/data/attributes/name"},
                    },
                    {"id": "other", "title": "Other Title"},
                    {"id": "justAnId", "source": {"pointer": ""}},
                    "not an object",
                ]
            },
            "409 Name can't be blank. (at /data/attributes/name); Other Title; justAnId",
        ),
        (409, {"errors": [{}]}, "409 Conflict"),  # nothing to say: the HTTP reason
        (409, {"errors": "broken"}, "409 Conflict"),
        (404, b"", "404 Not Found"),
        (400, b"<html>", "400 Bad Request"),
        (499, b"", "499"),  # no reason phrase known
    ],
)
def test_an_error_answer_says_what_the_api_said(status: int, body: Any, shown: str) -> None:
    with Hostile(lambda h, s, r: Reply(status, body)) as server:
        with pytest.raises(ApiError) as caught:
            client_for(server).update("rulesets", 3, {"type": "ruleset", "id": 3})
        assert len(server.seen) == 1
    assert str(caught.value) == f"PATCH /api/v2/rulesets/3: {shown}"
    assert caught.value.url == "/api/v2/rulesets/3" and caught.value.status == status


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        (b"<html>hello</html>", "the answer is not JSON"),
        (b"[1, 2]", "unexpected answer (not a JSON object)"),
        (b'{"data": [1]}', "the answer has no data object"),
        (b'{"data": "x"}', "the answer has no data object"),
    ],
)
def test_a_write_answer_that_is_not_a_resource_is_an_error(content: bytes, shown: str) -> None:
    with Hostile(lambda h, s, r: Reply(201, content)) as server, pytest.raises(ApiError) as caught:
        CALLS["POST"](client_for(server))
    assert str(caught.value) == f"POST /api/v2/rulesets: {shown}"


def test_delete_of_what_is_gone_is_done_and_other_failures_are_errors() -> None:
    answers = iter([Reply(404, b""), Reply(405, b""), Reply(204, b"")])
    with Hostile(lambda h, s, r: next(answers)) as server:
        client = client_for(server)
        assert client.delete("rulesets", 1) is False
        with pytest.raises(ApiError, match="405"):
            client.delete("rulesets", 1)
        assert client.delete("rulesets", 1) is True


# ---- bounds on what is read ------------------------------------------------------------------


def _body_of(size: int, *, chunked: bool) -> Any:
    payload = b'{"data": []' + b" " * (size - 12) + b"}"
    assert len(payload) == size

    def api(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/vnd.api+json")
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            for start in range(0, size, 50_000):
                part = payload[start : start + 50_000]
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            handler.wfile.write(b"0\r\n\r\n")
        else:
            handler.send_header("Content-Length", str(size))
            handler.end_headers()
            handler.wfile.write(payload)
        return None

    return api


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_an_answer_of_exactly_the_size_cap_is_read(chunked: bool) -> None:
    cap = 300_000
    with Hostile(_body_of(cap, chunked=chunked)) as server:
        assert client_for(server, body_cap=cap).list_all("rulesets") == []
    with Hostile(_body_of(cap + 1, chunked=chunked)) as server, pytest.raises(ApiError) as caught:
        client_for(server, body_cap=cap).list_all("rulesets")
    assert str(caught.value).startswith("GET /api/v2/rulesets: the answer is larger than 0 MB (")


def test_the_request_log_says_status_time_retries_and_budget(caplog: Any) -> None:
    """With -v: one line per answer; outreach-rate-limits.yml X-RateLimit-Remaining."""

    def api(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> Reply | None:
        n = len(h.seen)
        if n == 1:
            _drop(handler)
            return None
        time.sleep(0.1)
        if n == 2:
            return Reply(502, {"errors": [{"title": "bad gateway"}]})
        return Reply(200, {"data": []}, {"X-RateLimit-Remaining": "42"})

    with Hostile(api) as server, caplog.at_level(logging.INFO, logger="rulesync"):
        client = client_for(server)
        client.list_all("rulesets")
        client.list_all("rulesets")
    lines = [r.getMessage() for r in caplog.records if r.name == "rulesync.client"]
    assert len(lines) == 4, lines
    assert lines[0].startswith("GET /api/v2/rulesets -> no answer (")
    first = re.fullmatch(r"GET /api/v2/rulesets -> 502 in (\d+) ms, retry 1", lines[1])
    second = re.fullmatch(
        r"GET /api/v2/rulesets -> 200 in (\d+) ms, retry 2, 42 requests left", lines[2]
    )
    third = re.fullmatch(r"GET /api/v2/rulesets -> 200 in (\d+) ms, 42 requests left", lines[3])
    assert first and second and third, lines
    assert all(90 <= int(m.group(1)) < 5000 for m in (first, second, third))


# ---- the token request ---------------------------------------------------------------------


def test_the_token_request_is_a_form_post_asking_for_json() -> None:
    """outreach-authentication.yml: the token endpoint takes a form and answers JSON."""

    def endpoint(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(200, {"access_token": "a"}, {"Content-Type": "application/json"})

    with Hostile(endpoint) as server:
        answer = post_form(f"{server.url}/oauth/token", {"grant_type": "refresh_token"})
        [seen] = server.seen
    assert (seen.method, seen.path) == ("POST", "/oauth/token")
    assert seen.headers["Accept"] == "application/json"
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.body == b"grant_type=refresh_token"
    assert answer.status == 200 and answer.body == {"access_token": "a"}


def test_a_token_answer_over_a_mebibyte_is_refused() -> None:
    with Hostile(_body_of(2**20, chunked=False)) as server:
        assert post_form(f"{server.url}/oauth/token", {}).body == {"data": []}
    with (
        Hostile(_body_of(2**20 + 1, chunked=False)) as server,
        pytest.raises(NoAnswer, match=r"^the answer is larger than the size cap$"),
    ):
        post_form(f"{server.url}/oauth/token", {})


def test_a_token_answer_that_is_not_an_object_has_no_body() -> None:
    with Hostile(lambda h, s, r: Reply(200, b'["a"]')) as server:
        answer = post_form(f"{server.url}/oauth/token", {})
    assert answer.status == 200 and answer.body is None


def test_the_token_request_has_a_deadline_too() -> None:
    def drip(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(1000):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass
        return None

    with Hostile(drip) as server:
        started = time.monotonic()
        with pytest.raises(NoAnswer, match=r"^no complete answer within 1 s$"):
            post_form(f"{server.url}/oauth/token", {}, deadline_s=1.0)
    assert time.monotonic() - started < 4


# ---- more bounds -----------------------------------------------------------------------------


def test_a_request_out_of_time_before_it_could_be_sent_is_not_sent() -> None:
    """The deadline covers the backoff between connection attempts too."""
    api_url = f"http://127.0.0.1:{free_port()}/api/v2"
    client = Client(api_url, StaticToken(TOKEN, origin="T"), backoff_factor=0.2, deadline=0.1)
    with pytest.raises(ApiError) as caught:
        client.list_all("rulesets")
    assert client.requests == 1
    assert str(caught.value) == (
        f"GET /api/v2/rulesets: cannot reach the API at {api_url} (no complete answer within "
        "0 s); check api_url and the network"
    )


def test_a_proxy_from_the_environment_is_bounded_by_the_deadline(monkeypatch: Any) -> None:
    def drip(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(1000):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass
        return None

    with Hostile(drip) as proxy:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        client = Client(
            "http://api.outreach.test/api/v2", StaticToken(TOKEN, origin="T"), deadline=1.0
        )
        started = time.monotonic()
        with pytest.raises(ApiError) as caught:
            client.list_all("rulesets")
        assert len(proxy.seen) == 1
    assert str(caught.value) == (
        "GET /api/v2/rulesets: cannot reach the API at http://api.outreach.test/api/v2 (no "
        "complete answer within 1 s); check api_url and the network"
    )
    assert time.monotonic() - started < 4


def test_a_token_is_refreshed_once_per_request_however_often_minting_is_allowed() -> None:
    """outreach-authentication.yml: a 401 means a new access token is needed, once; a new
    token refused again means the credentials are wrong, whatever the token endpoint allows."""
    now = [1000.0]

    def clock() -> float:
        now[0] += 61  # every read a minute later: minting is always allowed
        return now[0]

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if seen.path == "/oauth/token":
            minted = sum(s.path == "/oauth/token" for s in h.seen)
            body = {"access_token": f"access-{minted}", "expires_in": 7200}
            return Reply(200, body, {"Content-Type": "application/json"})
        if len(h.seen) > 30:
            return page([])
        return Reply(401, {"errors": [{"title": "Unauthorized"}]})

    with Hostile(api) as server:
        tokens = OAuthRefresh(
            token_url=f"{server.url}/oauth/token",
            client_id="cid",
            client_secret="secret",
            refresh_token="refresh",
            clock=clock,
        )
        with pytest.raises(AuthError, match="401"):
            Client(server.api_url, tokens).list_all("rulesets")
        api_calls = [s.headers["Authorization"] for s in server.seen if s.path != "/oauth/token"]
    assert api_calls == ["Bearer access-1", "Bearer access-2"]


def test_a_redirect_without_a_location_goes_nowhere_new() -> None:
    with Hostile(lambda h, s, r: Reply(302, b"")) as server:
        with pytest.raises(ApiError, match="302 redirect to"):
            client_for(server).list_all("rulesets")
        assert {s.path for s in server.seen} == {"/api/v2/rulesets"}


def test_a_403_on_a_later_page_names_the_scope_of_the_listing() -> None:
    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if "page[after]" in seen.query:
            return Reply(403, {"errors": [{"id": "unauthorizedOauthScope"}]})
        return page([ruleset(1, "A")], f"{h.api_url}/stages?page[after]=x")

    with Hostile(api) as server, pytest.raises(AuthError) as caught:
        client_for(server).list_all("stages")
    assert "lacks the OAuth scope stages.read;" in str(caught.value)


def test_an_answer_declared_over_32_mb_is_refused_unread() -> None:
    """README (limits): an answer larger than 32 MB is refused (a page of 1000 rulesets is about
    2 MB); one that says so in its headers is refused before a byte of it is read."""

    def api(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(32 * 2**20 + 1))
        handler.end_headers()
        handler.wfile.write(b'{"data": [')
        time.sleep(1.5)  # and then nothing
        return None

    with Hostile(api) as server, pytest.raises(ApiError) as caught:
        client_for(server, deadline=1.0).list_all("rulesets")
    assert str(caught.value) == ("GET /api/v2/rulesets: the answer is larger than 32 MB (33554433)")


def test_a_budget_that_never_comes_back_is_waited_for_up_to_max_wait_in_all() -> None:
    """outreach-rate-limits.yml (X-RateLimit-Limit, -Remaining, -Reset): a server whose
    window resets to nothing left keeps the client waiting; every wait of one request counts
    against --max-wait, so it stops instead of waiting forever."""

    def api(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        headers = {"X-RateLimit-Limit": "0", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}
        return Reply(200, {"data": []}, headers)

    with Hostile(api) as server:
        client = client_for(server, max_wait=1.5)
        client.list_all("rulesets")
        started = time.monotonic()
        with pytest.raises(RateLimited, match="longer than --max-wait"):
            client.list_all("rulesets")
        assert len(server.seen) == 1
    assert 1.0 <= time.monotonic() - started < 3


def test_https_requests_are_bounded_by_the_deadline_too(monkeypatch: Any) -> None:
    """outreach-conventions.yml base_url https://api.outreach.io/api/v2: the real API is
    HTTPS, and a server dripping its answer over TLS hits the same total deadline."""

    def drip(h: Hostile, seen: Seen, handler: BaseHTTPRequestHandler) -> None:
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            for _ in range(1000):
                handler.wfile.write(b" ")
                handler.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass
        return None

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(TLS_CERT))
    with Hostile(drip, tls=True) as server:
        assert server.api_url.startswith("https://")
        started = time.monotonic()
        with pytest.raises(ApiError) as caught:
            client_for(server, deadline=1.0).list_all("rulesets")
        assert len(server.seen) == 1
        assert str(caught.value) == (
            f"GET /api/v2/rulesets: cannot reach the API at {server.api_url} (no complete "
            "answer within 1 s); check api_url and the network"
        )
        assert server.seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert time.monotonic() - started < 4
