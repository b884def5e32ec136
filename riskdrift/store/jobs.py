"""The ``jobs`` table: creation with idempotency keys, guarded state changes, listing.

Every state change is one guarded UPDATE: it names the states it may leave,
so a finished job never changes again and concurrent writers cannot race a
job backwards. Functions return ``None`` when the guard did not match.
Completing a job stores its result, and its webhook, in the same statement (a CTE).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import asyncpg

from riskdrift.errors import (
    TenantQueueFull,
)
from riskdrift.models import AnalysisResult, AnalyzeRequest, JobStatus
from riskdrift.store import deliveries, results
from riskdrift.store.deliveries import DeliveryRecord
from riskdrift.store.paging import newest_first
from riskdrift.store.pool import Executor
from riskdrift.store.result_document import ResultDocument

COLUMNS = """id, tenant, ticker, current_year, previous_year, status, progress, step, attempts,
             callback_url, error, idempotency_key, request_hash, created_at, started_at,
             finished_at, batch_id, trigger, watchlist_id, filing_key, callback_payload"""


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One row of ``jobs``."""

    id: uuid.UUID
    tenant: str
    ticker: str
    years: tuple[int, int]
    status: JobStatus
    progress: int
    step: str | None
    attempts: int
    callback_url: str | None
    error: str | None
    idempotency_key: str | None
    request_hash: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    batch_id: uuid.UUID | None = None
    trigger: str = "api"  # what started the job: a client ("api") or a watchlist ("watch")
    watchlist_id: uuid.UUID | None = None
    filing: str | None = None  # the exact filing of the current year (AnalyzeRequest.filing)
    callback_payload: str = "full"  # what its job.completed webhook carries: full or thin

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> JobRecord:
        return cls(
            id=row["id"],
            tenant=row["tenant"],
            ticker=row["ticker"],
            years=(row["current_year"], row["previous_year"]),
            status=JobStatus(row["status"]),
            progress=row["progress"],
            step=row["step"],
            attempts=row["attempts"],
            callback_url=row["callback_url"],
            error=row["error"],
            idempotency_key=row["idempotency_key"],
            request_hash=row["request_hash"],
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            batch_id=row["batch_id"],
            trigger=row["trigger"],
            watchlist_id=row["watchlist_id"],
            filing=row["filing_key"],
            callback_payload=row["callback_payload"],
        )


def _record(row: asyncpg.Record | None) -> JobRecord | None:
    return JobRecord.from_row(row) if row is not None else None


# One statement, so a submission costs one round trip. ``queued`` counts the tenant's queued
# jobs up to the cap and no further (jobs_tenant_queued keeps that to one tenant's index
# entries); the INSERT runs only below the cap ($9 NULL: no cap). ``existing`` is the job an
# idempotency key already names, read from the statement's snapshot: a replay gets its job
# back even when the queue is full. Exactly one row comes back; ``created`` is NULL when
# nothing was inserted or found (full, or a same-key row committed after the snapshot).
_CREATE_JOB = f"""
    WITH queued AS (
        SELECT count(*) AS n FROM (
            SELECT 1 FROM jobs
            WHERE $9::integer IS NOT NULL AND tenant = $2 AND status = 'queued'
            LIMIT $9
        ) AS capped
    ), inserted AS (
        INSERT INTO jobs (id, tenant, ticker, current_year, previous_year, callback_url,
                          idempotency_key, request_hash, filing_key, callback_payload)
        SELECT $1::uuid, $2::text, $3::text, $4::integer, $5::integer, $6::text, $7::text,
               $8::text, $10::text, $11::text
        FROM queued WHERE $9::integer IS NULL OR n < $9
        ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
        RETURNING {COLUMNS}
    )
    SELECT queued.n AS queued, found.* FROM queued LEFT JOIN (
        SELECT true AS created, * FROM inserted
        UNION ALL
        SELECT false, {COLUMNS} FROM jobs
        WHERE tenant = $2 AND idempotency_key = $7 AND NOT EXISTS (SELECT FROM inserted)
    ) AS found ON true"""


