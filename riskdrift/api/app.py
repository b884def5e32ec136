"""The Starlette application factory.

``create_app(settings)`` builds the app; the lifespan opens the process's
clients (asyncpg pool, one Redis pool used for the arq queue and the event
streams) and closes them on shutdown. ``uvicorn --factory
riskdrift.api.app:create_app`` builds Settings from the environment.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from riskdrift.api import (
    routes_batches,
    routes_deliveries,
    routes_health,
    routes_history,
    routes_jobs,
    routes_ranking,
    routes_stream,
    routes_watchlists,
)
from riskdrift.api.auth import ApiKeyAuth, KeyCache
from riskdrift.api.docs import docs_routes
from riskdrift.api.limits import SubmissionLimiter
from riskdrift.api.middleware import BodySizeLimit, RequestLog
from riskdrift.api.openapi import build_openapi
from riskdrift.api.problems import EXCEPTION_HANDLERS
from riskdrift.api.routes_ops import OpsEndpoints
from riskdrift.api.routes_search import RiskSearch
from riskdrift.api.spec import Answer, operation
from riskdrift.api.state import AppState
from riskdrift.config import Settings
from riskdrift.events.hub import EventHub, EventHubConfig
from riskdrift.logging import configure_logging
from riskdrift.queue import create_pool as create_queue_pool
from riskdrift.store import api_keys
from riskdrift.store.migrate import migrate
from riskdrift.store.pool import create_pool

log = structlog.get_logger(__name__)


def create_app(
    settings: Settings | None = None, *, hub_config: EventHubConfig | None = None
) -> Starlette:
    """Build the API for ``settings`` (read from the environment when omitted)."""
    if settings is None:
        settings = Settings()
        configure_logging(settings)
    ops = OpsEndpoints(settings)  # this process's metrics registry, /metrics and /dashboard
    search = RiskSearch(settings)  # loads its embedder on the first search

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[AppState]:
        pool = await create_pool(settings)
        try:
            async with pool.acquire() as conn:
                await migrate(conn)
            redis = await create_queue_pool(settings)
            hub = EventHub(settings.redis_url, hub_config)
            limiter = SubmissionLimiter(settings)
            key_cache = (
                KeyCache(partial(api_keys.tenant_for_key, pool), ttl=settings.api_key_cache_ttl)
                if settings.auth_enabled
                else None
            )
            try:
                await hub.start()
                log.info("api_started", queue=settings.queue_name, auth=settings.auth_enabled)
                yield AppState(
                    settings=settings,
                    pool=pool,
                    redis=redis,
                    hub=hub,
                    limiter=limiter,
                    key_cache=key_cache,
                )
            finally:
                await hub.stop()
                await limiter.aclose()
                await redis.aclose()
        finally:
            await search.aclose()
            await pool.close()
        log.info("api_stopped")

    @operation(
        "GET",
        "This document (OpenAPI 3.1), generated from the route table",
        answers={200: Answer("the document", media={"application/json": {"type": "object"}})},
    )
    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(openapi)

    routes = [
        Route("/analyze", routes_jobs.analyze, methods=["POST"]),
        Route("/jobs", routes_jobs.list_jobs, methods=["GET"]),
        Route("/jobs/{job_id}", routes_jobs.get_job, methods=["GET"]),
        Route("/jobs/{job_id}/result", routes_jobs.get_result, methods=["GET"]),
        Route("/jobs/{job_id}/report", routes_jobs.get_report, methods=["GET"]),
        Route("/jobs/{job_id}/cancel", routes_jobs.cancel, methods=["POST"]),
        Route("/jobs/{job_id}/retry", routes_jobs.retry, methods=["POST"]),
        Route("/batches", routes_batches.collection, methods=["GET", "POST"]),
        Route("/batches/{batch_id}", routes_batches.get_batch, methods=["GET"]),
        Route("/batches/{batch_id}/cancel", routes_batches.cancel, methods=["POST"]),
        Route("/batches/{batch_id}/stream", routes_batches.stream, methods=["GET"]),
        Route("/batches/{batch_id}/results.csv", routes_batches.results_csv, methods=["GET"]),
        Route("/batches/{batch_id}/results.json", routes_batches.results_json, methods=["GET"]),
        Route("/batches/{batch_id}/ranking", routes_ranking.batch_ranking, methods=["GET"]),
        Route(
            "/watchlists/{watchlist_id}/ranking",
            routes_ranking.watchlist_ranking,
            methods=["GET"],
        ),
        Route("/watchlists", routes_watchlists.collection, methods=["GET", "POST"]),
        Route(
            "/watchlists/{watchlist_id}",
            routes_watchlists.item,
            methods=["GET", "PATCH", "DELETE"],
        ),
        Route("/companies/{ticker}/history", routes_history.company_history, methods=["GET"]),
        Route(
            "/companies/{ticker}/history.svg",
            routes_history.company_history_svg,
            methods=["GET"],
        ),
        Route("/risks/search", search.endpoint, methods=["GET"]),
        Route("/jobs/{job_id}/deliveries", routes_deliveries.list_deliveries, methods=["GET"]),
        Route("/jobs/{job_id}/deliveries/redeliver", routes_deliveries.redeliver, methods=["POST"]),
        Route("/healthz", routes_health.healthz, methods=["GET"]),
        Route("/readyz", routes_health.readyz, methods=["GET"]),
        *ops.routes(),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *docs_routes(),
        Route("/stream/{job_id}", routes_stream.stream_job, methods=["GET"]),
        Route("/stream/watchlists/{watchlist_id}", routes_watchlists.stream, methods=["GET"]),
        Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static"),
    ]
    openapi = build_openapi(routes)  # fails here if a route is undocumented
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(RequestLog),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
            Middleware(ApiKeyAuth),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
