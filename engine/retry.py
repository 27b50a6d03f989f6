"""When a request is tried again and how long rulesync waits first: one policy, read by the
API client and by the OAuth token request alike.

Outreach's conventions (outreach-rate-limits.yml, outreach-error-codes.yml): a 429 means the
request was not processed, so it is safe to send again, even a POST; a 5xx may have been
processed, so only reads, PATCH and DELETE (idempotent) are sent again, and a POST whose answer
is lost is resolved by looking the name up (errors.OutcomeUnknown). Waits the server asks for
(``Retry-After``) are the rate-limit module's; the backoff here is for answers that name none.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class RetryPolicy:
    """How many times a request is retried and the backoff between tries."""

    retries: int  # tries after the first
    first_wait_s: float  # the backoff before the first retry; doubled for each one after
    max_wait_s: float  # no single backoff is longer
    jitter: float = 0.0  # +/- this fraction, so parallel workers do not retry in step
    # a refused connection is rarely transient (wrong api_url, firewall): fewer tries
    connect_retries: int | None = None

    def wait_s(self, retry: int) -> float:
        """The backoff before retry number ``retry`` (1 for the first retry)."""
        base = min(self.max_wait_s, self.first_wait_s * 2 ** (retry - 1))
        if not self.jitter:
            return float(base)
        return float(base * (1 + random.uniform(-self.jitter, self.jitter)))

    def gives_up(self, retries: int, connect_failures: int = 0) -> bool:
        """Whether ``retries`` retries so far (``connect_failures`` of them refused
        connections) are all this policy allows."""
        if self.connect_retries is not None and connect_failures > self.connect_retries:
            return True
        return retries >= self.retries


def retryable(method: str, status: int) -> bool:
    """Whether an answer with ``status`` to ``method`` may be sent again unchanged."""
    if status == 429:
        return True  # the server did nothing: safe even for POST
    return status in RETRY_STATUSES and method != "POST"


# The API: up to 8 retries, 0.5 s doubling to at most 10 s, +/-20%; a refused connection is
# given up after 3 (about 4 s).
API = RetryPolicy(retries=8, first_wait_s=0.5, max_wait_s=10.0, jitter=0.2, connect_retries=3)
# The token endpoint: 4 tries in all, 2 s doubling (a 429 waits for its Retry-After, or the
# minute Outreach allows between mints), no single wait over 90 s.
TOKEN = RetryPolicy(retries=3, first_wait_s=2.0, max_wait_s=90.0)