async def create_job(
    db: Executor,
    request: AnalyzeRequest,
    *,
    tenant: str,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    job_id: uuid.UUID | None = None,
    max_queued: int | None = None,
) -> tuple[JobRecord, bool]:
    """Insert a queued job; returns ``(job, created)``.

    With an idempotency key already used by this tenant, nothing is inserted
    and the existing job comes back with ``created=False`` (even over the cap);
    the caller compares ``request_hash`` to tell a replay from a conflicting
    reuse of the key. With ``max_queued``, a tenant that already has that many
    queued jobs gets :class:`TenantQueueFull` instead of a new job.

    The cap is soft, as a count-then-insert must be under READ COMMITTED:
    submissions running at the same moment do not see each other's rows, so a
    tenant can end up above the cap by at most the number of its submissions
    in flight together (bounded by the API processes' pool sizes), never more.
    """
    row = await db.fetchrow(
        _CREATE_JOB,
        job_id or uuid.uuid4(),
        tenant,
        request.ticker,
        request.current_year,
        request.previous_year,
        str(request.callback_url) if request.callback_url else None,
        idempotency_key,
        request_hash,
        max_queued,
        request.filing,
        request.callback_payload,
    )
    assert row is not None  # the statement always returns its one row
    if row["created"] is not None:
        return JobRecord.from_row(row), row["created"]
    if max_queued is not None and row["queued"] >= max_queued:
        raise TenantQueueFull.of(tenant, max_queued)
    # Below the cap yet neither inserted nor found: the key's row was committed after this
    # statement's snapshot (read it now), or deleted in between (try once more).
    existing = await get_job_by_key(db, tenant, idempotency_key or "")
    if existing is None:
        return await create_job(
            db,
            request,
            tenant=tenant,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            job_id=job_id,
            max_queued=max_queued,
        )
    return existing, False


async def get_job_by_key(db: Executor, tenant: str, idempotency_key: str) -> JobRecord | None:
    """The tenant's job submitted with ``idempotency_key``, if any."""
    return _record(
        await db.fetchrow(
            f"SELECT {COLUMNS} FROM jobs WHERE tenant = $1 AND idempotency_key = $2",
            tenant,
            idempotency_key,
        )
    )


async def get_job(
    db: Executor, job_id: uuid.UUID, *, tenant: str | None = None
) -> JobRecord | None:
    """The job, or ``None`` if it does not exist or belongs to another tenant."""
    if tenant is None:
        return _record(await db.fetchrow(f"SELECT {COLUMNS} FROM jobs WHERE id = $1", job_id))
    return _record(
        await db.fetchrow(
            f"SELECT {COLUMNS} FROM jobs WHERE id = $1 AND tenant = $2", job_id, tenant
        )
    )


async def list_jobs(
    db: Executor,
    *,
    tenant: str,
    status: JobStatus | None = None,
    ticker: str | None = None,
    trigger: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[JobRecord], str | None]:
    """A page of the tenant's jobs, newest first, and the cursor of the next page."""
    conditions = ["tenant = $1"]
    args: list[object] = [tenant]
    if status is not None:
        args.append(status.value)
        conditions.append(f"status = ${len(args)}")
    if ticker is not None:
        args.append(ticker)
        conditions.append(f"ticker = ${len(args)}")
    if trigger is not None:
        args.append(trigger)
        conditions.append(f"trigger = ${len(args)}")
    return await newest_first(
        db, table="jobs", columns=COLUMNS, conditions=conditions, args=args,
        cursor=cursor, limit=limit, from_row=JobRecord.from_row,
    )  # fmt: skip


