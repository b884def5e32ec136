"""arq's worker side: the Worker class, task and cron registration, ``Retry``.

:class:`Defer` is arq's ``Retry`` for a job put back unstarted.
:class:`PollingWorker` is the one place riskdrift reaches into the Worker's
internals: arq 0.28's ``Worker.main`` loops over the private ``_poll_iteration``,
which it exposes here as the public hook :meth:`PollingWorker.poll`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from arq import Retry
from arq.cron import cron
from arq.utils import timestamp_ms
from arq.worker import Worker, create_worker, func, get_kwargs

from riskdrift.queue.keys import WAKE_ABORT_CHANNEL, wake_channel

log = structlog.get_logger(__name__)

__all__ = [
    "Defer",
    "PollingWorker",
    "Retry",
    "Worker",
    "create_worker",
    "cron",
    "func",
    "worker_kwargs",
]


class Defer(Retry):
    """arq's ``Retry`` for a job put back before doing any of its work (e.g. its
    webhook receiver is at its cap): not a failed attempt, so metrics do not count it."""


class PollingWorker(Worker):
    """arq's Worker with a hook around each poll of the queue, woken instead of polling
    on a timer.

    arq sleeps ``poll_delay`` after every poll, so an idle worker with a short delay
    burns CPU (10 ms: ~15 % of a core) and one with a long delay picks jobs up late.
    This worker polls once, then waits until something can have changed, at most
    ``poll_delay`` (its idle wait):

    - a job was queued on its queue, or an abort was asked for: the enqueuer publishes
      on a pub/sub channel (:func:`riskdrift.queue.queue_wake`) that a listener task of
      this worker subscribes to;
    - one of its own jobs ended (a slot is free);
    - a deferred job (a retry, a cron tick) falls due: the wait ends then.

    The idle wait still bounds everything else (the health check, the cron schedule, a
    claim released by the reconciler, a wake-up lost while Redis was away), so keep it
    at most 0.5 s (arq's default poll delay).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # arq's main loop sleeps poll_delay_s after each poll: none here, the wait is ours.
        self.idle_wait: float = self.poll_delay_s
        self.poll_delay_s = 0.0
        self._wake = asyncio.Event()
        self._next_wait = self.idle_wait
        self._listener: asyncio.Task[None] | None = None

    async def _poll_iteration(self) -> None:
        if self._listener is None and self.idle_wait > 0:
            self._listener = asyncio.create_task(self._listen(), name="riskdrift-wake")
        self._wake.clear()  # what is published from here on ends the wait below
        self._next_wait = self.idle_wait
        await self.poll(self._poll_once)
        if self._next_wait > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._next_wait):
                    await self._wake.wait()

    async def _poll_once(self) -> None:
        await super()._poll_iteration()
        self._next_wait = await self._until_due()

    async def _until_due(self) -> float:
        """How long this worker may wait before polling again: its idle wait, or less if
        a deferred job falls due sooner and there is a slot to run it in."""
        if self.idle_wait <= 0 or self.job_counter >= self.max_jobs:
            return self.idle_wait  # a job of its own ending wakes it
        now = timestamp_ms()
        # Jobs due now that it did not start run elsewhere (arq keeps a running job in
        # the queue): only a job due later ends the wait early.
        due = await self.pool.zrangebyscore(
            self.queue_name, min=f"({now}", max="+inf", start=0, num=1, withscores=True
        )
        if not due:
            return self.idle_wait
        return max(0.0, min(self.idle_wait, (float(due[0][1]) - now) / 1000))

    async def run_job(self, job_id: str, score: int) -> None:
        try:
            await super().run_job(job_id, score)
        finally:
            self._wake.set()  # a slot is free: poll now

    async def _listen(self) -> None:
        """Set the wake-up event on every message of this queue's channels, for the
        worker's life; reconnects after Redis comes back (meanwhile the idle wait polls)."""
        channels = (wake_channel(self.queue_name), WAKE_ABORT_CHANNEL)
        backoff = 0.2
        while True:
            try:
                async with self.pool.pubsub() as pubsub:
                    await pubsub.subscribe(*channels)
                    backoff = 0.2
                    async for message in pubsub.listen():
                        if message["type"] == "message":
                            self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the connection; the next poll reports an outage
                log.debug("wake_listener_lost", queue=self.queue_name, error=type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        await super().close()

    async def poll(self, poll_once: Callable[[], Awaitable[None]]) -> None:
        """One poll of the queue (take due jobs, abort the aborted ones, refresh the
        health check, note when a deferred job falls due): ``poll_once``. Subclasses
        wrap it."""
        await poll_once()


def worker_kwargs(settings_cls: type) -> dict[str, Any]:
    """The Worker keyword arguments a WorkerSettings class holds (as ``arq`` reads them)."""
    return dict(get_kwargs(settings_cls))
