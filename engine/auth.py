"""Token sources: a static bearer token, or Outreach's OAuth refresh-token flow.

Every secret is checked before use (it must fit in an HTTP header; the error names the
environment variable, never the value) and registered with the one redaction step.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from rulesync import redact, retry
from rulesync.client import NoAnswer, post_form
from rulesync.config import Auth, env_value
from rulesync.errors import AuthError, ConfigError
from rulesync.ratelimit import server_wait, until_text

log = logging.getLogger(__name__)
MINT_INTERVAL_S = 60.0  # Outreach's token endpoint allows one mint per minute
ACCESS_TOKEN_LIFETIME_S = 7200.0  # Outreach's documented lifetime, when expires_in is absent
REFRESH_OUT_ENV = "RULESYNC_REFRESH_TOKEN_OUT"
_NOTE: dict[str, Any] = {"extra": {"notice": True}}


class TokenSource(Protocol):
    def token(self) -> str: ...

    def refresh(self) -> bool:
        """Get a fresh token after a 401; False when that is not possible."""
        ...


def header_safe(value: str) -> bool:
    """Printable Latin-1 only: anything else cannot be sent in (or would split) a header."""
    return all(" " <= c <= "~" or "\xa0" <= c <= "\xff" for c in value)


def secret_from_env(name: str | None, purpose: str) -> str:
    """A secret from the environment variable ``name``: checked, and registered for redaction."""
    value = env_value(name, purpose)
    if not header_safe(value):
        raise ConfigError(
            f"the {purpose} in ${name} contains a line break, a control character or a "
            "character outside Latin-1, which cannot be sent in an HTTP header; set the "
            "variable to the value alone (the value is not shown here)"
        )
    redact.register(value)
    return value


class StaticToken:
    def __init__(self, value: str, *, origin: str) -> None:
        self._value = value
        self.origin = origin
        redact.register(value)

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
        timeout: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = token_url
        self._client_id = client_id
        self._secret = client_secret
        self._refresh = refresh_token
        self._access: str | None = None
        self._expires_at = 0.0
        self._minted_at = -MINT_INTERVAL_S
        self._timeout = timeout
        self._clock = clock  # token lifetimes and the one-mint-a-minute rule run on this
        self._lock = threading.Lock()
        for secret in (client_secret, refresh_token):
            redact.register(secret)

    def __repr__(self) -> str:
        return f"OAuthRefresh(token_url={self._url!r})"

    def token(self) -> str:
        with self._lock:
            if self._access is None or self._clock() > self._expires_at - 60:
                self._mint()
            assert self._access is not None
            return self._access

    def refresh(self) -> bool:
        with self._lock:
            if self._clock() - self._minted_at < MINT_INTERVAL_S:
                return False  # just minted and still refused: a new token will not help
            self._mint()
            return True

    def _mint(self) -> None:
        out = refresh_out_path()  # a rotated token that cannot be kept would lock us out
        form = {
            "grant_type": "refresh_token",
            "client_id": self._client_id,
            "client_secret": self._secret,
            "refresh_token": self._refresh,
        }
        body = self._post(form)
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise AuthError(
                f"the OAuth token endpoint {self._url} answered 200 without an access_token; "
                "check token_url"
            )
        if not header_safe(access):
            raise AuthError(
                f"the OAuth token endpoint {self._url} returned an access token that cannot "
                "be sent in an HTTP header; check token_url"
            )
        redact.register(access)
        self._access = access
        self._minted_at = self._clock()
        self._expires_at = self._minted_at + _lifetime(body.get("expires_in"))
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != self._refresh:
            redact.register(rotated)
            self._refresh = rotated
            _store_rotated(rotated, out)

    def _post(self, form: dict[str, str]) -> dict[str, Any]:
        """The token request, retried (bounded) while the endpoint is busy or unreachable."""
        problem = ""
        policy = retry.TOKEN  # a 429 (a mint a moment ago elsewhere), a 5xx or no answer
        attempts = policy.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                answer = post_form(self._url, form, deadline_s=self._timeout)
            except NoAnswer as err:
                problem = f"no answer ({err})"
                wait = policy.wait_s(attempt)
            else:
                if answer.status == 200 and answer.body is not None:
                    return answer.body
                refused = self._refused(answer.status, answer.body)
                if refused:
                    raise AuthError(refused, status=answer.status)
                problem = f"answered {answer.status}"
                asked = server_wait(answer.headers, answer.status, now=time.time())
                default = MINT_INTERVAL_S if answer.status == 429 else policy.wait_s(attempt)
                wait = min(asked if asked is not None else default, policy.max_wait_s)
            if attempt == attempts:
                break
            log.warning(
                "OAuth token endpoint %s: waiting %s",
                problem,
                until_text(wait, now=time.time()),
                **_NOTE,
            )
            time.sleep(wait)
        raise AuthError(
            f"the OAuth token endpoint {self._url} is unavailable ({problem}, "
            f"{attempts} attempts); the credentials were not refused: run again later, "
            "or check token_url and the network"
        )

    def _refused(self, status: int, body: dict[str, Any] | None) -> str:
        """The message for a definite refusal (no retry helps), or "" when worth retrying."""
        if status == 429 or status >= 500 or (status == 200 and body is None):
            return ""
        if 300 <= status < 400:
            return (
                f"the OAuth token endpoint {self._url} answered with a redirect ({status}), "
                "which rulesync does not follow (the secrets would go with it); set token_url "
                "to the final address"
            )
        error = str((body or {}).get("error") or "")
        if error == "invalid_grant":
            return (
                f"the OAuth token endpoint {self._url} refused the refresh token "
                "(invalid_grant: expired, revoked, or already rotated); re-authorize the app "
                "and store the new refresh token"
            )
        if error == "invalid_client" or status == 401:
            return (
                f"the OAuth token endpoint {self._url} refused the client id or secret "
                f"({error or status}); check those secrets"
            )
        return (
            f"the OAuth token endpoint {self._url} refused the request ({status}"
            f"{' ' + error if error else ''}); check token_url and the OAuth secrets"
        )


def _lifetime(value: Any) -> float:
    """``expires_in`` as seconds; Outreach's two hours when absent or unreadable."""
    if isinstance(value, bool):
        return ACCESS_TOKEN_LIFETIME_S
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return ACCESS_TOKEN_LIFETIME_S
    return seconds if 0 < seconds < 10 * 365 * 86400 else ACCESS_TOKEN_LIFETIME_S


