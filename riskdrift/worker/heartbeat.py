"""Keep a running job's claim short-lived, so a dead worker's job is re-run in seconds.

arq claims a job with the key :func:`riskdrift.queue.in_progress_key`, set to expire after
the job timeout + 10 s: a worker killed with SIGKILL leaves its job untouchable
for over ten minutes. While a job runs, the heartbeat shortens that claim to
``claim_ttl`` and keeps renewing it every ``interval``. If the worker dies the
claim lapses within ``claim_ttl`` and any worker polling the queue takes the
job (it is still in the queue's sorted set until arq finishes it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from riskdrift.queue import in_progress_key

log = structlog.get_logger(__name__)


async def _beat(redis: Redis, key: str, claim_ttl_ms: int, interval: float) -> None:
    while True:
        try:
            # PEXPIRE only touches an existing key: a claim arq already released stays released.
            await redis.pexpire(key, claim_ttl_ms)
        except (RedisError, OSError) as exc:
            log.warning("heartbeat_failed", error=type(exc).__name__)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def heartbeat(
    redis: Redis, job_id: str, *, claim_ttl: float, interval: float
) -> AsyncIterator[None]:
    """Renew ``job_id``'s claim every ``interval`` seconds while the block runs."""
    task = asyncio.create_task(
        _beat(redis, in_progress_key(job_id), int(claim_ttl * 1000), interval),
        name=f"heartbeat:{job_id}",
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
