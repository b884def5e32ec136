"""arq's worker side: the Worker class, task and cron registration, ``Retry``.

:class:`Defer` is arq's ``Retry`` for a job put back unstarted.
:class:`PollingWorker` is the one place riskdrift reaches into the Worker's
internals: arq 0.28's ``Worker.main`` loops over the private ``_poll_iteration``,
which it exposes here as the public hook :meth:`PollingWorker.poll`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from arq import Retry
from arq.cron import cron
from arq.worker import Worker, create_worker, func, get_kwargs

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
    """arq's Worker with a hook around each poll of the queue."""

    async def _poll_iteration(self) -> None:
        await self.poll(super()._poll_iteration)

    async def poll(self, poll_once: Callable[[], Awaitable[None]]) -> None:
        """One poll of the queue (take due jobs, abort the aborted ones, refresh the
        health check): ``poll_once``. Subclasses wrap it."""
        await poll_once()


def worker_kwargs(settings_cls: type) -> dict[str, Any]:
    """The Worker keyword arguments a WorkerSettings class holds (as ``arq`` reads them)."""
    return dict(get_kwargs(settings_cls))
