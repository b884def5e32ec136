"""The one retry policy: transient errors, jittered backoff, ``Retry-After``, arq's ``Retry``."""

from __future__ import annotations

import datetime as dt
import random

import asyncpg
import httpx
import pytest
import redis.exceptions

from riskdrift.config import Settings
from riskdrift.errors import FilingNotFound, TransientError, UpstreamUnavailable
from riskdrift.queue.retrying import (
    MAX_RETRY_AFTER,
    backoff_delay,
    is_transient,
    jittered_delay,
    parse_retry_after,
    retry_delay,
    retry_later,
)

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


class Fixed:
    """A "random" source that always returns the same point of the range."""

    def __init__(self, fraction: float) -> None:
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.fraction


# --- transient or not ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        TransientError("upstream hiccup"),
        UpstreamUnavailable("EDGAR 503"),
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        ConnectionResetError(),
        TimeoutError(),
        OSError("no route"),
        redis.exceptions.ConnectionError(),
        redis.exceptions.TimeoutError(),
        asyncpg.exceptions.ConnectionDoesNotExistError(),
        asyncpg.exceptions.ConnectionFailureError(),
        asyncpg.exceptions.CannotConnectNowError(),
        asyncpg.exceptions.TooManyConnectionsError(),
        asyncpg.exceptions.InterfaceError("connection is closed"),
    ],
)
def test_transient(exc: BaseException) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        FilingNotFound("no 10-K"),
        ValueError("a bug"),
        KeyError("a bug"),
        redis.exceptions.ResponseError("WRONGTYPE"),
        asyncpg.exceptions.UndefinedTableError(),
    ],
)
def test_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)


# --- backoff -----------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", range(1, 12))
def test_backoff_is_exponential_capped_and_in_the_upper_half(attempt: int) -> None:
    ceiling = min(300.0, 5.0 * 2 ** (attempt - 1))
    rng = random.Random(attempt)
    delays = [backoff_delay(attempt, base=5.0, cap=300.0, rng=rng) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 100  # actually jittered
    assert backoff_delay(attempt, base=5.0, cap=300.0, rng=Fixed(0.0)) == ceiling / 2
    assert backoff_delay(attempt, base=5.0, cap=300.0, rng=Fixed(1.0)) == ceiling


def test_backoff_survives_huge_attempt_numbers() -> None:
    assert backoff_delay(5000, base=1.0, cap=30.0, rng=Fixed(1.0)) == 30.0


def test_backoff_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        backoff_delay(0, base=1.0, cap=2.0)


def test_retry_after_is_a_floor_capped_at_a_day() -> None:
    top = Fixed(1.0)
    assert backoff_delay(1, base=5.0, cap=300.0, retry_after=120.0, rng=top) == 120.0
    assert backoff_delay(4, base=5.0, cap=300.0, retry_after=10.0, rng=top) == 40.0
    assert backoff_delay(1, base=5.0, cap=300.0, retry_after=1e9, rng=top) == MAX_RETRY_AFTER
    for ignored in (None, 0.0, -5.0, float("nan")):
        assert backoff_delay(1, base=5.0, cap=300.0, retry_after=ignored, rng=top) == 5.0


def test_jitter_is_a_fraction_below_the_ceiling() -> None:
    assert jittered_delay(100.0, jitter=0.2, rng=Fixed(0.0)) == 80.0
    assert jittered_delay(100.0, jitter=0.0, rng=Fixed(0.3)) == 100.0
    with pytest.raises(ValueError, match="fraction"):
        jittered_delay(100.0, jitter=1.5)


def test_default_rng_works() -> None:
    assert 2.5 <= backoff_delay(1, base=5.0, cap=300.0) <= 5.0


# --- Retry-After --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("   ", None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("0.5", 0.5),  # not RFC 9110, but servers send it and it means what it says
        ("Sat, 01 Mar 2025 12:02:00 GMT", 120.0),
        ("Sat, 01 Mar 2025 11:00:00 GMT", 0.0),  # in the past: now
        ("Saturday, 01-Mar-25 12:00:30 GMT", 30.0),  # obsolete RFC 850 form
        ("Sat, 01 Mar 2025 12:00:30 -0000", 30.0),
        ("-5", None),
        ("-0.5", None),
        ("1e3", None),
        ("inf", None),
        ("nan", None),
        ("٣", None),  # a non-ASCII digit
        ("soon", None),
        ("5 s", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == expected


def test_retry_after_is_capped() -> None:
    assert parse_retry_after("999999999", now=NOW) == MAX_RETRY_AFTER
    assert parse_retry_after("Fri, 01 Mar 2030 12:00:00 GMT", now=NOW) == MAX_RETRY_AFTER
    assert parse_retry_after("90", now=NOW, cap=60.0) == 60.0


def test_retry_after_dates_default_to_the_current_time() -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=100)
    seconds = parse_retry_after(soon.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert seconds is not None
    assert 90 <= seconds <= 100


# --- arq's Retry ------------------------------------------------------------------------------


def settings() -> Settings:
    return Settings(max_retries=3, retry_backoff_base=5.0, retry_backoff_max=300.0)


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_transient_errors_retry_while_retries_remain(attempt: int) -> None:
    retry = retry_later(ConnectionResetError(), attempt, settings())
    assert retry is not None
    ceiling = 5.0 * 2 ** (attempt - 1)
    assert ceiling / 2 <= retry_delay(retry) <= ceiling


def test_retries_spent_or_a_bug_give_up() -> None:
    assert retry_later(ConnectionResetError(), 4, settings()) is None
    assert retry_later(ValueError("a bug"), 1, settings()) is None
    assert retry_later(FilingNotFound("no 10-K"), 1, settings()) is None


def test_an_errors_retry_after_is_honoured() -> None:
    retry = retry_later(UpstreamUnavailable("EDGAR 403", retry_after=600.0), 1, settings())
    assert retry is not None
    assert retry_delay(retry) == 600.0
