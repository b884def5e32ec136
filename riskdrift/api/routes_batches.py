"""Batch routes: many pairs as one unit, their progress, aggregate stream and results table.

``POST /batches`` takes either a universe (``tickers`` × one pair of ``years``) or a
history (one ``ticker``, one job per consecutive pair of ``from_year..to_year``).
Submitting, cancelling and finishing a batch are :mod:`riskdrift.jobs.batches`'s. Each
job is an ordinary job.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections import Counter
from typing import Annotated

import pydantic
import structlog
from pydantic import Field, field_validator, model_validator
from starlette.requests import Request
from starlette.responses import Response

import riskdrift.jobs.batches as lifecycle
from riskdrift.api.auth import client_of, tenant_of
from riskdrift.api.callbacks import check_callback
from riskdrift.api.limits import batch_cost
from riskdrift.api.problems import read_json
from riskdrift.api.routes_jobs import cursor_checked, cursor_page, model_response
from riskdrift.api.spec import (
    CURSOR,
    EVENT_STREAM,
    IDEMPOTENCY_KEY,
    TEXT,
    Answer,
    created,
    delegates,
    last_event_id,
    limit_param,
    operation,
)
from riskdrift.api.sse import ResumableStreamResponse, requested_position
from riskdrift.api.state import AppState, app_state
from riskdrift.errors import (
    BatchNotFound,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    QueueFull,
    TenantQueueFull,
)
from riskdrift.events.batch_progress import (
    BATCH_TERMINAL_EVENT,
    batch_stream_key,
)
from riskdrift.events.replay import Resync, open_stream
from riskdrift.models import BatchResultRow, CallbackURL, Strict, check_years, normalise_ticker
from riskdrift.render.models_csv import models_csv
from riskdrift.store import batches
from riskdrift.store.batches import BatchRecord, Pair

log = structlog.get_logger(__name__)

MAX_TICKERS = 1000


class BatchRequest(Strict):
    """``POST /batches``: ``tickers`` + ``years``, or ``ticker`` + ``from_year`` + ``to_year``."""

    tickers: Annotated[list[str] | None, Field(default=None, examples=[["AAPL", "MSFT"]])] = None
    years: Annotated[list[int] | None, Field(default=None, examples=[[2024, 2023]])] = None
    ticker: Annotated[str | None, Field(default=None, max_length=16, examples=["BA"])] = None
    from_year: int | None = None
    to_year: int | None = None
    callback_url: CallbackURL = None

    @field_validator("tickers")
    @classmethod
    def _tickers(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("tickers must name at least one company")
        if len(value) > MAX_TICKERS:
            raise ValueError(f"a batch takes at most {MAX_TICKERS} tickers, not {len(value)}")
        tickers = [normalise_ticker(t) for t in value]
        duplicates = sorted(t for t, n in Counter(tickers).items() if n > 1)
        if duplicates:
            raise ValueError(f"duplicate tickers: {', '.join(duplicates)}")
        return tickers

    @field_validator("ticker")
    @classmethod
    def _ticker(cls, value: str | None) -> str | None:
        return normalise_ticker(value) if value is not None else None

    @model_validator(mode="after")
    def _one_shape(self) -> BatchRequest:
        universe = self.tickers is not None or self.years is not None
        history = any(v is not None for v in (self.ticker, self.from_year, self.to_year))
        if universe == history:
            raise ValueError("send either tickers and years, or ticker, from_year and to_year")
        if universe:
            if self.tickers is None or self.years is None:
                raise ValueError("a batch of tickers needs both tickers and years")
            check_years(self.years)
        else:
            if self.ticker is None or self.from_year is None or self.to_year is None:
                raise ValueError("a history needs ticker, from_year and to_year")
            if self.from_year >= self.to_year:
                raise ValueError("from_year must be before to_year")
            check_years([self.to_year, self.from_year])
        return self

    @property
    def kind(self) -> str:
        return "universe" if self.tickers is not None else "history"

    def pairs(self) -> list[Pair]:
        """The batch's analyses, one per job."""
        if self.tickers is not None and self.years is not None:
            current, previous = self.years
            return [Pair(t, current, previous) for t in self.tickers]
        assert self.ticker is not None
        assert self.from_year is not None
        assert self.to_year is not None
        return [Pair(self.ticker, y, y - 1) for y in range(self.to_year, self.from_year, -1)]


class BatchLinks(pydantic.BaseModel):
    self: str
    stream: str
    results_csv: str
    results_json: str
    cancel: str


class BatchFailure(pydantic.BaseModel):
    job_id: uuid.UUID
    ticker: str
    years: list[int]
    error: str | None


class Batch(pydantic.BaseModel):
    """A batch as ``GET /batches/{id}`` shows it."""

    batch_id: uuid.UUID
    kind: str
    status: str  # running | completed (every job ended)
    total: int
    counts: dict[str, int]
    progress: int = Field(ge=0, le=100)
    failures: list[BatchFailure] | None = None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    links: BatchLinks


