"""Value rules the OpenAPI document does not carry, each written down once with its source.

Sources:
- PAGE: Outreach's Ruleset reference page (developers.outreach.io, "Ruleset"), whose attribute
  descriptions state the permitted values and defaults of the two enumerated attributes.
- CONVENTIONS: Outreach's "Making requests" / "Getting started" documentation (pagination
  limits, filter syntax, scopes, rate limits, OAuth token lifetimes).
- EMULATOR: choices of this emulator where no document speaks; listed in docs/emulator.md as
  differences from Outreach.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Enumerated:
    values: tuple[str, ...]
    default: str


# PAGE: permitDuplicateProspects: 'Permitted values include "allow", "disallow" (the default)
# and "only_if_inactive"'; sequenceExclusivity: 'Permitted values include "all_sequences",
# "exclusive_sequences" and "none" (the default)'. Outreach stores the default when a ruleset
# is created without the value, so a ruleset never holds null there.
ENUMERATED: dict[str, dict[str, Enumerated]] = {
    "ruleset": {
        "permitDuplicateProspects": Enumerated(
            ("allow", "disallow", "only_if_inactive"), "disallow"
        ),
        "sequenceExclusivity": Enumerated(("all_sequences", "exclusive_sequences", "none"), "none"),
    },
}

# EMULATOR: every ruleset integer is a number of seconds or a count; the backing columns are
# 32-bit, so negative or larger values are refused.
INT_MIN = 0
INT_MAX = 2_147_483_647

# EMULATOR: the document marks `name` nullable, but a ruleset without a name cannot be told
# apart in the UI; the emulator requires a non-blank name on create and refuses null/blank.
REQUIRED_NAME = frozenset({"ruleset"})

# CONVENTIONS (pagination): default 50, at most 1000 per page; offset paging at most 10,000.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
MAX_OFFSET = 10_000
# CONVENTIONS (counting): counts stop at 2,000,000 and say so with meta.count_truncated.
MAX_COUNT = 2_000_000

# CONVENTIONS (rate limits): 10,000 requests per user per hour.
RATE_LIMIT = 10_000
RATE_WINDOW_S = 3600.0

# CONVENTIONS (authentication): access tokens live 2 hours, refresh tokens 14 days, at most
# 100 active refresh tokens per user and application, one mint per minute per user and app.
ACCESS_TOKEN_TTL_S = 7200
REFRESH_TOKEN_TTL_S = 14 * 86400
MAX_REFRESH_TOKENS = 100
MINT_INTERVAL_S = 60.0

# CONVENTIONS (scopes): "<pluralResource>.<level>"; `all` implies read, write and delete.
SCOPE_LEVELS = ("read", "write", "delete", "all")
