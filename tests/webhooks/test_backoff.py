"""The webhook retry schedule (``Retry-After`` parsing: tests/queue/test_retrying.py)."""

from __future__ import annotations

import random

import pytest

from riskdrift.queue.retrying import MAX_RETRY_AFTER
from riskdrift.webhooks.backoff import (
    BACKOFF_SCHEDULE,
    JITTER,
    MAX_ATTEMPTS,
    backoff_schedule,
    next_delay,
)


class Fixed:
    """A "random" source that always returns the same point of the range."""

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


def test_schedule_is_the_documented_one_and_spans_more_than_a_day() -> None:
    assert BACKOFF_SCHEDULE == (5, 300, 1800, 7200, 18000, 36000, 86400)
    assert MAX_ATTEMPTS == 8
    assert sum(BACKOFF_SCHEDULE) * (1 - JITTER) > 24 * 3600
    assert list(BACKOFF_SCHEDULE) == sorted(BACKOFF_SCHEDULE)


@pytest.mark.parametrize("attempt", range(1, MAX_ATTEMPTS))
def test_delays_stay_within_the_jitter_band(attempt: int) -> None:
    base = BACKOFF_SCHEDULE[attempt - 1]
    rng = random.Random(attempt)
    delays = [next_delay(attempt, rng=rng) for _ in range(200)]
    assert all(d is not None and base * 0.8 <= d <= base for d in delays)
    assert len(set(delays)) > 100  # actually jittered
    assert next_delay(attempt, rng=Fixed(0.0)) == pytest.approx(base * 0.8)
    assert next_delay(attempt, rng=Fixed(1.0)) == pytest.approx(base)


def test_the_schedule_bounds_a_series() -> None:
    """The reconciler's WEBHOOK_WINDOW is sum(BACKOFF_SCHEDULE): no draw may exceed it."""
    rng = random.Random(7)
    assert all(sum(backoff_schedule(rng)) <= sum(BACKOFF_SCHEDULE) for _ in range(100))


def test_no_delay_after_the_last_attempt() -> None:
    assert next_delay(MAX_ATTEMPTS) is None
    assert next_delay(MAX_ATTEMPTS + 5, retry_after=10) is None


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        next_delay(0)


def test_retry_after_is_a_lower_bound_capped_at_a_day() -> None:
    top = Fixed(1.0)
    assert next_delay(1, retry_after=120, rng=top) == 120
    assert next_delay(3, retry_after=10, rng=top) == 1800  # schedule wins
    assert next_delay(1, retry_after=10 * 86400, rng=top) == MAX_RETRY_AFTER
    assert next_delay(1, retry_after=0, rng=top) == 5


def test_default_rng_works() -> None:
    delay = next_delay(1)
    assert delay is not None
    assert 4 <= delay <= 5


def test_backoff_schedule_draws_every_wait() -> None:
    draw = backoff_schedule(Fixed(1.0))
    assert draw == pytest.approx(list(BACKOFF_SCHEDULE))
    assert backoff_schedule(Fixed(0.0)) == pytest.approx([s * 0.8 for s in BACKOFF_SCHEDULE])
