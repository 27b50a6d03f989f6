"""Token sources: a static bearer token, or Outreach's OAuth refresh-token flow."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Protocol

import requests

from rulesync.config import Auth, env_value
from rulesync.errors import AuthError

log = logging.getLogger(__name__)
MINT_INTERVAL_S = 60.0  # Outreach's token endpoint allows one mint per minute
REFRESH_OUT_ENV = "RULESYNC_REFRESH_TOKEN_OUT"


class TokenSource(Protocol):
    def token(self) -> str: ...

    def refresh(self) -> bool:
        """Get a fresh token after a 401; False when that is not possible."""
        ...


class StaticToken:
    def __init__(self, value: str, *, origin: str) -> None:
        self._value = value
        self.origin = origin

    def token(self) -> str:
        return self._value

    def refresh(self) -> bool:
        return False

    def __repr__(self) -> str:  # never show the token
        return f"StaticToken(origin={self.origin!r})"


class OAuthRefresh:
    """Mints access tokens from a refresh token; stores a rotated refresh token only on request."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        timeout: float = 30.0,
    ) -> None:
        self._url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._refresh = refresh_token
        self._access: str | None = None
        self._expires_at = 0.0
        self._minted_at = -MINT_INTERVAL_S
        self._timeout = timeout
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"OAuthRefresh(token_url={self._url!r})"

    def token(self) -> str:
        with self._lock:
            if self._access is None or time.monotonic() > self._expires_at - 60:
                self._mint()
            assert self._access is not None
            return self._access

    def refresh(self) -> bool:
        with self._lock:
            if time.monotonic() - self._minted_at < MINT_INTERVAL_S:
                return False  # just minted and still refused: a new token will not help
            self._mint()
            return True

    def _mint(self) -> None:
        try:
            response = requests.post(
                self._url,
                data={
                    "grant_type": "refresh_token",
                    "client_id": self._client_id,
                    "client_secret": self._secret,
                    "refresh_token": self._refresh,
                },
                timeout=self._timeout,
            )
        except requests.RequestException as err:
            raise AuthError(
                f"cannot reach the OAuth token endpoint {self._url}: "
                f"{type(err).__name__}; check token_url and the network"
            ) from None
        if response.status_code == 429:
            raise AuthError(
                f"the OAuth token endpoint {self._url} allows one new token per "
                "minute; wait a minute and run again",
                status=429,
            )
        if response.status_code != 200:
            raise AuthError(
                f"the OAuth token endpoint {self._url} refused the refresh token "
                f"({response.status_code}); check the client id, secret and refresh "
                "token secrets",
                status=response.status_code,
            )
        try:
            body = response.json()
            self._access = str(body["access_token"])
            lifetime = float(body.get("expires_in", 7200))
        except (ValueError, KeyError, TypeError):
            raise AuthError(
                f"the OAuth token endpoint {self._url} answered without an access_token"
            ) from None
        self._minted_at = time.monotonic()
        self._expires_at = self._minted_at + lifetime
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != self._refresh:
            self._refresh = rotated
            _store_rotated(rotated)


def _store_rotated(value: str) -> None:
    out = os.environ.get(REFRESH_OUT_ENV)
    if not out:
        log.warning(
            "the OAuth token endpoint rotated the refresh token and the old one no longer "
            "works; set %s to a file path to keep the new one",
            REFRESH_OUT_ENV,
        )
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file that already existed (e.g. made by `touch`) keeps its mode
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)


def token_source(auth: Auth | None, *, env_name: str) -> TokenSource:
    """Build the token source an environment's ``auth`` block describes."""
    if auth is None:
        raise AuthError(
            f"environment {env_name!r} has no auth settings; add auth: "
            "{access_token_env: OUTREACH_ACCESS_TOKEN} under it in rulesync.yaml"
        )
    if auth.uses_oauth:
        return OAuthRefresh(
            token_url=auth.token_url,
            client_id=env_value(auth.client_id_env, "OAuth client id"),
            client_secret=env_value(auth.client_secret_env, "OAuth client secret"),
            refresh_token=env_value(auth.refresh_token_env, "OAuth refresh token"),
        )
    return StaticToken(
        env_value(auth.access_token_env, "access token"), origin=auth.access_token_env or ""
    )
