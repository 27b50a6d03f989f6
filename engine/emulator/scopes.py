"""OAuth scopes as Outreach enforces them (CONVENTIONS, scopes): ``<pluralResource>.<level>``
with levels read, write, delete and all; ``all`` implies the other three; scopes are not
additive (``rulesets.write`` grants no read); a missing scope is 403
``unauthorizedOauthScope`` naming it."""

from __future__ import annotations

from rulesync.emulator import rules
from rulesync.emulator.jsonapi import ApiError, fail
from rulesync.emulator.openapi import resources_table

LEVEL_OF_METHOD = {"GET": "read", "HEAD": "read", "POST": "write", "PATCH": "write"}
LEVEL_OF_METHOD["DELETE"] = "delete"


class ScopeError(ValueError):
    """A ``--scopes`` value that is not a list of ``resource.level`` scopes."""


def every_scope() -> str:
    """The default: all levels of every collection the emulator serves."""
    names = sorted(r.collection for r in resources_table().values())
    return " ".join(f"{name}.all" for name in names)


def parse_scopes(text: str) -> frozenset[str]:
    """``"rulesets.read rulesets.write"`` -> the set; spaces or commas separate."""
    scopes = frozenset(part for part in text.replace(",", " ").split() if part)
    for scope in scopes:
        resource, _, level = scope.partition(".")
        if not resource or level not in rules.SCOPE_LEVELS:
            raise ScopeError(
                f"{scope!r} is not a scope; write RESOURCE.LEVEL with LEVEL one of "
                + ", ".join(rules.SCOPE_LEVELS)
                + " (e.g. rulesets.read)"
            )
    return scopes


def grants(scopes: frozenset[str], collection: str, level: str) -> bool:
    return f"{collection}.{level}" in scopes or f"{collection}.all" in scopes


def require(scopes: frozenset[str], collection: str, method: str) -> None:
    level = LEVEL_OF_METHOD.get(method, "read")
    if not grants(scopes, collection, level):
        raise missing(f"{collection}.{level}")


def missing(scope: str) -> ApiError:
    return fail(
        403,
        "unauthorizedOauthScope",
        f"Your authorization does not include the required scope '{scope}'.",
    )
