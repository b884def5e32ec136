"""Operations endpoints: ``/metrics`` (the cluster view) and the live dashboard.

``/metrics`` renders two registries: this process's own (SSE and dashboard
clients connected) and, per scrape, a :class:`~riskdrift.ops.cluster.SnapshotCollector`
over what every process shares: ready queue depth computed from Redis, the
figures each worker publishes into Redis, the cluster counters and latency
histograms in Redis, and job counts from Postgres. Any API replica therefore
answers with the same cluster figures; alert rules take ``max`` over replicas.

The dashboard (``/dashboard``) is one HTML page with its script and styles
inlined (so it needs no further authenticated requests for assets). It polls
``/dashboard/summary`` and listens to ``/dashboard/events``, a Server-Sent
Events feed of job state changes. The feed polls Postgres for rows whose
``updated_at`` moved, once a second per open feed, and sends each changed job
(the ``Job`` view); a 2-second overlap window with de-duplication makes sure a
transaction that commits late is not missed. This is simpler than fanning in
every job's Redis stream, costs one indexed-or-small query per second per
viewer, and works behind any number of API processes.

Auth: like every other route, these need ``Authorization: Bearer <key>``;
``EventSource`` cannot send headers, so the page passes ``?key=`` on the SSE
URL (the auth middleware accepts ``?key=`` on GET requests). ``/metrics`` is
public, like ``/healthz`` and ``/readyz``: expose it only on the cluster network.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping
from importlib import resources
from typing import Any, cast

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from riskdrift.api.auth import tenant_of
from riskdrift.api.routes_jobs import job_view
from riskdrift.api.spec import TEXT, Answer, operation
from riskdrift.api.state import app_state
from riskdrift.config import Settings
from riskdrift.ops import metrics as m
from riskdrift.ops.cluster import (
    ClusterSnapshot,
    SnapshotCollector,
    last_hour_series,
    take_snapshot,
)
from riskdrift.store import job_stats
from riskdrift.store.jobs import JobRecord

log = structlog.get_logger(__name__)

FEED_INTERVAL = 1.0  # seconds between the dashboard feed's Postgres polls
FEED_OVERLAP = dt.timedelta(seconds=2)  # re-read window for transactions that commit late
SUMMARY_EVERY = 3  # feed ticks between summary events
RECENT_JOBS = 50


def _page() -> str:
    static = resources.files("riskdrift.api") / "static"
    html = (static / "dashboard.html").read_text("utf-8")
    return html.replace("/*DASHBOARD_CSS*/", (static / "dashboard.css").read_text("utf-8")).replace(
        "/*DASHBOARD_JS*/", (static / "dashboard.js").read_text("utf-8")
    )


class OpsEndpoints:
    """The process's ops registry and the routes that serve it; made in ``create_app``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = CollectorRegistry()
        self.sse_clients = Gauge(
            m.SSE_CLIENTS.name, m.SSE_CLIENTS.help, registry=self.registry
        )  # colleagues' hub may inc/dec it; else it is read from the hub at scrape time
        self.dashboard_clients = Gauge(
            m.DASHBOARD_CLIENTS.name, m.DASHBOARD_CLIENTS.help, registry=self.registry
        )
        self._page: str | None = None

    def routes(self) -> list[BaseRoute]:
        # The dashboard page and its own feeds are not part of the documented API.
        return [
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/dashboard", self.dashboard, methods=["GET"], include_in_schema=False),
            Route("/dashboard/summary", self.summary, methods=["GET"], include_in_schema=False),
            Route("/dashboard/events", self.events, methods=["GET"], include_in_schema=False),
            Route(
                "/dashboard/timeseries", self.timeseries, methods=["GET"], include_in_schema=False
            ),
        ]

    @property
    def queues(self) -> list[str]:
        # The webhooks queue too, unless it is the analysis queue (one worker kind).
        names = [
            self.settings.queue_name,
            self.settings.webhooks_queue_name,
            self.settings.embeddings_queue_name,
        ]
        return list(dict.fromkeys(names))

    async def snapshot(self, request: Request) -> ClusterSnapshot:
        state = app_state(request)
        return await take_snapshot(
            state["redis"],
            state["pool"],
            self.queues,
            stale_after=3 * self.settings.worker_metrics_interval,
        )

    @operation(
        "GET",
        "Prometheus metrics: this process's and the cluster's",
        description="Queue depth, workers, job counts and latencies, the same from any "
        "API replica. Public like /healthz: expose it only on the cluster network.",
        answers={200: Answer("Prometheus text exposition format", media={"text/plain": TEXT})},
    )
    async def metrics(self, request: Request) -> Response:
        """``GET /metrics``: Prometheus text, this process's gauges and the cluster view."""
        hub = cast(Mapping[str, Any], app_state(request)).get("hub")
        count = getattr(hub, "subscriber_count", None)
        if isinstance(count, int):
            self.sse_clients.set(count)
        per_scrape = CollectorRegistry(auto_describe=False)
        per_scrape.register(SnapshotCollector(await self.snapshot(request)))
        body = generate_latest(self.registry) + generate_latest(per_scrape)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def dashboard(self, request: Request) -> Response:
        """``GET /dashboard``: the page (``?key=`` is read by its script)."""
        if self._page is None:
            self._page = _page()
        return HTMLResponse(self._page, headers={"Cache-Control": "no-store"})

    async def summary(self, request: Request) -> Response:
        """``GET /dashboard/summary``: queues, workers, last hour, targets."""
        return JSONResponse(self._summary(await self.snapshot(request)))

    async def timeseries(self, request: Request) -> Response:
        """``GET /dashboard/timeseries``: the last hour per minute, for the dashboard's charts."""
        return JSONResponse({"minutes": await last_hour_series(app_state(request)["pool"])})

    def _summary(self, snapshot: ClusterSnapshot) -> dict[str, Any]:
        return {
            **snapshot.as_json(),
            "targets": {
                "p95_seconds": 180,
                "queue_ready": 50,
                "utilisation": [0.6, 0.8],
                "failure_ratio": 0.01,
            },
        }

    async def events(self, request: Request) -> Response:
        """``GET /dashboard/events``: SSE ``jobs`` (recent jobs), ``job`` changes, ``summary``."""
        pool = app_state(request)["pool"]
        tenant = tenant_of(request)

        async def feed() -> AsyncIterator[ServerSentEvent]:
            self.dashboard_clients.inc()
            try:
                since, recent = await job_stats.recent_jobs(pool, tenant, limit=RECENT_JOBS)
                yield ServerSentEvent(
                    data=json.dumps([_job_json(job) for job in recent]),
                    event="jobs",
                )
                sent: dict[str, dt.datetime] = {}
                tick = 0
                while True:
                    if tick % SUMMARY_EVERY == 0:
                        snapshot = await self.snapshot(request)
                        yield ServerSentEvent(
                            data=json.dumps(self._summary(snapshot)), event="summary"
                        )
                    tick += 1
                    await asyncio.sleep(FEED_INTERVAL)
                    changed = await job_stats.jobs_changed_since(pool, tenant, since - FEED_OVERLAP)
                    for job, updated_at in changed:
                        key = str(job.id)
                        if sent.get(key) == updated_at:
                            continue
                        sent[key] = updated_at
                        since = max(since, updated_at)
                        yield ServerSentEvent(data=json.dumps(_job_json(job)), event="job")
                    horizon = since - FEED_OVERLAP
                    sent = {k: v for k, v in sent.items() if v >= horizon}
            finally:
                self.dashboard_clients.dec()

        return EventSourceResponse(feed(), ping=15, headers={"Cache-Control": "no-store"})


def _job_json(job: JobRecord) -> dict[str, Any]:
    view: dict[str, Any] = job_view(job).model_dump(mode="json")
    if job.started_at is not None:
        end = job.finished_at or dt.datetime.now(dt.UTC)
        view["duration_s"] = round((end - job.started_at).total_seconds(), 3)
    else:
        view["duration_s"] = None
    return view
