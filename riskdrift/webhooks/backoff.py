"""When to try a webhook again: the retry schedule and ``Retry-After`` parsing. Pure.

A delivery gets :data:`MAX_ATTEMPTS` attempts. After failed attempt ``n``
(1-based) the next one waits ``BACKOFF_SCHEDULE[n - 1]`` seconds, jittered by
±:data:`JITTER` so that many deliveries failing together (a receiver outage)
do not all come back at the same instant::

    attempt   1    2     3      4     5     6      7      8
    waits     -    5 s   5 min  30 min 2 h  5 h    10 h   24 h     (± 20 %)
    elapsed   0    5 s   ~5 min ~35 min ~2.6 h ~7.6 h ~17.6 h ~41.6 h

Each step grows by a factor of roughly 2-60, the Svix / Standard Webhooks
schedule stretched so the last attempt is a full day after the one before:
a receiver that is down over a weekend night still gets its webhook.

A receiver's ``Retry-After`` (seconds or an HTTP-date) is honoured as a lower
bound: the next attempt waits ``max(jittered schedule, Retry-After)``, with
``Retry-After`` capped at :data:`MAX_RETRY_AFTER` so a hostile or broken
receiver cannot park a delivery forever. It never grants extra attempts.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from typing import Protocol

BACKOFF_SCHEDULE: tuple[float, ...] = (
    5.0,  # 5 s
    5 * 60.0,  # 5 min
    30 * 60.0,  # 30 min
    2 * 3600.0,  # 2 h
    5 * 3600.0,  # 5 h
    10 * 3600.0,  # 10 h
    24 * 3600.0,  # 24 h
)
"""Seconds to wait after failed attempt ``n`` (index ``n - 1``), before jitter."""

MAX_ATTEMPTS = len(BACKOFF_SCHEDULE) + 1
"""Attempts in all: the first one plus one retry per schedule step (8)."""

JITTER = 0.2
"""Relative jitter: each delay is multiplied by a uniform factor in ``[0.8, 1.2]``."""

MAX_RETRY_AFTER = 24 * 3600.0
"""The longest ``Retry-After`` honoured, in seconds."""


class UniformSource(Protocol):
    """What :func:`next_delay` needs of a random generator (``random.Random`` fits)."""

    def uniform(self, a: float, b: float) -> float: ...


def next_delay(
    attempt: int,
    retry_after: float | None = None,
    rng: UniformSource | None = None,
) -> float | None:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Returns ``None`` when ``attempt`` was the last one (``attempt >=
    MAX_ATTEMPTS``): give up. ``retry_after`` is the receiver's ``Retry-After``
    in seconds, honoured as a lower bound (capped at :data:`MAX_RETRY_AFTER`).
    ``rng`` defaults to the ``random`` module; pass ``random.Random(seed)`` for
    repeatable delays.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    if attempt >= MAX_ATTEMPTS:
        return None
    source: UniformSource = rng if rng is not None else random.Random()
    delay = BACKOFF_SCHEDULE[attempt - 1] * source.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def backoff_schedule(rng: UniformSource | None = None) -> list[float]:
    """One jittered draw of the whole schedule: the waits before attempts 2..MAX_ATTEMPTS."""
    delays: list[float] = []
    for attempt in range(1, MAX_ATTEMPTS):
        delay = next_delay(attempt, rng=rng)
        assert delay is not None  # every attempt before the last has a successor
        delays.append(delay)
    return delays


def parse_retry_after(value: str | None, *, now: dt.datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delta-seconds or an HTTP-date.

    ``now`` (timezone-aware) anchors HTTP-dates. A date in the past means
    ``0.0``; a missing or malformed value means ``None`` (fall back to the
    schedule).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" dates: RFC 9110 dates are always GMT
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())
