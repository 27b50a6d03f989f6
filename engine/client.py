"""The only module that speaks HTTP: JSON:API, pagination, retries, rate limits, auth."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from rulesync.auth import TokenSource
from rulesync.errors import ApiError, AuthError

log = logging.getLogger(__name__)

JSONAPI = "application/vnd.api+json"
PAGE_SIZE = 1000
RETRY_STATUSES = (429, 500, 502, 503, 504)
MAX_RETRIES = 8
# A refused connection is rarely transient (wrong api_url, firewall): give up after ~4 s
# rather than make someone wait through the full backoff.
CONNECT_RETRIES = 3
BACKOFF_MAX_S = 10.0  # with 8 retries, at most ~45 s of backoff before a clear error
MAX_WAIT_S = 120.0  # a longer Retry-After means the hourly budget is gone: stop, do not hang
EPOCH_FLOOR = 1_000_000_000  # a larger Retry-After number is a time (2001 on), not a delay
LOW_REMAINING = 20  # below this many requests left in the window, writes are paced


class RetryWaitTooLong(Exception):
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"the API asks to wait {seconds:.0f}s")


class _Retry(Retry):
    """urllib3's Retry, plus: 429 is retried for any method (the server did nothing), the wait
    also honours ``X-RateLimit-Reset``, the wait is bounded, and each retry is counted."""

    on_retry: Any = None
    max_wait: float = MAX_WAIT_S

    def new(self, **kw: Any) -> _Retry:
        retry: _Retry = super().new(**kw)
        retry.on_retry, retry.max_wait = self.on_retry, self.max_wait
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code == 429 and self.total:
            return True
        return bool(super().is_retry(method, status_code, has_retry_after))

    def parse_retry_after(self, retry_after: str) -> float:
        # On 429 Outreach's Retry-After aliases X-RateLimit-Reset: an epoch time, not seconds.
        value = retry_after.strip()
        if value.isdigit() and int(value) > EPOCH_FLOOR:
            return max(0.0, int(value) - time.time())
        return float(super().parse_retry_after(retry_after))

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        if seconds is None and response.status == 429:
            reset = response.headers.get("X-RateLimit-Reset")
            if reset and reset.isdigit():
                seconds = max(0.0, int(reset) - time.time())
        if seconds is not None and seconds > self.max_wait:
            raise RetryWaitTooLong(seconds)
        return seconds

    def increment(self, *args: Any, **kwargs: Any) -> _Retry:
        retry: _Retry = super().increment(*args, **kwargs)
        if self.on_retry:
            self.on_retry()
        return retry


class OutcomeUnknown(ApiError):
    """A write was sent but its answer was lost (timeout, dropped connection, 5xx)."""


class Client:
    """A JSON:API client for one Outreach org."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        *,
        parallelism: int = 4,
        timeout: float = 60.0,
        backoff_factor: float = 0.5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._timeout = (10.0, timeout)
        self._lock = threading.Lock()
        self.requests = 0
        self._remaining: int | None = None
        self._reset_at = 0.0
        retry = _Retry(
            total=MAX_RETRIES,
            connect=CONNECT_RETRIES,
            read=MAX_RETRIES,
            status=MAX_RETRIES,
            backoff_factor=backoff_factor,
            backoff_max=BACKOFF_MAX_S,
            backoff_jitter=0.2,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "PATCH", "DELETE"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        retry.on_retry = self._count
        self._session = requests.Session()
        adapter = HTTPAdapter(
            max_retries=retry, pool_connections=2, pool_maxsize=max(parallelism, 4)
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers.update({"Accept": JSONAPI, "User-Agent": "rulesync"})

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reads -------------------------------------------------------------------------

    def list_all(
        self, kind: str, filters: dict[str, str | list[str]] | None = None
    ) -> list[dict[str, Any]]:
        """Every resource of ``kind``, 1000 a page, following ``links.next``. Filter values
        are literal (``newFilterSyntax``: a name may hold a comma or ``..``); a list matches
        any of its values."""
        params: dict[str, Any] | None = {"page[size]": str(PAGE_SIZE), "count": "false"}
        if filters:
            assert params is not None
            params["newFilterSyntax"] = "true"
            for key, value in filters.items():
                params[f"filter[{key}][]"] = [value] if isinstance(value, str) else value
        url: str | None = f"{self.base_url}/{kind}"
        items: list[dict[str, Any]] = []
        while url:
            body = self._json("GET", url, params=params)
            data = body.get("data")
            if not isinstance(data, list):
                raise ApiError(
                    f"GET {self._shown(url)}: the answer has no data list; is api_url "
                    "an Outreach API v2 address?",
                    method="GET",
                    url=self._shown(url),
                )
            items.extend(item for item in data if isinstance(item, dict))
            links = body.get("links")
            url = links.get("next") if isinstance(links, dict) else None
            params = None  # the next link carries every parameter
        return items

    def list_query(self, kind: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every resource of ``kind`` the query string ``query`` selects, following
        ``links.next``; ``[`` ``]`` and ``,`` are sent as they are (short URLs, and Outreach
        reads ``filter[REL][id]=1,2`` as a list of ids)."""
        url: str | None = f"{self.base_url}/{kind}?{urlencode(query, safe='[],')}"
        items: list[dict[str, Any]] = []
        while url:
            body = self._json("GET", url)
            data = body.get("data")
            if not isinstance(data, list):
                raise ApiError(
                    f"GET {self._shown(url)}: the answer has no data list; is api_url "
                    "an Outreach API v2 address?",
                    method="GET",
                    url=self._shown(url),
                )
            items.extend(item for item in data if isinstance(item, dict))
            links = body.get("links")
            following = links.get("next") if isinstance(links, dict) else None
            url = following if isinstance(following, str) else None
        return items

    def list_by_ids(self, kind: str, ids: Iterable[int]) -> list[dict[str, Any]]:
        """Resources by id, up to 100 ids a request (short URLs)."""
        wanted = sorted(set(ids))
        found: list[dict[str, Any]] = []
        for start in range(0, len(wanted), 100):
            chunk = [str(i) for i in wanted[start : start + 100]]
            found.extend(self.list_all(kind, {"id": chunk}))
        return found

    # ---- writes ------------------------------------------------------------------------

    def create(self, kind: str, resource: dict[str, Any]) -> dict[str, Any]:
        """POST; never retried blindly after it was sent: the caller resolves OutcomeUnknown."""
        url = f"{self.base_url}/{kind}"
        self._pace()
        return self._data("POST", url, json_body={"data": resource})

    def update(self, kind: str, resource_id: int, resource: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/{kind}/{resource_id}"
        self._pace()
        return self._data("PATCH", url, json_body={"data": resource})

    def delete(self, kind: str, resource_id: int) -> bool:
        """True when deleted now, False when it was already gone (404 counts as done)."""
        url = f"{self.base_url}/{kind}/{resource_id}"
        self._pace()
        response = self._send("DELETE", url)
        if response.status_code == 404:
            return False
        self._check(response)
        return True

    # ---- plumbing ----------------------------------------------------------------------

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    def _shown(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _pace(self) -> None:
        """Spread writes over what is left of the window when the budget runs low."""
        with self._lock:
            remaining, reset_at = self._remaining, self._reset_at
        if remaining is None or remaining > LOW_REMAINING:
            return
        wait = max(0.0, reset_at - time.time()) / max(remaining, 1)
        if wait > 0:
            log.info("rate limit nearly used (%s left); pacing writes by %.1fs", remaining, wait)
            time.sleep(min(wait, MAX_WAIT_S))

    def _send(
        self, method: str, url: str, *, params: dict[str, str] | None = None, json_body: Any = None
    ) -> requests.Response:
        refreshed = False
        while True:
            headers = {"Authorization": f"Bearer {self._tokens.token()}"}
            kwargs: dict[str, Any] = {
                "params": params,
                "headers": headers,
                "timeout": self._timeout,
            }
            if json_body is not None:
                headers["Content-Type"] = JSONAPI
                kwargs["data"] = _dumps(json_body)
            self._count()
            try:
                response = self._session.request(method, url, **kwargs)
            except RetryWaitTooLong as err:
                raise ApiError(
                    f"{method} {self._shown(url)}: rate limit exhausted; {err}. "
                    "Run again after that, or lower other integrations' use",
                    method=method,
                    url=self._shown(url),
                    status=429,
                ) from None
            except (requests.ConnectionError, requests.Timeout) as err:
                if method == "POST":
                    raise OutcomeUnknown(
                        f"POST {self._shown(url)}: no answer ({_reason(err)})",
                        method=method,
                        url=self._shown(url),
                    ) from None
                raise ApiError(
                    f"{method} {self._shown(url)}: cannot reach the API at "
                    f"{self.base_url} ({_reason(err)}); check api_url and the network",
                    method=method,
                    url=self._shown(url),
                ) from None
            except requests.RequestException as err:
                raise ApiError(
                    f"{method} {self._shown(url)}: {_reason(err)}",
                    method=method,
                    url=self._shown(url),
                ) from None
            self._note_limits(response)
            if response.status_code == 401 and not refreshed and self._tokens.refresh():
                refreshed = True
                continue
            return response

    def _note_limits(self, response: requests.Response) -> None:
        remaining = response.headers.get("X-RateLimit-Remaining")
        reset = response.headers.get("X-RateLimit-Reset")
        if remaining is not None and remaining.isdigit():
            with self._lock:
                self._remaining = int(remaining)
                if reset and reset.isdigit():
                    self._reset_at = float(reset)

    def _check(self, response: requests.Response) -> None:
        if response.status_code < 400:
            return
        method = response.request.method or ""
        shown = self._shown(response.request.url or "")
        errors = _errors(response)
        detail = "; ".join(_describe(e) for e in errors) or (response.reason or "")
        message = f"{method} {shown}: {response.status_code} {detail}".rstrip()
        if response.status_code == 401:
            origin = getattr(self._tokens, "origin", "")
            where = f"the token in ${origin}" if origin else "the credentials named in auth:"
            raise AuthError(
                f"{message} — the API refused the credentials; check {where} "
                "(expired, or for another org?)",
                method=method,
                url=shown,
                status=401,
                errors=errors,
            )
        if response.status_code == 403:
            raise AuthError(
                f"{message} — the token lacks a scope; it needs the rulesets read/write scopes",
                method=method,
                url=shown,
                status=403,
                errors=errors,
            )
        if method == "POST" and response.status_code >= 500:
            raise OutcomeUnknown(
                message, method=method, url=shown, status=response.status_code, errors=errors
            )
        raise ApiError(
            message, method=method, url=shown, status=response.status_code, errors=errors
        )

    def _json(
        self, method: str, url: str, *, params: dict[str, str] | None = None, json_body: Any = None
    ) -> dict[str, Any]:
        response = self._send(method, url, params=params, json_body=json_body)
        self._check(response)
        try:
            body = response.json()
        except ValueError:
            raise ApiError(
                f"{method} {self._shown(url)}: the answer is not JSON",
                method=method,
                url=self._shown(url),
                status=response.status_code,
            ) from None
        if not isinstance(body, dict):
            raise ApiError(
                f"{method} {self._shown(url)}: unexpected answer",
                method=method,
                url=self._shown(url),
                status=response.status_code,
            )
        return body

    def _data(self, method: str, url: str, *, json_body: Any) -> dict[str, Any]:
        body = self._json(method, url, json_body=json_body)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ApiError(
                f"{method} {self._shown(url)}: the answer has no data object",
                method=method,
                url=self._shown(url),
            )
        return data

    # ---- exact lookups by name -----------------------------------------------------------
    # Outreach's legacy filter syntax reads `filter[name]=a,b` as a list and `lo..hi` as a
    # range, and a server may ignore a filter altogether (conventions: filtering.new_syntax).
    # So a lookup sends `newFilterSyntax=true&filter[name][]=...` (values taken literally),
    # compares names exactly here, and falls back to a full listing whenever the answer shows
    # that the filter was not applied literally; after that, lookups list straight away.

    def find_by_names(self, kind: str, names: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """``{name: [resources named exactly name]}`` for every name asked for."""
        wanted = sorted(set(names))
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in wanted}
        if not wanted:
            return found
        if getattr(self, "_literal_filters", True):
            for start in range(0, len(wanted), NAMES_PER_LOOKUP):
                hits = self._find_literal(kind, wanted[start : start + NAMES_PER_LOOKUP])
                if hits is None:
                    self._literal_filters = False
                    break
                found.update(hits)
            else:
                return found
        found = {name: [] for name in wanted}
        for resource in self.list_all(kind):
            name = _name_of(resource)
            if name in found:
                found[name].append(resource)
        return found

    def find_by_name(self, kind: str, name: str) -> list[dict[str, Any]]:
        """The resources named exactly ``name`` (see find_by_names)."""
        return self.find_by_names(kind, [name])[name]

    def _find_literal(self, kind: str, chunk: list[str]) -> dict[str, list[dict[str, Any]]] | None:
        """Look ``chunk`` up with the literal filter syntax; None when the answer cannot be
        trusted: a 400, a name not asked for, or nothing for a name legacy syntax misreads."""
        query = urlencode(
            [
                ("newFilterSyntax", "true"),
                *(("filter[name][]", name) for name in chunk),
                ("page[size]", str(PAGE_SIZE)),
                ("count", "false"),
            ]
        )
        url: str | None = f"{self.base_url}/{kind}?{query}"
        hits: dict[str, list[dict[str, Any]]] = {name: [] for name in chunk}
        while url:
            try:
                body = self._json("GET", url)
            except ApiError as err:
                if err.status in (400, 422):
                    return None
                raise
            data = body.get("data")
            if not isinstance(data, list):
                return None
            for resource in data:
                name = _name_of(resource) if isinstance(resource, dict) else None
                if name not in hits:
                    return None
                hits[name].append(resource)
            links = body.get("links")
            url = links.get("next") if isinstance(links, dict) else None
            if url is not None and not isinstance(url, str):
                return None
        if any(not hits[name] and legacy_ambiguous(name) for name in chunk):
            return None
        return hits


def _dumps(value: Any) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


def _reason(err: Exception) -> str:
    text = str(err)
    # urllib3 wraps the root cause several levels deep; its last clause says what happened
    for marker in ("Caused by ", "caused by "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1].strip("()'\" ")
    return text[:200] or type(err).__name__


def _errors(response: requests.Response) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _describe(error: dict[str, Any]) -> str:
    text = str(error.get("detail") or error.get("title") or error.get("id") or "")
    source = error.get("source")
    pointer = source.get("pointer") if isinstance(source, dict) else None
    return f"{text} (at {pointer})" if pointer else text


NAMES_PER_LOOKUP = 20  # names per lookup request: keeps the query string short
_LEGACY_SPECIAL = (",", "..")
_LEGACY_WORDS = ("__null__", "__notnull__")


def legacy_ambiguous(name: str) -> bool:
    """Whether the legacy filter syntax would read ``name`` as something other than itself."""
    return any(mark in name for mark in _LEGACY_SPECIAL) or name.strip() in _LEGACY_WORDS


def _name_of(resource: dict[str, Any]) -> str | None:
    attrs = resource.get("attributes")
    name = attrs.get("name") if isinstance(attrs, dict) else None
    return name if isinstance(name, str) else None
