"""arq WorkerSettings, built from one :class:`Settings` per queue.

``arq riskdrift.worker.AnalysisWorker`` works because ``riskdrift.worker``
builds the class lazily on attribute access: the arq CLI is the entrypoint, so
that is where Settings are read, not at import time.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, Protocol

import asyncpg
import structlog
from redis.asyncio import Redis

from riskdrift.config import Settings
from riskdrift.errors import ConfigurationError
from riskdrift.events.batch import EventBatcher
from riskdrift.logging import configure_logging
from riskdrift.ops.cluster import CRON_JOB_PREFIX
from riskdrift.ops.worker import (
    instrument_analysis,
    instrument_webhook,
    start_worker_metrics,
    track_slot,
    watch_edgar,
)
from riskdrift.queue import cron, func
from riskdrift.queue import redis_settings as redis_settings  # re-exported for bench/
from riskdrift.store.migrate import migrate
from riskdrift.store.pool import create_pool
from riskdrift.watch.listing import edgar_stats_of, open_lister
from riskdrift.watch.scheduler import (
    announce_analyses,
    announce_seconds,
    cron_seconds,
    poll_watchlists,
)
from riskdrift.webhooks import create_delivery_client, system_resolver
from riskdrift.webhooks.ssrf import Resolver
from riskdrift.worker import serialization
from riskdrift.worker.analysis_pool import AnalysisPool
from riskdrift.worker.context import Agent, WorkerContext
from riskdrift.worker.reconcile import reconcile
from riskdrift.worker.tasks import analyze_risk_drift
from riskdrift.worker.webhook_task import deliver_webhook

log = structlog.get_logger(__name__)


class AgentFactory(Protocol):
    """Makes the analysis worker's agent for the life of its process, from the process's
    own clients: ``executor`` runs the analysis off the loop (the worker's AnalysisPool,
    or ``None`` for the loop's default thread pool), ``pool`` and ``redis`` are the
    worker's asyncpg pool and Redis client. The factory borrows them and closes neither."""

    def __call__(
        self,
        settings: Settings,
        /,
        *,
        executor: AnalysisPool | None,
        pool: asyncpg.Pool,
        redis: Redis,
    ) -> AbstractAsyncContextManager[Agent]: ...


@contextlib.asynccontextmanager
async def research_agent(
    settings: Settings,
    *,
    executor: AnalysisPool | None,
    pool: asyncpg.Pool,
    redis: Redis,
) -> AsyncIterator[Agent]:
    """The real research agent over the configured filing source.

    EDGAR requests are paced by a :class:`SharedRateLimiter` on the worker's Redis, so
    ``edgar_requests_per_second`` holds for all workers together (the limiter bounds its
    own wait on Redis, then paces per process); the result cache reads and writes through
    the worker's pool.
    """
    from riskdrift.agent.narrative import create_narrator
    from riskdrift.agent.research import ResearchAgent, document_limits
    from riskdrift.sources import create_source
    from riskdrift.sources.fair_access import SharedRateLimiter
    from riskdrift.sources.singleflight import SharedMetadata
    from riskdrift.store.result_cache import ResultCache

    limiter = SharedRateLimiter(redis, settings.edgar_requests_per_second)
    source = create_source(settings, limiter=limiter, shared=SharedMetadata(redis))
    narrator = create_narrator(settings)
    try:
        yield ResearchAgent(
            source,
            executor=executor,
            lexicon_path=settings.lm_dictionary_path,
            narrator=narrator,
            cache=ResultCache(pool) if settings.result_cache else None,
            analysis_time_limit=settings.analysis_time_limit,
            limits=document_limits(settings),
        )
    finally:
        await source.aclose()
        aclose = getattr(narrator, "aclose", None)
        if aclose is not None:
            await aclose()


async def _analysis_pool(settings: Settings) -> AnalysisPool | None:
    """The worker's supervised analysis processes (docs/RELIABILITY.md), started."""
    if settings.analysis_processes <= 0:
        return None  # the loop's default thread pool
    pool = AnalysisPool(settings.analysis_processes, memory_mb=settings.analysis_memory_mb)
    await pool.start()
    return pool


async def _open_process_clients(ctx: Any, settings: Settings) -> AsyncExitStack:
    """What every worker process starts with: logging, settings, a migrated pool.

    Returns the exit stack that ``_close_process_clients`` unwinds on shutdown;
    callers push their own clients onto it.
    """
    configure_logging(settings)
    stack = AsyncExitStack()
    ctx["_stack"] = stack
    ctx["settings"] = settings
    pool = await create_pool(settings)
    stack.push_async_callback(pool.close)
    async with pool.acquire() as conn:
        await migrate(conn)
    ctx["pool"] = pool
    return stack


def _on_shutdown(queue: str) -> Callable[[Any], Awaitable[None]]:
    async def on_shutdown(ctx: Any) -> None:
        stack: AsyncExitStack | None = ctx.get("_stack")
        if stack is not None:
            await stack.aclose()
        log.info("worker_stopped", queue=queue)

    return on_shutdown


def _queue_attrs(settings: Settings, queue: str, job_timeout: int) -> dict[str, Any]:
    """arq settings every riskdrift queue shares."""
    return {
        "queue_name": queue,
        "redis_settings": redis_settings(settings),
        "on_shutdown": _on_shutdown(queue),
        "max_jobs": settings.worker_max_jobs,
        "poll_delay": settings.worker_poll_delay,
        "job_timeout": job_timeout,
        # Our tasks decide about retries themselves; arq's cap is a backstop for crash loops.
        "max_tries": settings.max_retries + 3,
        "health_check_interval": settings.worker_health_check_interval,
        # SIGTERM: stop picking jobs, let running ones finish, then cancel (and re-queue) the rest.
        "job_completion_wait": settings.worker_shutdown_grace,
        "job_serializer": serialization.dumps,
        "job_deserializer": serialization.loads,
        "keep_result": 3600,
    }


def cron_name(kind: str, settings: Settings) -> str:
    """The name of a cron job of the analysis queue, e.g. ``cron:reconcile@analysis``.

    arq names a tick's job ``<name>:<tick in ms>`` and refuses an id it already holds, in
    the whole Redis database: without the queue in the name, two deployments (or two
    test queues) sharing a Redis would each skip the ticks the other enqueued first.
    """
    return f"{CRON_JOB_PREFIX}{kind}@{settings.queue_name}"


def build_worker_settings(
    settings: Settings,
    *,
    agent_factory: AgentFactory = research_agent,
    webhook_resolver: Resolver = system_resolver,
) -> type:
    """The WorkerSettings class of the ``analysis`` queue (tests may script webhook DNS)."""

    async def on_startup(ctx: WorkerContext) -> None:
        stack = await _open_process_clients(ctx, settings)
        # Pushed early so it closes late: after everything that may publish, while the
        # Redis client (closed by arq after on_shutdown) still answers.
        ctx["events"] = EventBatcher(ctx["redis"])
        stack.push_async_callback(ctx["events"].aclose)
        analysis_pool = await _analysis_pool(settings)
        if analysis_pool is not None:
            stack.push_async_callback(analysis_pool.aclose)
        ctx["analysis_pool"] = analysis_pool
        ctx["agent"] = await stack.enter_async_context(
            agent_factory(settings, executor=analysis_pool, pool=ctx["pool"], redis=ctx["redis"])
        )
        ctx["webhook_client"] = await stack.enter_async_context(create_delivery_client())
        ctx["webhook_resolver"] = webhook_resolver
        watch_edgar(await start_worker_metrics(ctx, settings, stack), ctx["agent"])
        ctx["watch_lister"] = await stack.enter_async_context(
            open_lister(settings, redis=ctx["redis"], stats=edgar_stats_of(ctx["agent"]))
        )
        log.info("worker_started", queue=settings.queue_name, max_jobs=settings.worker_max_jobs)

    attrs: dict[str, Any] = {
        "functions": [
            func(
                instrument_analysis(analyze_risk_drift),  # type: ignore[arg-type]
                name="analyze_risk_drift",
                timeout=settings.job_timeout,
            ),
            # Attempts run on the webhooks queue (WebhookWorker); registered here too for
            # attempts an older version queued here, and for webhooks_queue_name set to
            # this queue's name (one worker kind for everything: tests, small setups).
            func(
                instrument_webhook(deliver_webhook),  # type: ignore[arg-type]
                name="deliver_webhook",
                timeout=int(settings.webhook_timeout) + 30,
            ),
        ],
        # One worker runs each tick (arq cron jobs are unique per tick).
        "cron_jobs": [
            cron(
                reconcile,  # type: ignore[arg-type]
                name=cron_name("reconcile", settings),
                second=set(range(0, 60, max(1, min(settings.reconcile_interval, 60)))),
                run_at_startup=True,
                timeout=60,
            ),
            # The filing watch (riskdrift/watch/scheduler.py): polls the due companies.
            cron(
                poll_watchlists,  # type: ignore[arg-type]
                name=cron_name("watch", settings),
                second=cron_seconds(settings),
                run_at_startup=True,
                timeout=300,
            ),
            cron(
                announce_analyses,  # type: ignore[arg-type]
                name=cron_name("watch-announce", settings),
                second=announce_seconds(settings),
                timeout=60,
            ),
        ],
        "on_startup": on_startup,
        "allow_abort_jobs": True,
        **_queue_attrs(settings, settings.queue_name, settings.job_timeout),
    }
    return type("AnalysisWorker", (), attrs)


def build_embeddings_worker_settings(settings: Settings) -> type:
    """The WorkerSettings class of the ``embeddings`` queue (``generate_embeddings``).

    The embedder (and its model weights) is loaded in ``on_startup``, never at import;
    its CPU work runs on one executor thread, so the event loop keeps serving arq.
    """
    from concurrent.futures import ThreadPoolExecutor

    from riskdrift.embeddings import create_embedder
    from riskdrift.store.embeddings import vector_storage
    from riskdrift.worker.embeddings_task import EmbeddingsContext, generate_embeddings

    async def on_startup(ctx: EmbeddingsContext) -> None:
        stack = await _open_process_clients(ctx, settings)
        ctx["vector_storage"] = await vector_storage(ctx["pool"])
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        stack.callback(executor.shutdown, wait=True, cancel_futures=True)
        ctx["executor"] = executor
        embedder = create_embedder(settings, executor=executor)
        stack.push_async_callback(embedder.aclose)
        ctx["embedder"] = embedder
        # Published like the analysis workers, so the dashboard and /metrics list it.
        await start_worker_metrics(ctx, settings, stack, queue=settings.embeddings_queue_name)
        log.info(
            "worker_started",
            queue=settings.embeddings_queue_name,
            model=embedder.model,
            storage=ctx["vector_storage"].kind,
        )

    attrs: dict[str, Any] = {
        "functions": [
            func(
                track_slot(generate_embeddings),  # type: ignore[arg-type]
                name="generate_embeddings",
                timeout=settings.embeddings_job_timeout,
            )
        ],
        "on_startup": on_startup,
        **_queue_attrs(settings, settings.embeddings_queue_name, settings.embeddings_job_timeout),
    }
    return type("EmbeddingsWorker", (), attrs)


def build_webhook_worker_settings(
    settings: Settings, *, webhook_resolver: Resolver = system_resolver
) -> type:
    """The WorkerSettings class of the ``webhooks`` queue (``deliver_webhook``, every attempt).

    Deliveries have slots of their own (``webhook_max_jobs``, many: an attempt mostly
    waits on the network), so a slow receiver never holds an analysis slot, and at most
    ``webhook_receiver_concurrency`` of these per receiver (riskdrift/webhooks/slots.py).

    Raises :class:`ConfigurationError` when ``webhooks_queue_name`` is the analysis
    queue: the analysis workers deliver the webhooks of such a setup themselves, and a
    webhooks worker there would take analysis jobs it cannot run and end them in arq
    ("function not found") while their rows stay queued.
    """
    if settings.webhooks_queue_name == settings.queue_name:
        raise ConfigurationError(
            f"webhooks_queue_name is the analysis queue ({settings.queue_name!r}): its "
            "analysis workers deliver the webhooks; run no webhooks worker, or give "
            "RISKDRIFT_WEBHOOKS_QUEUE_NAME a queue of its own"
        )

    async def on_startup(ctx: WorkerContext) -> None:
        stack = await _open_process_clients(ctx, settings)
        ctx["webhook_client"] = await stack.enter_async_context(create_delivery_client())
        ctx["webhook_resolver"] = webhook_resolver
        await start_worker_metrics(ctx, settings, stack, queue=settings.webhooks_queue_name)
        log.info(
            "worker_started",
            queue=settings.webhooks_queue_name,
            max_jobs=settings.webhook_max_jobs,
            per_receiver=settings.webhook_receiver_concurrency,
        )

    timeout = int(settings.webhook_timeout) + 30
    attrs: dict[str, Any] = {
        "functions": [
            func(
                instrument_webhook(deliver_webhook),  # type: ignore[arg-type]
                name="deliver_webhook",
                timeout=timeout,
            )
        ],
        "on_startup": on_startup,
        **_queue_attrs(settings, settings.webhooks_queue_name, timeout),
        "max_jobs": settings.webhook_max_jobs,
    }
    return type("WebhookWorker", (), attrs)
