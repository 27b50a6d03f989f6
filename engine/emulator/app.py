"""The WSGI application: Outreach's routes under ``/api/v2`` (rulesets, sequences, stages, task
priorities, users), ``/oauth/token``, and the emulator's own ``/_emulator`` control routes."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from rulesync.emulator.documents import Renderer, parse_shape
from rulesync.emulator.faults import Faults, RateLimiter, Stats, parse_faults
from rulesync.emulator.jsonapi import JSONAPI, ApiError, fail, json_response
from rulesync.emulator.listing import parse_list_query
from rulesync.emulator.oauth import OAuthIssuer
from rulesync.emulator.openapi import by_collection
from rulesync.emulator.resources import parse_write
from rulesync.emulator.scopes import grants, require
from rulesync.emulator.store import Store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

# The CLI keeps this logger quiet unless asked for debug output: nothing the emulator logs
# (not even a traceback of its own bug) lands in a command's output by default.
log = logging.getLogger("rulesync.emulator")

MAX_BODY_BYTES = 1_000_000
# What this emulator serves of each collection (the documents list more for some).
SERVED: dict[str, frozenset[str]] = {
    "rulesets": frozenset({"list", "create", "get", "update", "delete"}),
    "sequences": frozenset({"list", "get", "update"}),
    "stages": frozenset({"list", "get"}),
    "taskPriorities": frozenset({"list", "get"}),
    "users": frozenset({"list", "get"}),
}
_ACTION = {
    ("collection", "GET"): "list",
    ("collection", "HEAD"): "list",
    ("collection", "POST"): "create",
    ("item", "GET"): "get",
    ("item", "HEAD"): "get",
    ("item", "PATCH"): "update",
    ("item", "DELETE"): "delete",
}
_METHOD = {action: method for (_, method), action in _ACTION.items() if method != "HEAD"}

Handler = Callable[[Request, dict[str, Any]], Response]


class LimitedRequest(Request):
    """Bodies are capped whatever their transfer encoding (a chunked body included)."""

    # One byte over the cap, so that a chunked body (whose length is unknown up front, and
    # which werkzeug cuts silently at the limit) shows it is too large by reaching it.
    max_content_length = MAX_BODY_BYTES + 1
    max_form_memory_size = MAX_BODY_BYTES


class DroppedResponse(ConnectionError):
    """Raised after the socket is shut down: the server treats it as a dropped connection,
    so it writes nothing and logs nothing, and the client sees the connection close."""


def _routes() -> Map:
    collections = f"<any({', '.join(sorted(SERVED))}):collection>"
    return Map(
        [
            Rule(f"/api/v2/{collections}", endpoint="collection", methods=["GET", "POST"]),
            Rule(
                f"/api/v2/{collections}/<id>", endpoint="item", methods=["GET", "PATCH", "DELETE"]
            ),
            Rule("/oauth/token", endpoint="oauth", methods=["POST"]),
            Rule("/_emulator/stats", endpoint="stats", methods=["GET"]),
            Rule("/_emulator/faults", endpoint="faults", methods=["GET", "POST"]),
            Rule("/_emulator/reset", endpoint="reset", methods=["POST"]),
        ],
        strict_slashes=False,
        merge_slashes=False,
    )


def _template(endpoint: str | None, values: dict[str, Any]) -> str:
    """The route template a request is counted under in the stats."""
    if endpoint == "collection":
        return f"/api/v2/{values['collection']}"
    if endpoint == "item":
        return f"/api/v2/{values['collection']}/{{id}}"
    return "(no such route)"


def _not_found(kind: str, raw: object) -> ApiError:
    return fail(404, "resourceNotFound", f"Could not find '{kind}' with ID '{raw}'.")


def _path_id(kind: str, raw: str) -> int:
    """Ids that are not positive integers are simply not found, as on Outreach."""
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= 2**63 - 1:
        raise _not_found(kind, raw[:100])
    return int(raw)


def _json_body(request: Request) -> Any:
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise _too_large() from None
    if len(raw) > MAX_BODY_BYTES:
        raise _too_large()
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise fail(400, "badRequest", "The body is not valid JSON.") from None


def _too_large() -> ApiError:
    # The rest of the body is never read: the connection cannot carry another request.
    return fail(
        413,
        "requestTooLarge",
        f"The body is larger than {MAX_BODY_BYTES} bytes.",
        headers={"Connection": "close"},
    )


def _jsonapi_body(request: Request) -> Any:
    if request.mimetype != JSONAPI:
        got = request.mimetype or "none"
        raise fail(
            415,
            "unsupportedMediaType",
            f"Expected Content-Type header to be '{JSONAPI}', got {got}.",
        )
    return _json_body(request)


class EmulatorApp:
    """One instance per server; all state lives in the store and the control objects."""

    def __init__(
        self, *, store: Store, token: str, oauth: OAuthIssuer, scopes: frozenset[str]
    ) -> None:
        self.store = store
        self.oauth = oauth
        self.scopes = scopes
        self.faults = Faults()
        self.limiter = RateLimiter()
        self.stats = Stats()
        self._token = token.encode()
        self._map = _routes()
        self._handlers: dict[str, Handler] = {
            "stats": self._stats,
            "faults": self._faults,
            "reset": self._reset,
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = LimitedRequest(environ)
        try:
            response = self._dispatch(request)
        except DroppedResponse:
            raise
        except ApiError as err:
            response = err.response()
        except Exception as err:  # the emulator's own bug: answer, log quietly
            log.debug("emulator failed on %s %s", request.method, request.path, exc_info=True)
            response = _internal(err).response()
        return response(environ, start_response)

    # -- routing, auth, faults -------------------------------------------------------------

    def _dispatch(self, request: Request) -> Response:
        endpoint: str | None = None
        values: dict[str, Any] = {}
        allowed: Iterable[str] | None = None
        try:
            endpoint, matched = self._map.bind_to_environ(request.environ).match()
            values = dict(matched)
        except MethodNotAllowed as err:
            allowed = err.valid_methods
        except HTTPException:
            pass
        path = request.path
        if path == "/oauth/token" or path == "/api/v2" or path.startswith("/api/v2/"):
            return self._outreach(request, endpoint, values, allowed)
        if path.startswith("/_emulator/") and (endpoint is not None or allowed is not None):
            self._authorize(request)
            return self._route(request, endpoint, values, allowed)
        raise fail(404, "notFound", f"No route {path}; the API is under /api/v2.")

    def _route(
        self,
        request: Request,
        endpoint: str | None,
        values: dict[str, Any],
        allowed: Iterable[str] | None,
    ) -> Response:
        if allowed is not None:
            raise _not_allowed(request.method, allowed)
        if endpoint is None:
            raise fail(404, "notFound", f"No route {request.path}.")
        if endpoint in ("collection", "item"):
            return self._resource(request, endpoint, values)
        return self._handlers[endpoint](request, values)

    def _bearer(self, request: Request) -> str | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None

    def _accepts(self, token: str | None) -> bool:
        if token is None:
            return False
        encoded = token.encode("utf-8", "replace")
        return hmac.compare_digest(encoded, self._token) or self.oauth.accepts(token)

    def _authorize(self, request: Request) -> None:
        if not self._accepts(self._bearer(request)):
            raise _unauthorized()

    def _outreach(
        self,
        request: Request,
        endpoint: str | None,
        values: dict[str, Any],
        allowed: Iterable[str] | None,
    ) -> Response:
        if request.path == "/oauth/token":
            # The token endpoint has its own (OAuth) auth and errors, and no faults.
            self.stats.record(request.method, "/oauth/token")
            if endpoint != "oauth":
                return self._route(request, endpoint, values, allowed)
            return self._token_endpoint(request)
        self.stats.record(request.method, _template(endpoint, values))
        decision = self.faults.decide()
        if decision.latency_s:
            time.sleep(decision.latency_s)
        maintenance = self.faults.maintenance_end()
        if maintenance is not None:
            response = _maintenance(maintenance).response()
            response.headers.update(self.limiter.check(None).headers)
            return response
        authorized = self._accepts(self._bearer(request))
        # Every token here is the same user's: one budget for all of them (rate limits are
        # per user on Outreach).
        verdict = self.limiter.check("user" if authorized else None)
        try:
            if not authorized:
                raise _unauthorized()
            if not verdict.allowed:
                reset = datetime.fromtimestamp(int(verdict.headers["Retry-After"]), timezone.utc)
                raise fail(
                    429,
                    "rateLimitExceeded",
                    f"You have exceeded your permitted rate limit of {self.limiter.limit:,}; "
                    f"please try again at {reset:%Y-%m-%dT%H:%M:%S}.",
                )
            if decision.error_status is not None:
                raise _injected(decision.error_status)
            response = self._route(request, endpoint, values, allowed)
        except ApiError as err:
            response = err.response()
        except sqlite3.OperationalError:
            log.debug(
                "emulator database busy on %s %s", request.method, request.path, exc_info=True
            )
            response = fail(
                503,
                "databaseBusy",
                "The emulator's database is locked by another process; retry shortly.",
                headers={"Retry-After": "1"},
            ).response()
        response.headers.update(verdict.headers)
        if decision.drop and decision.error_status is None:
            _drop(request)
        return response

    # -- Outreach routes -------------------------------------------------------------------

    def _base(self, request: Request) -> str:
        return request.host_url.rstrip("/") + "/api/v2"

    def _renderer(self, request: Request, kind: str) -> Renderer:
        shape = parse_shape(kind, request.args)
        if request.method in ("POST", "PATCH"):
            # Not on create/update answers since May 2023 (Conventions, field expansion).
            shape = replace(shape, include=())
        return Renderer(
            store=self.store,
            base=self._base(request),
            shape=shape,
            grants=lambda collection, level: grants(self.scopes, collection, level),
        )

    def _resource(self, request: Request, endpoint: str, values: dict[str, Any]) -> Response:
        collection = values["collection"]
        action = _ACTION[(endpoint, request.method)]
        if action not in SERVED[collection]:
            methods = [
                _METHOD[a] for a in sorted(SERVED[collection]) if (endpoint, _METHOD[a]) in _ACTION
            ]
            raise _not_allowed(request.method, methods)
        require(self.scopes, collection, request.method)
        kind = by_collection()[collection].type
        if action == "list":
            query = parse_list_query(kind, request.args)
            renderer = self._renderer(request, kind)
            page = self.store.list(query)
            text = renderer.page(kind, query, page, request.base_url, request.args)
            return json_response(text)
        if action == "create":
            body = _jsonapi_body(request)
            write = parse_write(kind, body, url_id=None, ref_exists=self.store.ref_exists)
            row = self.store.create(kind, write)
            response = json_response(self._renderer(request, kind).document(kind, row), status=201)
            response.headers["Location"] = f"{self._base(request)}/{collection}/{row.id}"
            return response
        row_id = _path_id(kind, values["id"])
        if action == "delete":
            if not self.store.delete(kind, row_id):
                raise _not_found(kind, row_id)
            return Response(status=204)
        if action == "update":
            body = _jsonapi_body(request)
            if self.store.get(kind, row_id) is None:
                raise _not_found(kind, row_id)
            write = parse_write(kind, body, url_id=row_id, ref_exists=self.store.ref_exists)
            found = self.store.update(kind, row_id, write)
        else:
            found = self.store.get(kind, row_id)
        if found is None:
            raise _not_found(kind, row_id)
        return json_response(self._renderer(request, kind).document(kind, found))

    def _token_endpoint(self, request: Request) -> Response:
        try:
            form = {key: request.form[key] for key in request.form}
        except RequestEntityTooLarge:
            raise _too_large() from None
        answer = self.oauth.mint(form)
        return json_response(
            answer.body,
            status=answer.status,
            headers=answer.headers,
            content_type="application/json",
        )

    # -- control routes --------------------------------------------------------------------

    def _stats(self, request: Request, values: dict[str, Any]) -> Response:
        return json_response(self.stats.snapshot(), content_type="application/json")

    def _faults(self, request: Request, values: dict[str, Any]) -> Response:
        if request.method == "POST":
            config = parse_faults(_json_body(request))
            self.faults.configure(config)
            self.limiter.configure(config.rate_limit, config.rate_window_s)
        body = {"faults": self.faults.config.to_json()}
        return json_response(body, content_type="application/json")

    def _reset(self, request: Request, values: dict[str, Any]) -> Response:
        self.reset()
        body = {"reset": True, "rulesets": self.store.count_rulesets()}
        return json_response(body, content_type="application/json")

    def reset(self) -> None:
        """Back to the seeded state: data, statistics, faults and rate-limit counters."""
        self.store.reset()
        self.stats.reset()
        self.faults.configure(parse_faults({}))
        self.limiter.configure(None, None)


def _not_allowed(method: str, allowed: Iterable[str]) -> ApiError:
    methods = ", ".join(sorted(allowed))
    return fail(
        405,
        "methodNotAllowed",
        f"{method} is not allowed here; use {methods}.",
        headers={"Allow": methods},
    )


def _unauthorized() -> ApiError:
    detail = "A valid bearer token is required (Authorization: Bearer TOKEN)."
    return fail(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


def _internal(err: Exception) -> ApiError:
    return fail(500, "internalServerError", f"The emulator failed ({type(err).__name__}).")


def _maintenance(until: float) -> ApiError:
    moment = datetime.fromtimestamp(until, timezone.utc)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return fail(
        503,
        "scheduledServerMaintenance",
        f"Scheduled server maintenance is under way; please try again at {stamp}.",
        headers={"Retry-After": stamp},
    )


def _injected(status: int) -> ApiError:
    headers = {"Retry-After": "1"} if status in (429, 503) else {}
    error_id = "rateLimitExceeded" if status == 429 else "injectedFault"
    return fail(status, error_id, f"Injected fault: HTTP {status}.", headers=headers)


def _drop(request: Request) -> None:
    """Lose the response: the work is already committed, the client gets no answer."""
    connection = request.environ.get("werkzeug.socket")
    if isinstance(connection, socket.socket):
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
    raise DroppedResponse("response dropped by fault injection")
