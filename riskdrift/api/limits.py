"""Submission limits: a per-key rate limit in Redis and a cap on queued jobs per tenant.

``POST /analyze`` costs one submission; ``POST /batches`` one per
``batch_jobs_per_submission`` (100) of its jobs, so the largest batch (1,000 tickers)
costs 10 of the default 120 per minute.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter

from riskdrift.config import Settings
from riskdrift.errors import RateLimited
from riskdrift.queue.keys import LIMITS_PREFIX


def batch_cost(jobs: int, settings: Settings) -> int:
    """What a batch of ``jobs`` costs against the submission rate limit: one submission per
    ``batch_jobs_per_submission`` jobs, started (a batch is one request, one transaction)."""
    return max(1, math.ceil(jobs / settings.batch_jobs_per_submission))


class SubmissionLimiter:
    """Moving-window rate limit on ``POST /analyze`` per API key, shared by all API processes."""

    def __init__(self, settings: Settings) -> None:
        self._item: RateLimitItem | None = (
            parse(settings.submit_rate_limit) if settings.submit_rate_limit else None
        )
        uri = "async+" + settings.redis_url if "://" in settings.redis_url else settings.redis_url
        self._storage = RedisStorage(uri, implementation="redispy", key_prefix=LIMITS_PREFIX)
        self._limiter = MovingWindowRateLimiter(self._storage)

    async def check(self, identity: str, *, cost: int = 1) -> None:
        """Count ``cost`` submissions (a batch: :func:`batch_cost`); raise
        :class:`~riskdrift.errors.RateLimited` (429 with ``Retry-After``) when over the limit."""
        if self._item is None:
            return
        if cost > self._item.amount:
            raise RateLimited(
                f"a batch of {cost} jobs exceeds the submission rate limit {self._item}; "
                "split it into smaller batches",
                retry_after=self._item.get_expiry(),
            )
        if await self._limiter.hit(self._item, identity, cost=cost):
            return
        stats = await self._limiter.get_window_stats(self._item, identity)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(
            f"submission rate limit {self._item} exceeded; retry in {retry_after} s",
            retry_after=retry_after,
        )

    async def aclose(self) -> None:
        """Close the limiter's Redis connections (`limits` exposes no close of its own)."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()