async def unfinished_since(db: Executor, *, before: dt.datetime, limit: int) -> list[JobRecord]:
    """Queued or processing jobs not updated since ``before``, oldest first."""
    rows = await db.fetch(
        f"""SELECT {COLUMNS} FROM jobs
            WHERE status IN ('queued', 'processing') AND updated_at < $1
            ORDER BY updated_at LIMIT $2""",
        before,
        limit,
    )
    return [JobRecord.from_row(r) for r in rows]


async def finished_without_delivery(
    db: Executor, *, after: dt.datetime, before: dt.datetime, limit: int
) -> list[JobRecord]:
    """Completed or failed jobs with a ``callback_url``, finished between ``after`` and
    ``before``, that have no webhook delivery row; oldest first.

    The range is read from ``jobs_finished_with_callback``, and each entry costs one probe
    of the deliveries' ``(job_id, event_type)`` key.
    """
    rows = await db.fetch(
        f"""SELECT {COLUMNS} FROM jobs j
            WHERE status IN ('completed', 'failed') AND callback_url IS NOT NULL
              AND finished_at >= $1 AND finished_at < $2
              AND NOT EXISTS (SELECT FROM webhook_deliveries d WHERE d.job_id = j.id)
            ORDER BY finished_at LIMIT $3""",
        after,
        before,
        limit,
    )
    return [JobRecord.from_row(r) for r in rows]


async def start_attempt(db: Executor, job_id: uuid.UUID) -> JobRecord | None:
    """``queued|processing → processing``, counting the attempt; ``None`` if finished."""
    return _record(
        await db.fetchrow(
            f"""UPDATE jobs SET status = 'processing', attempts = attempts + 1,
                       step = 'starting', progress = 0, error = NULL,
                       started_at = coalesce(started_at, now()), updated_at = now()
                WHERE id = $1 AND status IN ('queued', 'processing')
                RETURNING {COLUMNS}""",
            job_id,
        )
    )


async def release_attempt(db: Executor, job_id: uuid.UUID) -> JobRecord | None:
    """Undo :func:`start_attempt` for a run cut short by a shutdown: ``processing → queued``."""
    return _record(
        await db.fetchrow(
            f"""UPDATE jobs SET status = 'queued', attempts = greatest(attempts - 1, 0),
                       step = 'requeued', updated_at = now()
                WHERE id = $1 AND status = 'processing'
                RETURNING {COLUMNS}""",
            job_id,
        )
    )


async def record_progress(db: Executor, job_id: uuid.UUID, step: str, progress: int) -> bool:
    """Store the current step of a running job; ``False`` if it is no longer running."""
    status = await db.execute(
        """UPDATE jobs SET step = $2, progress = $3, updated_at = now()
           WHERE id = $1 AND status = 'processing'""",
        job_id,
        step,
        progress,
    )
    return status.endswith(" 1")


# The guarded terminal UPDATE: $1 the job, $2 its terminal status, $3 the error, $4 the
# statuses it may leave (text[]), finished at ``finished_at`` (SQL). finish_job runs it
# alone, complete_job in a CTE.
def _finish_sql(finished_at: str = "now()") -> str:
    return f"""UPDATE jobs SET status = $2, error = $3, finished_at = {finished_at},
                      updated_at = now(),
                      progress = CASE WHEN $2 = 'completed' THEN 100 ELSE progress END,
                      step = CASE WHEN $2 = 'completed' THEN 'done' ELSE step END
               WHERE id = $1 AND status = ANY($4::text[])
               RETURNING {COLUMNS}"""


_FINISH = _finish_sql()


async def finish_job(
    db: Executor,
    job_id: uuid.UUID,
    status: JobStatus,
    *,
    error: str | None = None,
    allowed_from: tuple[JobStatus, ...] = (JobStatus.PROCESSING,),
) -> JobRecord | None:
    """Move a job to a terminal ``status``; ``None`` if it was not in ``allowed_from``."""
    if not status.finished:
        raise ValueError(f"{status} is not a terminal status")
    return _record(
        await db.fetchrow(_FINISH, job_id, status.value, error, [s.value for s in allowed_from])
    )


