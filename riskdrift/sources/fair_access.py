"""SEC EDGAR's fair-access policy as code: a declared User-Agent, a rate limit, patient retries.

SEC asks automated clients to declare themselves in the User-Agent (a name and
a contact e-mail), to stay under 10 requests per second per IP address, and to
back off when told. These small objects are what
:class:`~riskdrift.sources.edgar.EdgarFilingSource` uses to do so.

Two limiters keep the rate, both a :class:`Limiter`:

- :class:`RateLimiter` spaces the calls of one process (the CLI's in-process
  ``riskdrift analyze``);
- :class:`SharedRateLimiter` spaces the calls of every process that shares a
  Redis key (the workers: N of them usually leave through one egress IP, so the
  rate is the cluster's, not each process's). It is handed a Redis client and
  does not own it.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass
from typing import Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from riskdrift.errors import ConfigurationError
from riskdrift.queue.keys import EDGAR_SLOT_KEY
from riskdrift.queue.retrying import backoff_delay

log = structlog.get_logger(__name__)

_CONTACT_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failed EDGAR request is retried.

    ``max_attempts`` counts the first try. The wait before retry *n* is
    ``Retry-After`` when the server sent one, else
    :func:`riskdrift.queue.retrying.backoff_delay`: ``backoff_base * 2**(n-1)``
    (capped at ``backoff_max``) with jitter. A ``Retry-After`` longer than
    ``retry_after_max`` is not waited out in-process: the job is handed back
    to the queue with that delay instead.
    """

    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 60.0

    def backoff(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt`` (1-based), without ``Retry-After``."""
        return backoff_delay(attempt, base=self.backoff_base, cap=self.backoff_max)


class Limiter(Protocol):
    """What an EDGAR request waits on: ``await limiter.acquire()`` before it is sent."""

    async def acquire(self) -> None:
        """Return when this caller may send its request."""
        ...


class RateLimiter:
    """Lets callers through at least ``1 / rate`` seconds apart, across all of them.

    Callers queue on a lock; each waits until one interval after the moment
    the previous caller was actually let through (not when it was scheduled),
    so a stalled event loop cannot release a backlog as a burst. Requests go
    out evenly spaced. One instance per process is shared by everything that
    calls EDGAR.
    """

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ConfigurationError(f"a rate limit must be positive, got {rate}")
        self.interval = 1.0 / rate
        self._last = -float("inf")
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for this caller's turn."""
        async with self._lock:
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last = time.monotonic()


# KEYS[1] holds the next free slot in microseconds of the Redis server's clock (TIME),
# so every process reserves on one clock; ARGV[1] is the interval in microseconds.
# The key lives until that slot: once it has passed, the key says nothing, so an idle
# limiter leaves no key behind. string.format: Lua would write 1.7e+15 for the number.
_RESERVE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or 0)
if slot < now then
    slot = now
end
local after = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000))
return {slot - now, string.format('%.0f', slot)}
"""

DEFAULT_SHARED_KEY = EDGAR_SLOT_KEY


class SharedRateLimiter:
    """Lets callers of every process through at least ``1 / rate`` seconds apart.

    Each :meth:`acquire` runs one Lua script (EVALSHA) that atomically reserves
    the next free slot on the Redis server's clock, one interval after the
    previous reservation or now, whichever is later, and returns how long the
    caller has to wait for it; the caller sleeps that long, once, without
    polling. Reservations are evenly spaced in server time with no burst
    allowance (GCRA with a tolerance of zero). On the wire each request is also
    late by its own process's reply latency and event-loop delay (milliseconds),
    so two may leave a little closer together than ``1 / rate``, but a backlog
    never leaves as a burst. A caller cancelled while waiting leaves its slot
    unused, which only errs on the slow side. ``key`` expires when the next free
    slot comes, so an idle limiter leaves nothing in Redis. Needs Redis 5 or
    later (scripts that call ``TIME`` are replicated by their effects).

    When Redis cannot be reached, or does not answer within ``timeout`` seconds,
    the call waits on ``fallback`` instead (by default a per-process
    :class:`RateLimiter` at the same rate) and each later call tries Redis
    again. A warning is logged once per outage and an info line when Redis
    answers again. So a worker never stops fetching nor sends unpaced requests;
    each process alone stays under ``rate``, though N processes together may
    reach N × ``rate`` while the outage lasts. That exposure is small in
    practice: the job queue lives in the same Redis, so no new jobs start until
    it is back.
    """

    def __init__(
        self,
        redis: Redis,
        rate: float,
        *,
        key: str = DEFAULT_SHARED_KEY,
        fallback: Limiter | None = None,
        timeout: float = 1.0,
    ) -> None:
        if rate <= 0:
            raise ConfigurationError(f"a rate limit must be positive, got {rate}")
        self.key = key
        self.interval = 1.0 / rate
        self.fallback: Limiter = fallback or RateLimiter(rate)
        self.timeout = timeout
        # Rounded up: a slot a microsecond late is fine, one early is not.
        self._interval_us = max(1, math.ceil(1_000_000 / rate))
        self._reserve = redis.register_script(_RESERVE_SLOT)
        self._redis_down = False

    async def acquire(self) -> None:
        """Wait for this caller's slot (on ``fallback`` while Redis is unreachable)."""
        await self.acquire_slot()

    async def acquire_slot(self) -> int | None:
        """Wait for this caller's slot and return it, in microseconds of the Redis clock.

        ``None`` when Redis could not be reached and ``fallback`` paced the call.
        The returned slots are what the limiter promises: any two differ by at
        least the interval, whatever the callers' event loops were doing.
        """
        try:
            async with asyncio.timeout(self.timeout):
                wait, slot = await self._reserve(keys=[self.key], args=[self._interval_us])
                wait_us, slot_us = int(wait), int(slot)
        except (RedisError, OSError, TimeoutError) as exc:
            if not self._redis_down:
                self._redis_down = True
                log.warning(
                    "edgar_rate_limit_redis_unavailable",
                    key=self.key,
                    error=type(exc).__name__,
                )
            await self.fallback.acquire()
            return None
        if self._redis_down:
            self._redis_down = False
            log.info("edgar_rate_limit_redis_recovered", key=self.key)
        if wait_us > 0:
            await asyncio.sleep(wait_us / 1_000_000)
        return slot_us


def check_user_agent(user_agent: str | None) -> str:
    """Return the User-Agent if EDGAR will accept it, else raise ``ConfigurationError``."""
    if not user_agent or not user_agent.strip():
        raise ConfigurationError(
            "EDGAR requires a descriptive User-Agent: set RISKDRIFT_EDGAR_USER_AGENT to a name "
            "and contact e-mail, e.g. 'Acme Research research@acme.example'"
        )
    if not _CONTACT_RE.search(user_agent):
        raise ConfigurationError(
            f"the EDGAR User-Agent {user_agent!r} has no contact e-mail; SEC's fair-access "
            "policy asks for one, e.g. 'Acme Research research@acme.example'"
        )
    return user_agent.strip()
