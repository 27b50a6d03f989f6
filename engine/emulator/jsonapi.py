"""JSON:API plumbing shared by the emulator's routes: error values, responses, timestamps."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from werkzeug.wrappers import Response

JSONAPI = "application/vnd.api+json"

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    422: "Validation Error",
    429: "Rate Limit Exceeded",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# Titles of the error ids Outreach documents (CONVENTIONS, errors).
TITLES_BY_ID = {
    "resourceNotFound": "Resource Not Found",
    "validationError": "Validation Error",
    "unauthorizedOauthScope": "Unauthorized OAuth Scope",
    "unauthorizedRequest": "Unauthorized Request",
    "rateLimitExceeded": "Rate Limit Exceeded",
    "scheduledServerMaintenance": "Scheduled Server Maintenance",
    "unsupportedMediaType": "Unsupported Media Type",
}


@dataclass(frozen=True)
class ErrorItem:
    """One entry of a JSON:API ``errors`` array."""

    id: str
    detail: str
    title: str = ""
    pointer: str | None = None
    parameter: str | None = None

    def to_json(self, status: int) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": self.id,
            "title": self.title or TITLES_BY_ID.get(self.id) or TITLES.get(status, "Error"),
            "detail": self.detail,
        }
        if self.pointer is not None:
            item["source"] = {"pointer": self.pointer}
        elif self.parameter is not None:
            item["source"] = {"parameter": self.parameter}
        return item


@dataclass
class ApiError(Exception):
    """Raised anywhere in a request; the app turns it into an error response."""

    status: int
    items: list[ErrorItem]
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        body = {"errors": [item.to_json(self.status) for item in self.items]}
        return json_response(body, status=self.status, headers=self.headers)


def fail(
    status: int,
    error_id: str,
    detail: str,
    *,
    pointer: str | None = None,
    parameter: str | None = None,
    headers: dict[str, str] | None = None,
) -> ApiError:
    """A single-error ApiError, to ``raise``."""
    item = ErrorItem(id=error_id, detail=detail, pointer=pointer, parameter=parameter)
    return ApiError(status, [item], dict(headers or {}))


def invalid(detail: str, pointer: str) -> ErrorItem:
    """A 422 ``validationError`` entry pointing at the offending member."""
    return ErrorItem(id="validationError", title="Validation Error", detail=detail, pointer=pointer)


def json_response(
    body: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = JSONAPI,
) -> Response:
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    return Response(text, status=status, headers=headers, content_type=content_type)


def now_iso() -> str:
    """UTC now as the API writes it: ISO 8601 with milliseconds and ``Z``."""
    moment = datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def encodable(text: str) -> bool:
    """False for strings with lone surrogates: JSON can carry them, SQLite cannot store them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
