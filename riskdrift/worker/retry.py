"""Which failures are worth retrying, and how long to wait before the next try."""

from __future__ import annotations

import random

import asyncpg
import httpx
import redis.exceptions

from riskdrift.errors import TransientError

# Network trouble and lost connections to our own services are transient; a bug is not.
TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    TransientError,
    httpx.TransportError,
    ConnectionError,
    TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    OSError,
)


def is_transient(exc: BaseException) -> bool:
    """True when retrying the same job later may succeed."""
    return isinstance(exc, TRANSIENT_EXCEPTIONS)


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds before retry number ``attempt`` (1-based): exponential with full jitter
    on the upper half, never shorter than the upstream's ``Retry-After``."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    delay = ceiling / 2 + (rng or random).uniform(0, ceiling / 2)
    return float(max(delay, retry_after or 0.0))
