"""When to try a webhook again: the retry schedule. Pure.

A delivery gets :data:`MAX_ATTEMPTS` attempts. After failed attempt ``n``
(1-based) the next one waits up to ``BACKOFF_SCHEDULE[n - 1]`` seconds, jittered
down by as much as :data:`JITTER` so that many deliveries failing together (a
receiver outage) do not all come back at the same instant::

    attempt   1    2     3      4     5     6      7      8
    waits     -    5 s   5 min  30 min 2 h  5 h    10 h   24 h     (-20 % to 0)
    elapsed   0    5 s   ~5 min ~35 min ~2.6 h ~7.6 h ~17.6 h ~41.6 h  (at most)

Each step grows by a factor of roughly 2-60, the Svix / Standard Webhooks
schedule stretched so that even the shortest draw spans more than a day
(33 h): a receiver that is down over a weekend night still gets its webhook.
The schedule's sum bounds a series' span (the reconciler relies on it).

A receiver's ``Retry-After`` (seconds or an HTTP-date, read by
:func:`riskdrift.queue.retrying.parse_retry_after`) is honoured as a lower bound:
the next attempt waits ``max(jittered schedule, Retry-After)``, with
``Retry-After`` capped at :data:`riskdrift.queue.retrying.MAX_RETRY_AFTER` so a
hostile or broken receiver cannot park a delivery forever. It never grants
extra attempts. The jitter and the floor are
:func:`riskdrift.queue.retrying.jittered_delay`, shared with every other retry.
"""

from __future__ import annotations

from riskdrift.queue.retrying import UniformSource, jittered_delay

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
"""Relative jitter: each delay is a uniform draw in ``[0.8, 1.0]`` times its step."""


def next_delay(
    attempt: int,
    retry_after: float | None = None,
    rng: UniformSource | None = None,
) -> float | None:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Returns ``None`` when ``attempt`` was the last one (``attempt >=
    MAX_ATTEMPTS``): give up. ``retry_after`` is the receiver's ``Retry-After``
    in seconds, honoured as a lower bound (capped at
    :data:`~riskdrift.queue.retrying.MAX_RETRY_AFTER`).
    ``rng`` defaults to a fresh ``random.Random()``; pass ``random.Random(seed)``
    for repeatable delays.
    """
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    if attempt >= MAX_ATTEMPTS:
        return None
    return jittered_delay(
        BACKOFF_SCHEDULE[attempt - 1], jitter=JITTER, retry_after=retry_after, rng=rng
    )


def backoff_schedule(rng: UniformSource | None = None) -> list[float]:
    """One jittered draw of the whole schedule: the waits before attempts 2..MAX_ATTEMPTS."""
    delays: list[float] = []
    for attempt in range(1, MAX_ATTEMPTS):
        delay = next_delay(attempt, rng=rng)
        assert delay is not None  # every attempt before the last has a successor
        delays.append(delay)
    return delays
