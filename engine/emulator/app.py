"""The WSGI application: Outreach's ruleset routes under ``/api/v2``, ``/oauth/token``, and the
emulator's own ``/_emulator`` control routes."""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from rulesync.emulator.faults import Faults, RateLimiter, Stats, parse_faults
from rulesync.emulator.jsonapi import JSONAPI, ApiError, fail, json_response
from rulesync.emulator.listing import encode_cursor, parse_list_query
from rulesync.emulator.oauth import OAuthIssuer
from rulesync.emulator.resources import parse_ruleset_write, render
from rulesync.emulator.store import Row, Store

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("rulesync.emulator")

MAX_BODY_BYTES = 1_000_000
_SQLITE_MAX_INT = 2**63 - 1
_KINDS = {"stages": "stage", "taskPriorities": "taskPriority", "users": "user"}
_ID = re.compile(r"[0-9]+")

Handler = Callable[[Request, dict[str, Any]], Response]


class DroppedResponse(ConnectionError):
    """Raised after the socket is shut down: the server treats it as a dropped connection,
    so it writes nothing and logs nothing, and the client sees the connection close."""


def _routes() -> Map:
    refs = "<any(stages, taskPriorities, users):collection>"
    return Map(
        [
            Rule("/api/v2/rulesets", endpoint="rulesets", methods=["GET", "POST"]),
            Rule("/api/v2/rulesets/<id>", endpoint="ruleset", methods=["GET", "PATCH", "DELETE"]),
            Rule(f"/api/v2/{refs}", endpoint="refs", methods=["GET"]),
            Rule(f"/api/v2/{refs}/<id>", endpoint="ref", methods=["GET"]),
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
    if endpoint == "rulesets":
        return "/api/v2/rulesets"
    if endpoint == "ruleset":
        return "/api/v2/rulesets/{id}"
    if endpoint == "refs":
        return f"/api/v2/{values['collection']}"
    if endpoint == "ref":
        return f"/api/v2/{values['collection']}/{{id}}"
    return "(no such route)"


def _path_id(raw: str) -> int:
    if not _ID.fullmatch(raw):
        raise fail(
            400, "badRequest", f"The id in the URL must be an integer, got {raw!r}.", parameter="id"
        )
    return int(raw)


def _not_found(kind: str, row_id: int) -> ApiError:
    return fail(404, "resourceNotFound", f"Could not find '{kind}' with ID '{row_id}'.")


def _json_body(request: Request) -> Any:
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise fail(413, "requestTooLarge", f"The body is larger than {MAX_BODY_BYTES} bytes.")
    raw = request.get_data(cache=False)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise fail(400, "badRequest", "The body is not valid JSON.") from None


def _jsonapi_body(request: Request) -> Any:
    if request.mimetype != JSONAPI:
        got = request.mimetype or "none"
        raise fail(415, "unsupportedMediaType", f"Content-Type must be {JSONAPI}, got {got}.")
    return _json_body(request)


class EmulatorApp:
    """One instance per server; all state lives in the store and the control objects."""

    def __init__(self, *, store: Store, token: str, oauth: OAuthIssuer) -> None:
        self.store = store
        self.oauth = oauth
        self.faults = Faults()
        self.limiter = RateLimiter()
        self.stats = Stats()
        self._token = token.encode()
        self._map = _routes()
        self._handlers: dict[str, Handler] = {
            "rulesets": self._rulesets,
            "ruleset": self._ruleset,
            "refs": self._refs,
            "ref": self._ref,
            "stats": self._stats,
            "faults": self._faults,
            "reset": self._reset,
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except DroppedResponse:
            raise
        except ApiError as err:
            response = err.response()
        except Exception:
            log.exception("emulator bug while answering %s %s", request.method, request.path)
            response = fail(500, "internalServerError", "The emulator failed.").response()
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
            methods = ", ".join(sorted(allowed))
            raise fail(
                405,
                "methodNotAllowed",
                f"{request.method} is not allowed here; use {methods}.",
                headers={"Allow": methods},
            )
        if endpoint is None:
            raise fail(404, "notFound", f"No route {request.path}.")
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
        token = self._bearer(request)
        authorized = self._accepts(token)
        verdict = self.limiter.check(token if authorized else None)
        try:
            if not authorized:
                raise _unauthorized()
            if not verdict.allowed:
                raise fail(
                    429,
                    "rateLimitExceeded",
                    f"Rate limit exceeded; retry after {verdict.headers['Retry-After']} s.",
                )
            if decision.error_status is not None:
                raise _injected(decision.error_status)
            response = self._route(request, endpoint, values, allowed)
        except ApiError as err:
            response = err.response()
        response.headers.update(verdict.headers)
        if decision.drop and decision.error_status is None:
            _drop(request)
        return response

    # -- Outreach routes -------------------------------------------------------------------

    def _base(self, request: Request) -> str:
        return request.host_url.rstrip("/") + "/api/v2"

    def _one(self, request: Request, kind: str, row: Row, status: int = 200) -> Response:
        text = render(kind, row.id, row.attributes, row.relationships, self._base(request))
        return json_response(f'{{"data":{text}}}', status=status)

    def _list(self, request: Request, kind: str) -> Response:
        query = parse_list_query(kind, request.args)
        page = self.store.list(query)
        base = self._base(request)
        parts = ['{"data":[']
        parts.append(
            ",".join(render(kind, r.id, r.attributes, r.relationships, base) for r in page.rows)
        )
        parts.append("]")
        if page.last_sort_values is not None:
            pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "page[after]"]
            pairs.append(("page[after]", encode_cursor(query.sort_spec, page.last_sort_values)))
            parts.append(
                ',"links":' + json.dumps({"next": f"{request.base_url}?{urlencode(pairs)}"})
            )
        if query.count:
            parts.append(f',"meta":{{"count":{page.count}}}')
        parts.append("}")
        return json_response("".join(parts))

    def _rulesets(self, request: Request, values: dict[str, Any]) -> Response:
        if request.method != "POST":
            return self._list(request, "ruleset")
        body = _jsonapi_body(request)
        write = parse_ruleset_write(body, url_id=None, ref_exists=self.store.ref_exists)
        row = self.store.create_ruleset(write)
        response = self._one(request, "ruleset", row, status=201)
        response.headers["Location"] = f"{self._base(request)}/rulesets/{row.id}"
        return response

    def _ruleset(self, request: Request, values: dict[str, Any]) -> Response:
        row_id = _path_id(values["id"])
        if request.method == "DELETE":
            if row_id > _SQLITE_MAX_INT or not self.store.delete_ruleset(row_id):
                raise _not_found("ruleset", row_id)
            return Response(status=204)
        if request.method == "PATCH":
            body = _jsonapi_body(request)
            if row_id > _SQLITE_MAX_INT or self.store.get("ruleset", row_id) is None:
                raise _not_found("ruleset", row_id)
            write = parse_ruleset_write(body, url_id=row_id, ref_exists=self.store.ref_exists)
            row = self.store.update_ruleset(row_id, write)
        else:
            row = None if row_id > _SQLITE_MAX_INT else self.store.get("ruleset", row_id)
        if row is None:
            raise _not_found("ruleset", row_id)
        return self._one(request, "ruleset", row)

    def _refs(self, request: Request, values: dict[str, Any]) -> Response:
        return self._list(request, _KINDS[values["collection"]])

    def _ref(self, request: Request, values: dict[str, Any]) -> Response:
        kind = _KINDS[values["collection"]]
        row_id = _path_id(values["id"])
        row = None if row_id > _SQLITE_MAX_INT else self.store.get(kind, row_id)
        if row is None:
            raise _not_found(kind, row_id)
        return self._one(request, kind, row)

    def _token_endpoint(self, request: Request) -> Response:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise fail(413, "requestTooLarge", f"The body is larger than {MAX_BODY_BYTES} bytes.")
        form = {key: request.form[key] for key in request.form}
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


def _unauthorized() -> ApiError:
    detail = "A valid bearer token is required (Authorization: Bearer TOKEN)."
    return fail(401, "unauthorized", detail, headers={"WWW-Authenticate": "Bearer"})


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
