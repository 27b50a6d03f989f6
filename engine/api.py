"""What the engine asks of the Outreach API, as a port: the applier and the sequence
planning call these methods and nothing else. ``client.Client`` is the implementation that
speaks HTTP; this module imports no HTTP library, so code written against ``Api`` does not
either."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

PAGE_SIZE = 1000  # resources a page: the most Outreach's JSON:API answers at once
NAMES_PER_LOOKUP = 20  # names per lookup request: keeps the query string short


class Api(Protocol):
    """The reads and writes of one Outreach org. Resources are JSON:API objects as the server
    sent them (only ``data`` items that are objects); a write whose answer was lost raises
    ``errors.OutcomeUnknown``, any other failure ``errors.ApiError``."""

    @property
    def requests(self) -> int:
        """Requests sent so far (for the plan's cost)."""
        ...

    def list_all(
        self, kind: str, filters: dict[str, str | list[str]] | None = None
    ) -> list[dict[str, Any]]:
        """Every resource of ``kind`` (``filters``: literal values, a list matches any)."""
        ...

    def list_query(self, kind: str, query: list[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every resource of ``kind`` that the query string ``query`` selects."""
        ...

    def list_by_ids(self, kind: str, ids: Iterable[int]) -> list[dict[str, Any]]:
        """The resources of ``kind`` with these ids (those that exist)."""
        ...

    def find_by_names(self, kind: str, names: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """``{name: [resources named exactly name]}`` for every name asked for."""
        ...

    def find_by_name(self, kind: str, name: str) -> list[dict[str, Any]]:
        """The resources named exactly ``name``."""
        ...

    def create(self, kind: str, resource: dict[str, Any]) -> dict[str, Any]:
        """POST ``resource``; the created resource."""
        ...

    def update(self, kind: str, resource_id: int, resource: dict[str, Any]) -> dict[str, Any]:
        """PATCH ``resource`` onto the resource ``resource_id``; the updated resource."""
        ...

    def delete(self, kind: str, resource_id: int) -> bool:
        """True when deleted now, False when it was already gone."""
        ...
