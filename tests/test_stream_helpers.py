"""Helpers shared by the SSE test modules (this module holds no tests).

Jobs are created straight in Postgres and their events published with
:func:`riskdrift.events.publish.publish`, exactly as the worker does; clients
read the stream over real HTTP with httpx-sse.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from httpx_sse import ServerSentEvent, aconnect_sse
from redis.asyncio import Redis

from riskdrift.config import Settings
from riskdrift.events.publish import make_event, publish
from riskdrift.models import AnalyzeRequest, EventName, JobEvent, JobStatus
from riskdrift.store import jobs

MAX_ID = "18446744073709551615-18446744073709551615"
STEPS = ("filings_fetched", "sections_located", "risks_segmented", "risks_matched", "drift_scored")


@dataclass
class Received:
    """What one SSE connection got: status and the events (pings and retry hints dropped)."""

    status: int
    events: list[ServerSentEvent]

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.events]

    @property
    def names(self) -> list[str]:
        return [e.event for e in self.events]


async def new_job(db: asyncpg.Pool, *, tenant: str = "default") -> uuid.UUID:
    """A queued job row (no events yet)."""
    job, _ = await jobs.create_job(
        db, AnalyzeRequest(ticker="ACME", years=[2024, 2023]), tenant=tenant
    )
    return job.id


async def emit(
    redis: Redis, settings: Settings, job_id: uuid.UUID, event: EventName, **fields: object
) -> str:
    """Publish one event the way the worker does; returns its stream id."""
    return await publish(
        redis,
        make_event(event, job_id, **fields),
        maxlen=settings.stream_maxlen,
        ttl=settings.result_ttl,
    )


async def finished_job(
    db: asyncpg.Pool, redis: Redis, settings: Settings, steps: Sequence[str] = STEPS
) -> tuple[uuid.UUID, list[str]]:
    """A completed job with a full event history; returns its id and the event ids."""
    job_id = await new_job(db)
    ids = [await emit(redis, settings, job_id, "job_queued", status=JobStatus.QUEUED)]
    await jobs.start_attempt(db, job_id)
    ids.append(await emit(redis, settings, job_id, "job_started", attempt=1))
    for n, step in enumerate(steps, 1):
        ids.append(
            await emit(
                redis,
                settings,
                job_id,
                "step_complete",
                step=step,
                progress=n * 100 // (len(steps) + 1),
            )
        )
    await jobs.finish_job(db, job_id, JobStatus.COMPLETED)
    ids.append(
        await emit(
            redis, settings, job_id, "job_completed", status=JobStatus.COMPLETED, progress=100
        )
    )
    return job_id, ids


async def read_stream(
    client: httpx.AsyncClient,
    job_id: uuid.UUID | str,
    *,
    last_event_id: str | None = None,
    query: bool = False,
    until: Callable[[list[ServerSentEvent]], bool] | None = None,
    on_open: Callable[[], None] | None = None,
) -> Received:
    """Read ``/stream/{job_id}`` until the server closes it (or ``until`` holds)."""
    headers: dict[str, str] = {}
    params: dict[str, str] = {}
    if last_event_id is not None:
        if query:
            params["last_event_id"] = last_event_id
        else:
            headers["Last-Event-ID"] = last_event_id
    events: list[ServerSentEvent] = []
    async with aconnect_sse(
        client, "GET", f"/stream/{job_id}", headers=headers, params=params
    ) as source:
        if source.response.status_code != 200:
            await source.response.aread()
            return Received(source.response.status_code, events)
        if on_open is not None:
            on_open()
        async for sse in source.aiter_sse():
            if sse.event == "message" and not sse.data:
                continue  # the retry hint
            events.append(sse)
            if until is not None and until(events):
                break
    return Received(200, events)


def payload(sse: ServerSentEvent) -> dict[str, object]:
    """The JSON data of an event."""
    data: dict[str, object] = json.loads(sse.data)
    return data


def job_event(sse: ServerSentEvent) -> JobEvent:
    """The :class:`JobEvent` an event carries."""
    return JobEvent.model_validate_json(sse.data)


async def redis_clients_named(redis: Redis, prefix: str) -> list[dict[str, object]]:
    """``CLIENT LIST`` entries whose name starts with ``prefix``."""
    clients: list[dict[str, object]] = await redis.client_list()
    return [c for c in clients if str(c.get("name", "")).startswith(prefix)]


def local_ports_of(pid: int) -> set[int]:
    """Local TCP ports of the sockets process ``pid`` holds (from /proc)."""
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            cols = line.split()
            if cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


async def redis_connections_of(redis: Redis, pid: int) -> int:
    """How many Redis connections process ``pid`` holds (by matching client ports)."""
    ports = local_ports_of(pid)
    clients = await redis.client_list()
    return sum(1 for c in clients if int(str(c["addr"]).rsplit(":", 1)[1]) in ports)
