"""The only module that speaks HTTP: JSON:API, pagination, retries, rate limits, auth.

Everything a hostile or broken server could do is bounded here: the token only goes to the
configured API (``links.next`` and redirects elsewhere are refused), every request has a total
deadline, answers have a size cap, pagination cannot loop, waits have a limit (``max_wait``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import NewConnectionError

from rulesync import retry
from rulesync.api import NAMES_PER_LOOKUP, PAGE_SIZE
from rulesync.deadline import POOL_CLASSES, WATCHDOG
from rulesync.errors import ApiError, AuthError, OutcomeUnknown, RateLimited
from rulesync.ratelimit import RateBudget, server_wait, until_text

if TYPE_CHECKING:
    from rulesync.auth import TokenSource

log = logging.getLogger(__name__)

JSONAPI = "application/vnd.api+json"
MAX_PAGES = 1000  # a million resources; past that, a server is paging us in circles
REQUEST_DEADLINE_S = 120.0  # connect + every read + retries of one request, waits asked aside
MAX_WAIT_S = 900.0  # waits the server asks for (rate limit, maintenance), per request
MAX_BODY_BYTES = 32 * 1024 * 1024  # a page of 1000 rulesets is ~2 MB
NOTICE_AFTER_S = 1.0  # shorter waits are pacing, logged with -v only
REDIRECTS = (301, 302, 303, 307, 308)
MAX_REDIRECTS = 5
# The OAuth scope each request needs (Outreach's scopes are <resource>.<read|write|delete>).
SCOPE_LEVEL = {"GET": "read", "POST": "write", "PATCH": "write", "DELETE": "delete"}


class _NoAnswer(Exception):
    """No (complete) answer: the connection failed, timed out, or the deadline passed."""

    def __init__(self, reason: str, *, sent: bool, deadline: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.sent, self.deadline = reason, sent, deadline


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read in full (within the size cap)."""

    method: str
    url: str
    status: int
    headers: CaseInsensitiveDict[str]
    content: bytes
    elapsed_s: float


class _Adapter(HTTPAdapter):
    """requests' adapter on connections that report to the deadline watchdog; no retries of
    its own (the client decides what is safe to retry)."""

    def __init__(self, pool_maxsize: int) -> None:
        super().__init__(max_retries=0, pool_connections=2, pool_maxsize=pool_maxsize)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = POOL_CLASSES

    def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(*args, **kwargs)
        manager.pool_classes_by_scheme = POOL_CLASSES
        return manager


def _session(pool_maxsize: int) -> requests.Session:
    session = requests.Session()
    session.trust_env = True  # proxies from the environment, as every CLI
    adapter = _Adapter(pool_maxsize)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": "rulesync"})
    return session


def _exchange(
    session: requests.Session,
    method: str,
    url: str,
    *,
    deadline_s: float,
    connect_timeout: float,
    read_timeout: float,
    body_cap: int,
    **kwargs: Any,
) -> Answer:
    """One request and its whole answer, within ``deadline_s``; never follows a redirect."""
    started = time.monotonic()
    with WATCHDOG.ticket(deadline_s) as ticket:
        try:
            response = session.request(
                method,
                url,
                timeout=(min(connect_timeout, deadline_s), min(read_timeout, deadline_s)),
                allow_redirects=False,
                stream=True,
                **kwargs,
            )
            try:
                content = _read_capped(response, body_cap)
            finally:
                response.close()
        except (requests.RequestException, OSError) as err:
            if ticket.expired:
                raise _NoAnswer(
                    f"no complete answer within {deadline_s:.0f} s", sent=True, deadline=True
                ) from None
            raise _NoAnswer(_reason(err), sent=not _never_sent(err)) from None
        if ticket.expired:  # cut off mid-answer: what arrived is a fragment
            raise _NoAnswer(
                f"no complete answer within {deadline_s:.0f} s", sent=True, deadline=True
            )
    return Answer(
        method=method,
        url=url,
        status=response.status_code,
        headers=response.headers,
        content=content,
        elapsed_s=time.monotonic() - started,
    )


def _read_capped(response: requests.Response, cap: int) -> bytes:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > cap:
        raise _TooLarge(int(length))
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > cap:
            raise _TooLarge(size)
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class FormAnswer:
    status: int
    headers: Mapping[str, str]
    body: dict[str, Any] | None  # None when the answer is not a JSON object


