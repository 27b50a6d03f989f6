"""What the credentials may do, from Outreach's authorization meta (Ruleset page,
``provideAuthorizationMeta=true``: ``meta.canWrite`` and ``meta.canDelete`` per resource)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

AUTHORIZATION_META = ("provideAuthorizationMeta", "true")


def denied(resource: Mapping[str, Any], action: str, *, collection: str = "rulesets") -> str | None:
    """Why the credentials may not ``action`` (update/delete) ``resource``, or None when the
    meta allows it or says nothing (a server that ignores the parameter)."""
    meta = resource.get("meta")
    if not isinstance(meta, dict):
        return None
    key, level = ("canDelete", "delete") if action == "delete" else ("canWrite", "write")
    if meta.get(key) is not False:
        return None
    return (
        f"Outreach says {key}: false for these credentials; the token needs the"
        f" '{collection}.{level}' scope (or that permission in Outreach)"
    )
