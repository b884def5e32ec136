"""An arq Worker that rides out a Redis outage instead of exiting.

arq's poll loop lets a lost Redis connection escape and end the process, so a
plain ``arq riskdrift.worker.AnalysisWorker`` relies on its supervisor to restart
it. ``riskdrift worker`` runs this subclass instead: a poll that fails on a
connection error is logged once, retried with capped backoff, and polling
resumes as soon as Redis answers again (redis-py reconnects by itself). Jobs a
restarted, empty Redis forgot are re-enqueued from Postgres by the reconciler.

It also stops refreshing the queue's health key (``arq … --check``) while its
analysis pool cannot start a process (:attr:`AnalysisPool.healthy`): a worker that
cannot analyse reads as down once the key expires (interval + 1 s).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from redis.exceptions import WatchError

from riskdrift.queue import PollingWorker, worker_kwargs
from riskdrift.queue.retrying import CONNECTION_LOST, backoff_delay

log = structlog.get_logger(__name__)

FIRST_BACKOFF = 0.2
MAX_BACKOFF = 5.0

# redis-py raises WatchError, not ConnectionError, when the connection drops while a
# pipeline watches keys (arq's start_jobs watches each job's in-progress key). arq
# catches the WatchError of a lost race itself, around its EXEC; one that escapes a
# poll is the connection's.
POLL_LOST: tuple[type[Exception], ...] = (*CONNECTION_LOST, WatchError)


class ResilientWorker(PollingWorker):
    """arq's Worker whose polling survives Redis going away and coming back."""

    _failed_polls: int = 0  # in a row
    _outage_backoff: float = 0.0  # the wait after the last failed poll

    async def poll(self, poll_once: Callable[[], Awaitable[None]]) -> None:
        try:
            await poll_once()
        except POLL_LOST as exc:
            if not self._failed_polls:
                log.warning("redis_unavailable", queue=self.queue_name, error=type(exc).__name__)
            self._failed_polls += 1
            # 0.2, 0.4, ... 5 s, unjittered as it always was.
            self._outage_backoff = backoff_delay(
                self._failed_polls, base=FIRST_BACKOFF, cap=MAX_BACKOFF, jitter=0.0
            )
            await asyncio.sleep(self._outage_backoff)
            return
        if self._failed_polls:
            log.info("redis_recovered", queue=self.queue_name)
            self._failed_polls = 0
            self._outage_backoff = 0.0

    async def record_health(self) -> None:
        pool = self.ctx.get("analysis_pool")
        if pool is not None and not pool.healthy:
            return  # cannot analyse: let the health key expire
        await super().record_health()


def create_resilient_worker(settings_cls: type, **overrides: Any) -> ResilientWorker:
    """Like ``arq.worker.create_worker``, building a :class:`ResilientWorker`."""
    return ResilientWorker(**{**worker_kwargs(settings_cls), **overrides})


def run_resilient(settings_cls: type) -> None:
    """Run a WorkerSettings class like ``arq.run_worker``, with :class:`ResilientWorker`."""
    create_resilient_worker(settings_cls).run()
