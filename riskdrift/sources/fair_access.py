"""SEC EDGAR's fair-access policy as code: a declared User-Agent, a rate limit, patient retries.

SEC asks automated clients to declare themselves in the User-Agent (a name and
a contact e-mail), to stay under 10 requests per second, and to back off when
told. These small objects are what :class:`~riskdrift.sources.edgar.EdgarFilingSource`
uses to do so; they hold no clients.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import random
import re
import time
from dataclasses import dataclass

from riskdrift.errors import ConfigurationError

_CONTACT_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a failed EDGAR request is retried.

    ``max_attempts`` counts the first try. The wait before retry *n* is
    ``Retry-After`` when the server sent one, else ``backoff_base * 2**(n-1)``
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
        delay = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)  # jitter spreads synchronised retries


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


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
