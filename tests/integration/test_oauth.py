"""The OAuth refresh flow against a token endpoint that misbehaves on purpose, over HTTP."""

from __future__ import annotations

import os
import stat
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from rulesync.auth import OAuthRefresh, token_source
from rulesync.config import Auth
from rulesync.errors import AuthError, ConfigError
from tests.hostile import Hostile, Reply, Seen

SECRET = "client-secret-xyz"
REFRESH = "refresh-token-0"


def minted(n: int, **extra: Any) -> Reply:
    return Reply(
        200,
        {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}", **extra},
        {"Content-Type": "application/json"},
    )


def tokens_for(server: Hostile) -> OAuthRefresh:
    return OAuthRefresh(
        token_url=f"{server.url}/oauth/token",
        client_id="cid",
        client_secret=SECRET,
        refresh_token=REFRESH,
    )


@pytest.fixture(autouse=True)
def out_file(tmp_path: Path, monkeypatch: Any) -> Path:
    out = tmp_path / "refresh.txt"
    monkeypatch.setenv("RULESYNC_REFRESH_TOKEN_OUT", str(out))
    return out


def test_a_429_from_the_token_endpoint_is_waited_out(out_file: Path, caplog: Any) -> None:
    """outreach-rate-limits.yml (OAuth access-token minting: 1 per 60 seconds per user and
    application, 429 beyond) and outreach-authentication.yml (mint_throttle)."""

    def endpoint(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        if len(h.seen) == 1:
            return Reply(429, {"error": "rate_limited"}, {"Retry-After": "1"})
        return minted(1)

    with Hostile(endpoint) as server, caplog.at_level("WARNING", logger="rulesync"):
        assert tokens_for(server).token() == "access-1"
        first, second = server.seen
    assert second.at - first.at >= 0.95
    assert any("waiting" in r.getMessage() for r in caplog.records)
    assert out_file.read_text() == "refresh-1"


@pytest.mark.parametrize("first", ["503", "drop"])
def test_unavailable_then_success(first: str) -> None:
    """A 5xx or a dropped connection is 'unavailable', not 'refused': retried."""

    def endpoint(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply | None:
        if len(h.seen) == 1:
            return None if first == "drop" else Reply(503, {}, {"Retry-After": "0"})
        return minted(1)

    with Hostile(endpoint) as server:
        assert tokens_for(server).token() == "access-1"
        assert len(server.seen) == 2


def test_an_endpoint_that_stays_down_is_reported_unavailable_after_bounded_tries() -> None:
    def endpoint(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(502, b"<html>bad gateway</html>", {"Retry-After": "0"})

    with Hostile(endpoint) as server:
        with pytest.raises(AuthError, match=r"unavailable .* credentials were not refused"):
            tokens_for(server).token()
        assert len(server.seen) == 4


def test_invalid_grant_is_refused_with_re_authorize_and_not_retried() -> None:
    """outreach-authentication.yml (refresh_token_ttl_days 14, max 100 active): an expired,
    revoked or rotated refresh token; RFC 6749 §5.2 invalid_grant."""

    def endpoint(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(400, {"error": "invalid_grant", "error_description": f"bad {REFRESH}"})

    with Hostile(endpoint) as server:
        with pytest.raises(AuthError, match="re-authorize") as caught:
            tokens_for(server).token()
        assert len(server.seen) == 1
    assert REFRESH not in str(caught.value)


def test_the_token_request_never_follows_a_redirect() -> None:
    with Hostile(lambda h, s, r: minted(9)) as attacker:

        def endpoint(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
            return Reply(307, b"", {"Location": f"{attacker.url}/oauth/token"})

        with Hostile(endpoint) as server:
            with pytest.raises(AuthError, match="redirect"):
                tokens_for(server).token()
            form = parse_qs(server.seen[0].body.decode())
            assert form["client_secret"] == [SECRET]  # sent to token_url, and only there
    assert attacker.seen == []


def test_a_reply_without_expires_in_and_with_extra_fields_is_used(out_file: Path) -> None:
    """outreach-authentication.yml token_response_fields (access_token, token_type,
    expires_in, refresh_token, scope, created_at); access_token_ttl_seconds 7200."""

    def endpoint(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return minted(len(h.seen), scope="rulesets.all", created_at=1, surprise={"x": [1]})

    with Hostile(endpoint) as server:
        tokens = tokens_for(server)
        assert tokens.token() == "access-1"
        assert tokens.token() == "access-1"  # cached: no expires_in means Outreach's 2 hours
        assert len(server.seen) == 1


def test_a_200_without_access_token_is_reported_as_such() -> None:
    server = Hostile(lambda h, s, r: Reply(200, {"token": "x"}))
    with server, pytest.raises(AuthError, match="without an access_token"):
        tokens_for(server).token()


def test_an_unwritable_refresh_token_out_stops_before_minting(
    out_file: Path, monkeypatch: Any
) -> None:
    """A mint rotates the refresh token (outreach-authentication.yml refresh:
    grant_type=refresh_token); one that cannot be saved would lock the next run out."""
    blocker = out_file.parent / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("RULESYNC_REFRESH_TOKEN_OUT", str(blocker / "t"))
    with Hostile(lambda h, s, r: minted(1)) as server:
        with pytest.raises(ConfigError, match="cannot be written"):
            tokens_for(server).token()
        assert server.seen == []


def test_the_rotated_token_is_written_atomically_and_privately(out_file: Path) -> None:
    out_file.write_text("old")
    out_file.chmod(0o644)
    with Hostile(lambda h, s, r: minted(1)) as server:
        tokens_for(server).token()
    assert out_file.read_text() == "refresh-1"
    assert stat.S_IMODE(out_file.stat().st_mode) == 0o600
    assert os.listdir(out_file.parent) == ["refresh.txt"]  # no temporary file left behind


@pytest.mark.parametrize("value", ["abc\r\nX-Injected: 1", "tökén€", "a\x1bb"])
def test_a_secret_that_cannot_go_in_a_header_is_refused_naming_the_variable(
    value: str, monkeypatch: Any
) -> None:
    monkeypatch.setenv("MY_TOKEN", value)
    with pytest.raises(ConfigError, match=r"\$MY_TOKEN") as caught:
        token_source(Auth(access_token_env="MY_TOKEN"), env_name="prod")
    assert value.strip() not in str(caught.value)
    assert "Injected" not in str(caught.value)
    monkeypatch.setenv("MY_REFRESH", value)
    monkeypatch.setenv("MY_ID", "cid")
    monkeypatch.setenv("MY_SECRET", "secret")
    oauth = Auth(
        client_id_env="MY_ID", client_secret_env="MY_SECRET", refresh_token_env="MY_REFRESH"
    )
    with pytest.raises(ConfigError, match=r"\$MY_REFRESH"):
        token_source(oauth, env_name="prod")


def test_mint_waits_are_bounded_in_time() -> None:
    """A Retry-After of an hour on the token endpoint is not waited for in full."""

    def endpoint(h: Hostile, seen: Seen, _: BaseHTTPRequestHandler) -> Reply:
        return Reply(429, {"error": "rate_limited"}, {"Retry-After": "0"})

    with Hostile(endpoint) as server:
        started = time.monotonic()
        with pytest.raises(AuthError, match="unavailable"):
            tokens_for(server).token()
        assert len(server.seen) == 4
    assert time.monotonic() - started < 10
