"""``POST /oauth/token`` with ``grant_type=refresh_token``, as Outreach's token endpoint behaves:
each mint rotates the refresh token, access tokens live two hours, one mint per minute."""

from __future__ import annotations

import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

ACCESS_TOKEN_LIFETIME_S = 7200


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
        mint_interval_s: float = 60.0,
    ) -> None:
        self._lock = threading.Lock()
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._mint_interval_s = mint_interval_s
        self._last_mint: float | None = None
        self._access_tokens: dict[str, float] = {}  # token -> expiry (epoch seconds)

    def accepts(self, token: str) -> bool:
        with self._lock:
            expiry = self._access_tokens.get(token)
        return expiry is not None and time.time() < expiry

    def mint(self, form: dict[str, str]) -> TokenAnswer:
        """Check the form (credentials first, so a stale refresh token is always named as
        such), then the one-mint-per-interval limit, then rotate the tokens."""
        if self._client_id is None or self._client_secret is None or self._refresh_token is None:
            return _oauth_error(400, "invalid_client", "OAuth is not configured on this server.")
        if form.get("grant_type") != "refresh_token":
            return _oauth_error(
                400, "unsupported_grant_type", "Only grant_type=refresh_token is supported."
            )
        id_ok = _same(form.get("client_id", ""), self._client_id)
        secret_ok = _same(form.get("client_secret", ""), self._client_secret)
        if not (id_ok and secret_ok):
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        now = time.time()
        with self._lock:
            if not _same(form.get("refresh_token", ""), self._refresh_token):
                return _oauth_error(
                    400, "invalid_grant", "The refresh token is invalid, expired or revoked."
                )
            if self._last_mint is not None and now - self._last_mint < self._mint_interval_s:
                wait = max(1, math.ceil(self._last_mint + self._mint_interval_s - now))
                return _oauth_error(
                    429,
                    "rate_limited",
                    "One token per minute; try again later.",
                    **{"Retry-After": str(wait)},
                )
            self._last_mint = now
            access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            self._refresh_token = refresh
            self._access_tokens[access] = now + ACCESS_TOKEN_LIFETIME_S
        body = {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME_S,
            "created_at": int(now),
        }
        return TokenAnswer(200, body)
