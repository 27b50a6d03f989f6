"""``POST /oauth/token`` with ``grant_type=refresh_token``, as Outreach's token endpoint behaves
(CONVENTIONS, authentication and rate limits):

- access tokens live 2 hours; the reply carries ``access_token``, ``token_type``,
  ``expires_in``, ``refresh_token``, ``scope`` and ``created_at``;
- each mint issues a new refresh token; earlier ones stay valid until 14 days old or until 100
  newer ones exist (at most 100 active per user and application);
- one mint per minute per user and application, else 429 with ``Retry-After``;
- ``redirect_uri`` (sent by many clients on refresh) is accepted.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rulesync.emulator import rules

ACCESS_TOKEN_LIFETIME_S = rules.ACCESS_TOKEN_TTL_S


@dataclass(frozen=True)
class TokenAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _same(given: str, expected: str) -> bool:
    # Bytes, because compare_digest refuses non-ASCII str and the form is client input.
    return secrets.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


def _oauth_error(status: int, error: str, description: str, **headers: str) -> TokenAnswer:
    return TokenAnswer(status, {"error": error, "error_description": description}, headers)


class OAuthIssuer:
    def __init__(
        self,
        *,
        client_id: str | None,
        client_secret: str | None,
        refresh_token: str | None,
        scopes: str = "",
        mint_interval_s: float = rules.MINT_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.Lock()
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._scopes = scopes
        self._mint_interval_s = mint_interval_s
        self._last_mint: float | None = None
        # Oldest first; each entry is (refresh token, issued at).
        self._refresh: list[tuple[str, float]] = (
            [(refresh_token, clock())] if refresh_token is not None else []
        )
        self._access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)

    @property
    def enabled(self) -> bool:
        return bool(self._client_id and self._client_secret and self._refresh)

    @property
    def latest_refresh_token(self) -> str | None:
        with self._lock:
            return self._refresh[-1][0] if self._refresh else None

    def accepts(self, token: str) -> bool:
        with self._lock:
            expiry = self._access_tokens.get(token)
        return expiry is not None and self._clock() < expiry

    def _refresh_valid(self, given: str, now: float) -> bool:
        newest = self._refresh[-rules.MAX_REFRESH_TOKENS :]
        return any(
            _same(given, token) and now - issued < rules.REFRESH_TOKEN_TTL_S
            for token, issued in newest
        )

    def mint(self, form: dict[str, str]) -> TokenAnswer:
        """Check the form (credentials first, so a stale refresh token is always named as
        such), then the one-mint-per-interval limit, then rotate the tokens."""
        if not self.enabled:
            return _oauth_error(400, "invalid_client", "OAuth is not configured on this server.")
        assert self._client_id is not None and self._client_secret is not None
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(
                400, "unsupported_grant_type", "Only grant_type=refresh_token is supported."
            )
        id_ok = _same(form.get("client_id", ""), self._client_id)
        secret_ok = _same(form.get("client_secret", ""), self._client_secret)
        if not (id_ok and secret_ok):
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        now = self._clock()
        with self._lock:
            if not self._refresh_valid(form.get("refresh_token", ""), now):
                return _oauth_error(
                    400, "invalid_grant", "The refresh token is invalid, expired or revoked."
                )
            if self._last_mint is not None and now - self._last_mint < self._mint_interval_s:
                wait = max(1, math.ceil(self._last_mint + self._mint_interval_s - now))
                return _oauth_error(
                    429,
                    "rate_limited",
                    "One token per minute per user and application; try again later.",
                    **{"Retry-After": str(wait)},
                )
            self._last_mint = now
            access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            self._refresh.append((refresh, now))
            del self._refresh[: -rules.MAX_REFRESH_TOKENS]
            self._access_tokens = {t: e for t, e in self._access_tokens.items() if e > now}
            self._access_tokens[access] = now + ACCESS_TOKEN_LIFETIME_S
        body = {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME_S,
            "refresh_token": refresh,
            "scope": self._scopes,
            "created_at": int(now),
        }
        return TokenAnswer(200, body)