class BatchAccepted(pydantic.BaseModel):
    batch_id: uuid.UUID
    total: int
    job_ids: list[uuid.UUID]
    links: BatchLinks


class BatchPage(pydantic.BaseModel):
    batches: list[Batch]
    next_cursor: str | None


class BatchResults(pydantic.BaseModel):
    batch_id: uuid.UUID
    rows: list[BatchResultRow]


def batch_links(batch_id: uuid.UUID) -> BatchLinks:
    base = f"/batches/{batch_id}"
    return BatchLinks(
        self=base,
        stream=f"{base}/stream",
        results_csv=f"{base}/results.csv",
        results_json=f"{base}/results.json",
        cancel=f"{base}/cancel",
    )


async def batch_view(state: AppState, batch: BatchRecord, *, with_failures: bool) -> Batch:
    counts = await batches.state_counts(state["pool"], batch.id)
    ended = sum(n for status, n in counts.items() if status.finished)
    if ended >= batch.job_count and batch.finished_at is None:
        # Its last job's process died before finishing the batch (or is about to): do it.
        await lifecycle.finish_batch(state["redis"], state["pool"], state["settings"], batch.id)
        batch = await batches.get_batch(state["pool"], batch.id) or batch
    failures = None
    if with_failures:
        failures = [
            BatchFailure(job_id=f.job_id, ticker=f.ticker, years=list(f.years), error=f.error)
            for f in await batches.failures(state["pool"], batch.id)
        ]
    return Batch(
        batch_id=batch.id,
        kind=batch.kind,
        status="completed" if ended >= batch.job_count else "running",
        total=batch.job_count,
        counts={status.value: n for status, n in counts.items()},
        progress=ended * 100 // batch.job_count,
        failures=failures,
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        links=batch_links(batch.id),
    )


async def load_batch(request: Request) -> BatchRecord:
    """The caller's batch named in the path, or a 404."""
    try:
        batch_id = uuid.UUID(request.path_params["batch_id"])
    except ValueError:
        raise BatchNotFound("no batch has that id") from None
    batch = await batches.get_batch(app_state(request)["pool"], batch_id, tenant=tenant_of(request))
    if batch is None:
        raise BatchNotFound(f"no batch {batch_id}")
    return batch


def _accepted(new: batches.NewBatch, status: int) -> Response:
    return model_response(
        BatchAccepted(
            batch_id=new.batch.id,
            total=new.batch.job_count,
            job_ids=new.job_ids,
            links=batch_links(new.batch.id),
        ),
        status,
        {"Location": f"/batches/{new.batch.id}"},
    )


@operation(
    "POST",
    "Submit a batch: tickers × one pair of years, or one ticker's history",
    description=(
        "Either {tickers (1-1000, no duplicates), years: [current, previous]} or "
        "{ticker, from_year, to_year} (one job per consecutive pair). The batch and all "
        "its jobs are created atomically; each job is an ordinary job (in /jobs, "
        "streamable, cancellable). Every job counts against the tenant's queued-jobs cap "
        "and the submission rate limit. With callback_url, a signed `batch.completed` "
        "webhook is sent when the last job ends."
    ),
    params=[IDEMPOTENCY_KEY],
    body=BatchRequest,
    answers={
        202: created("queued", BatchAccepted),
        200: created("replay of an Idempotency-Key", BatchAccepted),
    },
    problems=(400, 413, 415, 422, 429, 503),
)
async def submit(request: Request) -> Response:
    """``POST /batches``: store the batch and its jobs atomically, enqueue them at once."""
    state = app_state(request)
    settings = state["settings"]
    body = await read_json(request, BatchRequest)
    pairs = body.pairs()
    await state["limiter"].check(client_of(request), cost=batch_cost(len(pairs), settings))
    tenant = tenant_of(request)
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 255:
        raise InvalidIdempotencyKey("use 1 to 255 characters")
    request_hash = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    # The same check as a job's callback: it reads only ``callback_url``.
    await check_callback(body.callback_url, settings)
    limit = settings.max_queued_jobs_per_tenant
    try:
        new = await lifecycle.submit_batch(
            pairs,
            tenant=tenant,
            kind=body.kind,
            request=json.loads(body.model_dump_json(exclude_none=True)),
            callback_url=str(body.callback_url) if body.callback_url else None,
            idempotency_key=key,
            request_hash=request_hash,
            max_queued=limit,
            pool=state["pool"],
            redis=state["redis"],
            settings=settings,
        )
    except TenantQueueFull:
        raise QueueFull(
            f"this batch's {len(pairs)} jobs would take the tenant above its limit of "
            f"{limit} queued jobs; retry when some have started, or split the batch",
            retry_after=30,
        ) from None
    if not new.created:
        if new.batch.request_hash != request_hash:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with a different request body"
            )
        return _accepted(new, 200)
    return _accepted(new, 202)