def refresh_out_path() -> Path | None:
    """The file named by RULESYNC_REFRESH_TOKEN_OUT, checked writable before any mint: a
    mint rotates the refresh token, and a rotated token that cannot be saved is lost."""
    out = os.environ.get(REFRESH_OUT_ENV, "").strip()
    if not out:
        return None
    path = Path(out)
    problem = _unwritable(path)
    if problem:
        raise ConfigError(
            f"${REFRESH_OUT_ENV} names {path}, which cannot be written ({problem}); fix it "
            "before minting a token, or the rotated refresh token would be lost"
        )
    return path


def _unwritable(path: Path) -> str:
    """Why ``path`` cannot be written, or "" (its folder is created when missing)."""
    folder = path.parent
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        return f"cannot create the folder {folder}: {err.strerror}"
    if path.is_dir():
        return "it is a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"the folder {folder} is not writable"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file is not writable"
    return ""


def _store_rotated(value: str, out: Path | None) -> None:
    if out is None:
        log.warning(
            "the OAuth token endpoint rotated the refresh token and the old one no longer "
            "works; set %s to a file path to keep the new one",
            REFRESH_OUT_ENV,
        )
        return
    # A temporary file (created 0600) in the same folder, then an atomic rename: a reader
    # never sees half a token, and nobody else can read it at any moment.
    fd, temp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, out)
    except OSError as err:
        Path(temp).unlink(missing_ok=True)
        raise ConfigError(
            f"could not save the rotated refresh token to {out} ({err.strerror}); "
            "re-authorize the app, the old refresh token no longer works"
        ) from None


def token_source(auth: Auth | None, *, env_name: str) -> TokenSource:
    """Build the token source an environment's ``auth`` block describes."""
    if auth is None:
        raise AuthError(
            f"environment {env_name!r} has no auth settings; add auth: "
            "{access_token_env: OUTREACH_ACCESS_TOKEN} under it in rulesync.yaml"
        )
    if auth.uses_oauth:
        source = OAuthRefresh(
            token_url=auth.token_url,
            client_id=secret_from_env(auth.client_id_env, "OAuth client id"),
            client_secret=secret_from_env(auth.client_secret_env, "OAuth client secret"),
            refresh_token=secret_from_env(auth.refresh_token_env, "OAuth refresh token"),
        )
        refresh_out_path()  # refuse an unwritable file now, before any request
        return source
    return StaticToken(
        secret_from_env(auth.access_token_env, "access token"),
        origin=auth.access_token_env or "",
    )
