"""The one retry policy (engine/retry.py), read by the API client and the token request."""

from __future__ import annotations

import pytest

from rulesync import retry
from rulesync.retry import RetryPolicy, retryable


def test_the_backoff_doubles_from_the_first_wait_up_to_its_cap() -> None:
    policy = RetryPolicy(retries=8, first_wait_s=0.5, max_wait_s=3.0)
    assert [policy.wait_s(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_jitter_spreads_parallel_workers_within_its_fraction() -> None:
    policy = RetryPolicy(retries=8, first_wait_s=1.0, max_wait_s=10.0, jitter=0.2)
    waits = [policy.wait_s(2) for _ in range(400)]
    assert all(1.6 <= w <= 2.4 for w in waits)
    assert len(set(waits)) > 1


@pytest.mark.parametrize(
    ("retries", "connect_failures", "gives_up"),
    [(0, 0, False), (7, 0, False), (8, 0, True), (3, 3, False), (4, 4, True)],
)
def test_the_api_policy_gives_up_after_8_retries_or_4_refused_connections(
    retries: int, connect_failures: int, gives_up: bool
) -> None:
    assert retry.API.gives_up(retries, connect_failures) is gives_up


def test_the_token_policy_makes_four_tries_waiting_2_4_8_s() -> None:
    assert retry.TOKEN.retries + 1 == 4
    assert [retry.TOKEN.wait_s(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert not retry.TOKEN.gives_up(2, connect_failures=50)  # no separate connect limit
    assert retry.TOKEN.gives_up(3)


@pytest.mark.parametrize(
    ("method", "status", "again"),
    [
        ("POST", 429, True),  # not processed: safe to send again
        ("GET", 429, True),
        ("GET", 503, True),
        ("PATCH", 502, True),
        ("DELETE", 500, True),
        ("POST", 503, False),  # may have been created: looked up by name instead
        ("POST", 500, False),
        ("GET", 400, False),
        ("GET", 404, False),
        ("PATCH", 422, False),
        ("GET", 501, False),
    ],
)
def test_what_may_be_sent_again(method: str, status: int, again: bool) -> None:
    assert retryable(method, status) is again