class NoAnswer(Exception):
    """``post_form`` got no answer (network, timeout, deadline, oversized answer)."""


def post_form(
    url: str, form: Mapping[str, str], *, deadline_s: float = 60.0, body_cap: int = 1024 * 1024
) -> FormAnswer:
    """POST an ``x-www-form-urlencoded`` form (the OAuth token request) to exactly ``url``:
    no redirect is followed, so the secrets in the form go nowhere else."""
    session = _session(1)
    try:
        answer = _exchange(
            session,
            "POST",
            url,
            deadline_s=deadline_s,
            connect_timeout=10.0,
            read_timeout=deadline_s,
            body_cap=body_cap,
            data=dict(form),
            headers={"Accept": "application/json"},
        )
    except _NoAnswer as err:
        raise NoAnswer(err.reason) from None
    except _TooLarge:
        raise NoAnswer("the answer is larger than the size cap") from None
    finally:
        session.close()
    body = _parse_json(answer.content)
    return FormAnswer(answer.status, answer.headers, body if isinstance(body, dict) else None)


class Client:
    """A JSON:API client for one Outreach org."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenSource,
        *,
        parallelism: int = 4,
        timeout: float = 60.0,
        backoff_factor: float = retry.API.first_wait_s,
        deadline: float = REQUEST_DEADLINE_S,
        max_wait: float = MAX_WAIT_S,
        body_cap: int = MAX_BODY_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        self._origin = _origin(self.base_url)
        self._prefix = parts.path.rstrip("/")
        self._tokens = tokens
        self._read_timeout = timeout
        self._retry = replace(retry.API, first_wait_s=backoff_factor)
        self._deadline = deadline
        self.max_wait = max_wait
        self._body_cap = body_cap
        self.budget = RateBudget()
        self.exhausted_until: float | None = None  # set once a wait exceeded max_wait
        self.requests = 0
        self._lock = threading.Lock()
        self._session = _session(max(parallelism, 4))
        self._session.headers.update({"Accept": JSONAPI})

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
        """Every resource of ``kind``, 1000 a page, following ``links.next`` (on our API only,
        never the same page twice, at most ``MAX_PAGES`` pages). Filter values are literal
        (``newFilterSyntax``: a name may hold a comma or ``..``); a list matches any of its
        values."""
        params: dict[str, Any] | None = {"page[size]": str(PAGE_SIZE), "count": "false"}
        if filters:
            assert params is not None
            params["newFilterSyntax"] = "true"
            for key, value in filters.items():
                params[f"filter[{key}][]"] = [value] if isinstance(value, str) else value
        return self._pages(f"{self.base_url}/{kind}", params)

    def list_query(self, kind: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every resource of ``kind`` the query string ``query`` selects, paged as list_all;
        ``[`` ``]`` and ``,`` are sent as they are (short URLs, and Outreach reads
        ``filter[REL][id]=1,2`` as a list of ids)."""
        return self._pages(f"{self.base_url}/{kind}?{urlencode(query, safe='[],')}", None)

    def _pages(self, first: str, params: dict[str, Any] | None) -> list[dict[str, Any]]:
        url: str | None = first
        items: list[dict[str, Any]] = []
        seen: set[str] = set()
        pages = 0
        while url:
            pages += 1
            if pages > MAX_PAGES:
                raise self._error("GET", url, f"more than {MAX_PAGES} pages; stopped paging")
            body = self._json("GET", url, params=params)
            data = body.get("data")
            if not isinstance(data, list):
                raise self._error(
                    "GET",
                    url,
                    "the answer has no data list; is api_url an Outreach API v2 address?",
                )
            items.extend(item for item in data if isinstance(item, dict))
            url = self._next_page(url, body, seen)
            params = None  # the next link carries every parameter
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
        return self._data("POST", f"{self.base_url}/{kind}", json_body={"data": resource})

    def update(self, kind: str, resource_id: int, resource: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/{kind}/{resource_id}"
        return self._data("PATCH", url, json_body={"data": resource})

    def delete(self, kind: str, resource_id: int) -> bool:
        """True when deleted now, False when it was already gone (404 counts as done)."""
        answer = self._send("DELETE", f"{self.base_url}/{kind}/{resource_id}")
        if answer.status == 404:
            return False
        self._check(answer)
        return True

    # ---- where the token may go ----------------------------------------------------------

    def inside(self, url: str) -> bool:
        """Whether ``url`` is on the configured API: same scheme, host, port and path prefix."""
        parts = urlsplit(url)
        if _origin(url) != self._origin or parts.username or parts.password:
            return False
        path = parts.path
        if path != self._prefix and not path.startswith(self._prefix + "/"):
            return False
        segments = path.split("/")
        return not any(s in (".", "..") or "%2e" in s.lower() for s in segments)

    def _next_page(self, url: str, body: dict[str, Any], seen: set[str]) -> str | None:
        links = body.get("links")
        nxt = links.get("next") if isinstance(links, dict) else None
        if not nxt:
            return None
        if not isinstance(nxt, str):
            raise self._error("GET", url, "links.next is not a URL")
        target = urljoin(url, nxt)
        if not self.inside(target):
            raise self._error(
                "GET",
                url,
                f"links.next points outside the configured API ({_place(target)}); refusing "
                f"to send the token there. api_url is {self.base_url}; if that is right, the "
                "API answered wrongly",
            )
        cursor = parse_qs(urlsplit(target).query).get("page[after]", [""])[0]
        key = f"cursor:{cursor}" if cursor else target
        if key in seen or target in seen:
            raise self._error(
                "GET",
                url,
                "links.next leads back to a page already read (a pagination loop); stopped",
            )
        seen.update((key, target))
        return target

    # ---- plumbing ----------------------------------------------------------------------

    def _shown(self, url: str) -> str:
        parts = urlsplit(url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def _error(self, method: str, url: str, text: str) -> ApiError:
        shown = self._shown(url)
        return ApiError(f"{method} {shown}: {text}", method=method, url=shown)

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    def _await_budget(self, method: str, url: str, waited: float) -> float:
        """Wait for a request from the shared budget; returns the time waited."""
        total = 0.0
        while True:
            wait, news = self.budget.reserve()
            if wait <= 0:
                return total
            if waited + total + wait > self.max_wait:
                reset_at = time.time() + wait
                self.exhausted_until = reset_at
                raise RateLimited(
                    f"{method} {self._shown(url)}: not sent: the API's rate limit is used up "
                    f"until {_clock(reset_at)} (in {_span(wait)}), longer than --max-wait "
                    f"({_span(self.max_wait)}); run again after that",
                    reset_at=reset_at,
                    method=method,
                    url=self._shown(url),
                )
            if wait >= NOTICE_AFTER_S and news:
                log.warning("rate limit: waiting %s", until_text(wait, now=time.time()), **_NOTE)
            elif wait >= 0.1:  # shorter: waiting for the first answer to tell the budget
                log.info("rate limit: pacing, waiting %.1f s", wait)
            time.sleep(wait)
            total += wait

    def _send(self, method: str, url: str, *, params: Any = None, json_body: Any = None) -> Answer:
        """One request with its retries, all bounded: attempts, network time (``deadline``)
        and the waits the server asks for (``max_wait``)."""
        body = _dumps(json_body) if json_body is not None else None
        retries = connect_failures = redirects = 0
        refreshed = False
        waited = 0.0  # time the server asked for: not counted against the deadline
        started = time.monotonic()
        last: Answer | None = None
        while True:
            waited += self._await_budget(method, url, waited)
            left = self._left(started, waited)
            if left <= 0 and last is not None:
                self.budget.unanswered()  # the request reserved is not sent
                return last  # out of time: the last error answer says what went wrong
            try:
                answer = self._attempt(method, url, params, body, left=left)
            except _TooLarge as err:
                raise self._error(
                    method, url, f"the answer is larger than {self._body_cap // 2**20} MB ({err})"
                ) from None
            except _NoAnswer as err:
                log.info("%s %s -> no answer (%s)", method, self._shown(url), err.reason)
                if err.deadline and last is not None:
                    return last  # out of time: the last error answer says what went wrong
                if err.deadline:
                    reason = f"no complete answer within {self._deadline:.0f} s"
                    raise self._no_answer(method, url, reason) from None
                if method == "POST" and err.sent:
                    raise self._no_answer(method, url, err.reason) from None
                connect_failures += not err.sent
                if self._retry.gives_up(retries, connect_failures):
                    raise self._no_answer(method, url, err.reason) from None
                retries += 1
                time.sleep(self._retry.wait_s(retries))
                continue
            self._log(answer, retries)
            now = time.time()
            self.budget.note(answer.headers, now=now)
            if answer.status in REDIRECTS:
                url = self._redirect(answer, redirects)
                redirects += 1
                params = None
                continue
            if answer.status == 401 and not refreshed and self._tokens.refresh():
                refreshed = True
                continue
            if not retry.retryable(method, answer.status) or self._retry.gives_up(retries):
                return answer
            last = answer
            retries += 1
            asked = server_wait(answer.headers, answer.status, now=now)
            if answer.status == 429:
                self.budget.exhausted(asked if asked is not None else self._retry.wait_s(retries))
                continue  # the shared budget waits (and says so) before the next attempt
            waited += self._server_pause(answer, asked, waited, retries)

    def _left(self, started: float, waited: float) -> float:
        return self._deadline - (time.monotonic() - started - waited)

    def _attempt(
        self, method: str, url: str, params: Any, body: str | None, *, left: float
    ) -> Answer:
        """One try, holding one request of the budget (given back when there is no answer)."""
        try:
            if left <= 0:
                raise _NoAnswer(
                    f"no answer within {self._deadline:.0f} s", sent=False, deadline=True
                )
            headers = {"Authorization": f"Bearer {self._tokens.token()}"}
            if body is not None:
                headers["Content-Type"] = JSONAPI
            self._count()
            return _exchange(
                self._session,
                method,
                url,
                deadline_s=left,
                connect_timeout=10.0,
                read_timeout=self._read_timeout,
                body_cap=self._body_cap,
                params=params,
                data=body,
                headers=headers,
            )
        except BaseException:
            self.budget.unanswered()
            raise

    def _server_pause(self, answer: Answer, asked: float | None, waited: float, n: int) -> float:
        """Sleep before retrying a 5xx: the server's Retry-After (maintenance), else backoff.
        Returns the time the server asked for (not counted against the deadline)."""
        if asked is None:
            time.sleep(self._retry.wait_s(n))
            return 0.0
        if waited + asked > self.max_wait:
            raise ApiError(
                f"{answer.method} {self._shown(answer.url)}: {answer.status}: the API is "
                f"unavailable until {_clock(time.time() + asked)} (Retry-After), longer than "
                f"--max-wait ({_span(self.max_wait)}); run again after that",
                method=answer.method,
                url=self._shown(answer.url),
                status=answer.status,
            )
        if asked >= NOTICE_AFTER_S:
            what = _error_id(answer) or f"{answer.status}"
            log.warning(
                "the API is unavailable (%s): waiting %s",
                what,
                until_text(asked, now=time.time()),
                **_NOTE,
            )
        time.sleep(asked)
        return asked

    def _redirect(self, answer: Answer, done: int) -> str:
        target = urljoin(answer.url, answer.headers.get("Location", ""))
        if answer.method == "GET" and self.inside(target) and done < MAX_REDIRECTS:
            return target
        raise self._error(
            answer.method,
            answer.url,
            f"{answer.status} redirect to {_place(target)}, not followed: rulesync sends the "
            f"token only to api_url ({self.base_url}) and does not follow redirects of writes "
            "or off it; check api_url (https, host and the /api/v2 path)",
        )

    def _no_answer(self, method: str, url: str, reason: str) -> ApiError:
        shown = self._shown(url)
        if method == "POST":
            return OutcomeUnknown(f"POST {shown}: no answer ({reason})", method=method, url=shown)
        return ApiError(
            f"{method} {shown}: cannot reach the API at {self.base_url} ({reason}); check "
            "api_url and the network",
            method=method,
            url=shown,
        )

    def _log(self, answer: Answer, retries: int) -> None:
        if log.isEnabledFor(logging.INFO):
            left = answer.headers.get("X-RateLimit-Remaining")
            log.info(
                "%s %s -> %s in %.0f ms%s%s",
                answer.method,
                self._shown(answer.url),
                answer.status,
                answer.elapsed_s * 1000,
                f", retry {retries}" if retries else "",
                f", {left} requests left" if left is not None else "",
            )

    def _check(self, answer: Answer) -> None:
        if answer.status < 400:
            return
        method, shown = answer.method, self._shown(answer.url)
        errors = _errors(answer)
        detail = "; ".join(_describe(e) for e in errors) or _reason_phrase(answer.status)
        message = f"{method} {shown}: {answer.status} {detail}".rstrip()
        status = answer.status
        if status == 401:
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
        if status == 403:
            raise AuthError(
                f"{message} — {self._forbidden(method, shown, errors)}",
                method=method,
                url=shown,
                status=403,
                errors=errors,
            )
        if method == "POST" and status >= 500:
            raise OutcomeUnknown(message, method=method, url=shown, status=status, errors=errors)
        raise ApiError(message, method=method, url=shown, status=status, errors=errors)

    def _forbidden(self, method: str, shown: str, errors: list[dict[str, Any]]) -> str:
        if any(e.get("id") == "unauthorizedRequest" for e in errors):
            return (
                "the token has the scope, but the user's Outreach permissions (governance "
                "profile) do not allow this; ask an Outreach administrator"
            )
        path = shown.split("?", 1)[0]
        rest = path[len(self._prefix) :] if path.startswith(self._prefix) else path
        kind = rest.strip("/").split("/", 1)[0] or "rulesets"
        scope = f"{kind}.{SCOPE_LEVEL.get(method, 'read')}"
        return (
            f"the token lacks the OAuth scope {scope}; re-authorize the app with it (scopes "
            f"are not additive: {kind}.write does not grant {kind}.read; {kind}.all grants "
            "read, write and delete)"
        )

    def _json(
        self, method: str, url: str, *, params: Any = None, json_body: Any = None
    ) -> dict[str, Any]:
        answer = self._send(method, url, params=params, json_body=json_body)
        self._check(answer)
        body = _parse_json(answer.content)
        if body is None:
            raise self._error(method, url, "the answer is not JSON")
        if not isinstance(body, dict):
            raise self._error(method, url, "unexpected answer (not a JSON object)")
        return body

    def _data(self, method: str, url: str, *, json_body: Any) -> dict[str, Any]:
        body = self._json(method, url, json_body=json_body)
        data = body.get("data")
        if not isinstance(data, dict):
            raise self._error(method, url, "the answer has no data object")
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
        seen: set[str] = set()
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
            nxt = links.get("next") if isinstance(links, dict) else None
            if nxt is not None and not isinstance(nxt, str):
                return None
            # off the API or back to a page already read: refused, as in list_all
            url = self._next_page(url, body, seen)
        if any(not hits[name] and legacy_ambiguous(name) for name in chunk):
            return None
        return hits


_NOTE: dict[str, Any] = {"extra": {"notice": True}}


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port


def _place(url: str) -> str:
    """Where a URL points, without its query (which could carry anything)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]  # never show user:password
    return f"{parts.scheme}://{host}{parts.path or '/'}"


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _parse_json(content: bytes) -> Any:
    """JSON from an answer, or None. Bytes that are not UTF-8 become U+FFFD. Values are kept as
    the API sent them, lone surrogates (``"\\ud800"``) included: what cannot be printed is
    replaced at output, and export decides what a file can hold."""
    try:
        return json.loads(content.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None


def _never_sent(err: Exception) -> bool:
    """Whether the request certainly never reached the server (so even a POST may be retried)."""
    if isinstance(err, requests.ConnectTimeout):
        return True
    cause: Any = err.args[0] if err.args else None
    return isinstance(getattr(cause, "reason", cause), NewConnectionError)


def _reason(err: Exception) -> str:
    text = str(err)
    # urllib3 wraps the root cause several levels deep; its last clause says what happened
    for marker in ("Caused by ", "caused by "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1].strip("()'\" ")
    return text[:200] or type(err).__name__


def _reason_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _errors(answer: Answer) -> list[dict[str, Any]]:
    body = _parse_json(answer.content)
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _error_id(answer: Answer) -> str:
    ids = [str(e.get("id")) for e in _errors(answer) if e.get("id")]
    return ids[0] if ids else ""


def _describe(error: dict[str, Any]) -> str:
    text = str(error.get("detail") or error.get("title") or error.get("id") or "")
    source = error.get("source")
    pointer = source.get("pointer") if isinstance(source, dict) else None
    return f"{text} (at {pointer})" if pointer else text


_LEGACY_SPECIAL = (",", "..")
_LEGACY_WORDS = ("__null__", "__notnull__")


def legacy_ambiguous(name: str) -> bool:
    """Whether the legacy filter syntax would read ``name`` as something other than itself."""
    return any(mark in name for mark in _LEGACY_SPECIAL) or name.strip() in _LEGACY_WORDS


def _name_of(resource: dict[str, Any]) -> str | None:
    attrs = resource.get("attributes")
    name = attrs.get("name") if isinstance(attrs, dict) else None
    return name if isinstance(name, str) else None