@operation(
    "GET",
    "A batch: counts by state, progress, failures with reasons",
    answers={200: Answer("the batch", Batch)},
    problems=(404,),
)
async def get_batch(request: Request) -> Response:
    """``GET /batches/{id}``: counts by state, progress and the failures with reasons."""
    state = app_state(request)
    return model_response(await batch_view(state, await load_batch(request), with_failures=True))


@operation(
    "GET",
    "List batches, newest first",
    params=[CURSOR, limit_param()],
    answers={200: Answer("a page", BatchPage)},
    problems=(400, 422),
)
async def list_batches(request: Request) -> Response:
    """``GET /batches?cursor=&limit=``, newest first."""
    cursor, limit = cursor_page(request.query_params)
    state = app_state(request)
    with cursor_checked():
        page, next_cursor = await batches.list_batches(
            state["pool"], tenant=tenant_of(request), cursor=cursor, limit=limit
        )
    views = [await batch_view(state, b, with_failures=False) for b in page]
    return model_response(BatchPage(batches=views, next_cursor=next_cursor))


@operation(
    "POST",
    "Cancel every job of the batch not started yet",
    answers={200: Answer("the batch after the cancel", Batch)},
    problems=(404,),
)
async def cancel(request: Request) -> Response:
    """``POST /batches/{id}/cancel``: every job not started yet ends ``cancelled``; running
    jobs finish. Answers with the batch after the cancel."""
    state = app_state(request)
    batch = await load_batch(request)
    await lifecycle.cancel_batch(
        batch.id, pool=state["pool"], redis=state["redis"], settings=state["settings"]
    )
    return model_response(await batch_view(state, batch, with_failures=False))


async def _rows(request: Request) -> tuple[BatchRecord, list[BatchResultRow]]:
    batch = await load_batch(request)
    return batch, await batches.result_rows(app_state(request)["pool"], batch.id)


@operation(
    "GET",
    "One row per pair: counts new/removed/modified, cosine similarity, top drift "
    "category, error if failed",
    answers={200: Answer("the rows", BatchResults)},
    problems=(404,),
)
async def results_json(request: Request) -> Response:
    """``GET /batches/{id}/results.json``: one row per pair (unfinished pairs too)."""
    batch, rows = await _rows(request)
    return model_response(BatchResults(batch_id=batch.id, rows=rows))


@operation(
    "GET",
    "The same rows as CSV",
    answers={200: Answer("CSV with a header line", media={"text/csv": TEXT})},
    problems=(404,),
)
async def results_csv(request: Request) -> Response:
    """``GET /batches/{id}/results.csv``."""
    batch, rows = await _rows(request)
    return Response(
        models_csv(BatchResultRow, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="batch-{batch.id}.csv"'},
    )


@operation(
    "GET",
    "Aggregate events (Server-Sent Events): one per job state change",
    description=(
        "`batch_progress` frames carry the job, its new state and the batch's counts; the "
        "stream ends with `batch_completed`. Last-Event-ID resumes exactly; after the "
        "end, 204."
    ),
    params=[last_event_id()],
    answers={200: EVENT_STREAM, 204: Answer("the batch's stream already ended")},
    problems=(400, 404),
)
async def stream(request: Request) -> Response:
    """``GET /batches/{id}/stream``: the batch's aggregate events as SSE, resumable with
    ``Last-Event-ID``; ends after ``batch_completed`` (a reconnect after it: 204)."""
    batch = await load_batch(request)
    requested = requested_position(request)
    state = app_state(request)
    source = await open_stream(
        state["hub"],
        batch_stream_key(batch.id),
        requested=requested,
        terminal_events=(BATCH_TERMINAL_EVENT,),
        comment=f"batch {batch.id}",
        resync=batch_state(state, batch.id),
        finished=batch.finished_at is not None,
        log_fields={"batch_id": str(batch.id)},
    )
    if source.ended:
        return Response(status_code=204)
    return ResumableStreamResponse(source)


def batch_state(state: AppState, batch_id: uuid.UUID) -> Resync:
    """The batch's current view (``GET /batches/{id}``, without failures): what a batch
    stream's ``resync`` event carries where the client's entries are gone."""

    async def read() -> str:
        batch = await batches.get_batch(state["pool"], batch_id)
        if batch is None:
            return "{}"
        return (await batch_view(state, batch, with_failures=False)).model_dump_json()

    return read


@delegates(submit, list_batches)
async def collection(request: Request) -> Response:
    """``/batches``: ``POST`` submits, ``GET`` lists (one route, so a 405 names both)."""
    if request.method == "POST":
        return await submit(request)
    return await list_batches(request)