@dataclass(frozen=True, slots=True)
class Completion:
    """A job :func:`complete_job` completed, and the webhook stored with it (if one was
    given and the job had none of that type yet)."""

    job: JobRecord
    delivery: DeliveryRecord | None


_JOB_COLUMNS = ", ".join(f"f.{name.strip()}" for name in COLUMNS.split(","))
_DELIVERY_COLUMNS = ", ".join(f"d.{name} AS d_{name}" for name in deliveries.COLUMN_NAMES)
_RESULT_PARAMS = 6  # $1-$4 as _FINISH, $5 finished_at, then the result's columns
_DELIVERY_PARAMS = _RESULT_PARAMS + len(results.RESULT_COLUMNS)
_COMPLETE = f"""WITH finished AS ({_finish_sql("$5")}),
                     stored AS ({results.insert_sql("finished", first_param=_RESULT_PARAMS)})
                SELECT {_JOB_COLUMNS} FROM finished f"""
_COMPLETE_WITH_WEBHOOK = f"""WITH finished AS ({_finish_sql("$5")}),
        stored AS ({results.insert_sql("finished", first_param=_RESULT_PARAMS)}),
        delivery AS ({deliveries.insert_sql("finished", first_param=_DELIVERY_PARAMS)})
    SELECT {_JOB_COLUMNS}, {_DELIVERY_COLUMNS} FROM finished f LEFT JOIN delivery d ON true"""


async def complete_job(
    db: Executor,
    job_id: uuid.UUID,
    result: ResultDocument | AnalysisResult,
    *,
    finished_at: dt.datetime | None = None,
    webhook: deliveries.NewDelivery | None = None,
) -> Completion | None:
    """``processing → completed``, storing ``result`` (its bytes, or its reference to the
    result cache entry holding them) and, if given, the job's ``webhook`` (a row without a
    body: it is built from the stored result when sent), in one statement (one round
    trip); ``None``, and nothing stored, if the job was no longer processing.

    ``finished_at`` is the worker's clock (default: now); the caller keeps it no earlier
    than the job's ``started_at`` (the database's clock), so the webhook's ``timestamp``
    and the row's ``finished_at`` are the same instant.
    """
    at = finished_at or dt.datetime.now(dt.UTC)
    finish = (job_id, JobStatus.COMPLETED.value, None, [JobStatus.PROCESSING.value], at)
    if webhook is None:
        row = await db.fetchrow(_COMPLETE, *finish, *results.result_values(result))
        return Completion(JobRecord.from_row(row), None) if row is not None else None
    row = await db.fetchrow(
        _COMPLETE_WITH_WEBHOOK, *finish, *results.result_values(result), *webhook.values()
    )
    if row is None:
        return None
    stored = row["d_id"] is not None
    delivery = (
        DeliveryRecord.from_row({name: row[f"d_{name}"] for name in deliveries.COLUMN_NAMES})
        if stored
        else None
    )
    return Completion(JobRecord.from_row(row), delivery)


async def cancel_job(db: Executor, job_id: uuid.UUID, *, tenant: str) -> JobRecord | None:
    """``queued|processing → cancelled`` for the tenant's job; ``None`` if not cancellable."""
    return _record(
        await db.fetchrow(
            f"""UPDATE jobs SET status = 'cancelled', error = 'cancelled by the client',
                       finished_at = now(), updated_at = now()
                WHERE id = $1 AND tenant = $2 AND status IN ('queued', 'processing')
                RETURNING {COLUMNS}""",
            job_id,
            tenant,
        )
    )


async def delete_unqueued(db: Executor, job_id: uuid.UUID) -> None:
    """Remove a job whose queue entry could not be written (no orphaned ``queued`` rows)."""
    await db.execute(
        "DELETE FROM jobs WHERE id = $1 AND status = 'queued' AND attempts = 0", job_id
    )
