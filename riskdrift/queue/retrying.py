"""When a failure is worth another try, how long to wait, and what ``Retry-After`` asks for.

The one home of retry policy: the worker's tasks, the webhook schedule, the
EDGAR client, the embeddings client, the event hub's reconnects and the API's 503
mapping all use it. It lives in ``queue/`` because a retry is what the queue does
with a failed job (:func:`retry_later` answers arq's ``Retry``) and every package that
retries already depends on ``queue/``; it imports nothing else of riskdrift but
:mod:`riskdrift.errors` and :mod:`riskdrift.config`, so it adds no import cycle.

- :data:`CONNECTION_LOST` (Redis or Postgres unreachable, a socket gone) and
  :data:`TRANSIENT_EXCEPTIONS` (those, network trouble upstream and our own
  :class:`~riskdrift.errors.TransientError`); :func:`is_transient`.
- :func:`backoff_delay`: exponential backoff ``min(cap, base * 2**(n-1))``;
  :func:`jittered_delay` turns a ceiling into the wait: a uniform draw in
  ``[ceiling * (1 - jitter), ceiling]``, never more than the ceiling (so a cap
  or a schedule step is a true upper bound), and never less than the
  upstream's ``Retry-After`` (itself capped at :data:`MAX_RETRY_AFTER`).
- :func:`parse_retry_after`: a ``Retry-After`` header in seconds.
- :func:`retry_later`: an exception and an attempt number to arq's
  ``Retry(defer=…)``, or ``None``: give up.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
import re
from typing import Protocol

import asyncpg
import httpx
import redis.exceptions

from riskdrift.config import Settings
from riskdrift.errors import TransientError
from riskdrift.queue.workers import Retry

CONNECTION_LOST: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,  # SQLSTATE class 08: the connection failed
    asyncpg.exceptions.CannotConnectNowError,  # the server is starting or shutting down
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,  # e.g. the pool's connection was closed under us
    TimeoutError,
    # Refused TCP connects, resets, a vanished unix socket (builtin ConnectionError too).
    OSError,
)
"""Redis or Postgres cannot be reached right now: the API answers 503, a task retries."""

TRANSIENT_EXCEPTIONS: tuple[type[Exception], ...] = (
    TransientError,
    httpx.TransportError,
    *CONNECTION_LOST,
)
"""Failures that trying the same work again later may cure; a bug is not one of them."""

MAX_RETRY_AFTER = 24 * 3600.0
"""The longest ``Retry-After`` honoured, in seconds: a hostile or broken upstream
cannot park a job or a delivery for longer than a day."""

EQUAL_JITTER = 0.5
"""The usual jitter: waits drawn from the upper half of ``[0, ceiling]``."""

_DELTA_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same work later may succeed."""
    return isinstance(exc, TRANSIENT_EXCEPTIONS)


class UniformSource(Protocol):
    """What the backoff functions need of a random generator (``random.Random`` fits)."""

    def uniform(self, a: float, b: float) -> float: ...


def jittered_delay(
    ceiling: float,
    *,
    jitter: float = EQUAL_JITTER,
    retry_after: float | None = None,
    rng: UniformSource | None = None,
) -> float:
    """The wait for one retry whose nominal wait is ``ceiling`` seconds.

    A uniform draw in ``[ceiling * (1 - jitter), ceiling]``, so retries that
    failed together do not come back together, and at least ``retry_after``
    (the upstream's ``Retry-After`` in seconds, capped at
    :data:`MAX_RETRY_AFTER`; ``None``, zero or negative means none).
    ``rng`` defaults to the ``random`` module; pass ``random.Random(seed)``
    for repeatable waits.
    """
    if not 0.0 <= jitter <= 1.0:
        raise ValueError(f"jitter is a fraction from 0 to 1, got {jitter}")
    source: UniformSource = rng if rng is not None else random.Random()
    delay = source.uniform(ceiling * (1.0 - jitter), ceiling)
    if retry_after is not None and retry_after > 0:  # NaN fails the comparison: ignored
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return float(delay)


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    jitter: float = EQUAL_JITTER,
    retry_after: float | None = None,
    rng: UniformSource | None = None,
) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): exponential, jittered.

    The ceiling is ``min(cap, base * 2 ** (attempt - 1))``; see
    :func:`jittered_delay` for the draw below it and the ``Retry-After`` floor.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    # The exponent is bounded: 2.0 ** 1024 is an OverflowError, and 2 ** 64 passes any cap.
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 64))
    return jittered_delay(ceiling, jitter=jitter, retry_after=retry_after, rng=rng)


def parse_retry_after(
    value: str | None,
    *,
    now: dt.datetime | None = None,
    cap: float = MAX_RETRY_AFTER,
) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delta-seconds or an HTTP-date.

    Whole seconds as RFC 9110 has them, and decimal fractions (``"0.5"``) as
    some servers send. ``now`` (timezone-aware; default: the current time)
    anchors HTTP-dates; a date in the past means ``0.0``. A missing, negative
    or malformed value means ``None``: fall back to the backoff. The answer is
    at most ``cap`` seconds.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and _DELTA_SECONDS.fullmatch(text):
        return min(float(text), cap)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates: RFC 9110 dates are always GMT
        when = when.replace(tzinfo=dt.UTC)
    seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return min(max(0.0, seconds), cap)


def retry_later(exc: BaseException, attempt: int, settings: Settings) -> Retry | None:
    """arq's ``Retry`` for a task's failed attempt ``attempt`` (arq's ``job_try``), or
    ``None``: give up, because ``exc`` is not transient or the retries are spent.

    A job gets ``settings.max_retries`` retries, waiting :func:`backoff_delay` with
    ``settings.retry_backoff_base`` and ``settings.retry_backoff_max``, at least
    the ``retry_after`` an exception carries (:class:`~riskdrift.errors.TransientError`).
    """
    if not is_transient(exc) or attempt > settings.max_retries:
        return None
    delay = backoff_delay(
        attempt,
        base=settings.retry_backoff_base,
        cap=settings.retry_backoff_max,
        retry_after=getattr(exc, "retry_after", None),
    )
    return Retry(defer=delay)


def retry_delay(retry: Retry) -> float:
    """The seconds an arq ``Retry`` defers its job by (for log lines)."""
    return (retry.defer_score or 0) / 1000
