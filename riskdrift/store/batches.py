"""The ``batches`` table and its jobs: atomic creation, counts, listing, cancel, result rows.

A batch is a row of ``batches`` plus ordinary ``jobs`` rows that carry its id. All of them
are written by one transaction of two statements (the batch row, then every job row from
arrays through ``unnest``), so a 1,000-pair batch costs two round trips to Postgres and
either all of it exists or none of it. Counts are never stored: they are read from the
jobs (``jobs_batch`` index), so they cannot drift from the jobs' own states.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from riskdrift.errors import TenantQueueFull
from riskdrift.models import BatchResultRow, JobStatus
from riskdrift.store.paging import newest_first
from riskdrift.store.pool import Executor

COLUMNS = """id, tenant, kind, request, job_count, callback_url, idempotency_key,
             request_hash, created_at, finished_at"""


@dataclass(frozen=True, slots=True)
class Pair:
    """One analysis of a batch: ``ticker`` fiscal ``current`` against ``previous``."""

    ticker: str
    current: int
    previous: int


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One row of ``batches``."""

    id: uuid.UUID
    tenant: str
    kind: str
    request: dict[str, Any]
    job_count: int
    callback_url: str | None
    idempotency_key: str | None
    request_hash: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> BatchRecord:
        raw = row["request"]
        return cls(
            id=row["id"],
            tenant=row["tenant"],
            kind=row["kind"],
            request=json.loads(raw) if isinstance(raw, str) else raw,
            job_count=row["job_count"],
            callback_url=row["callback_url"],
            idempotency_key=row["idempotency_key"],
            request_hash=row["request_hash"],
            created_at=row["created_at"],
            finished_at=row["finished_at"],
        )


@dataclass(frozen=True, slots=True)
class NewBatch:
    """A created (or replayed) batch and its job ids in pair order."""

    batch: BatchRecord
    job_ids: list[uuid.UUID]
    created: bool


_INSERT_BATCH = f"""
    INSERT INTO batches (id, tenant, kind, request, job_count, callback_url, idempotency_key,
                         request_hash)
    VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8)
    ON CONFLICT (tenant, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING {COLUMNS}"""

# Every job row of the batch in one statement: the arrays are the pairs' columns.
_INSERT_JOBS = """
    INSERT INTO jobs (id, tenant, ticker, current_year, previous_year, batch_id)
    SELECT p.id, $2, p.ticker, p.cur, p.prev, $1
    FROM unnest($3::uuid[], $4::text[], $5::integer[], $6::integer[])
         AS p (id, ticker, cur, prev)"""

# The tenant's queued jobs, counted up to the cap and no further (jobs_tenant_queued).
_QUEUED = """SELECT count(*) FROM (SELECT 1 FROM jobs WHERE tenant = $1 AND status = 'queued'
                                   LIMIT $2) AS capped"""


async def create_batch(
    conn: asyncpg.Connection | Any,
    pairs: Sequence[Pair],
    *,
    tenant: str,
    kind: str,
    request: dict[str, Any],
    callback_url: str | None = None,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    max_queued: int | None = None,
) -> NewBatch:
    """Insert the batch and one queued job per pair in one transaction on ``conn``.

    With an idempotency key this tenant already used, nothing is inserted and the existing
    batch comes back with ``created=False``. With ``max_queued``, a batch that would take
    the tenant's queued jobs above the cap raises :class:`TenantQueueFull` and creates
    nothing (soft, as for single jobs: concurrent submissions do not see each other).
    """
    async with conn.transaction():
        if max_queued is not None:
            queued: int = await conn.fetchval(_QUEUED, tenant, max_queued)
            if queued + len(pairs) > max_queued:
                existing = (
                    await get_batch_by_key(conn, tenant, idempotency_key)
                    if idempotency_key
                    else None
                )
                if existing is None:
                    raise TenantQueueFull.of(tenant, max_queued)
                return NewBatch(existing, await job_ids(conn, existing.id), False)
        batch_id = uuid.uuid4()
        row = await conn.fetchrow(
            _INSERT_BATCH,
            batch_id,
            tenant,
            kind,
            json.dumps(request),
            len(pairs),
            callback_url,
            idempotency_key,
            request_hash,
        )
        if row is None:  # the key names an earlier batch
            existing = await get_batch_by_key(conn, tenant, idempotency_key or "")
            assert existing is not None  # a conflict means the row exists
            return NewBatch(existing, await job_ids(conn, existing.id), False)
        ids = [uuid.uuid4() for _ in pairs]
        await conn.execute(
            _INSERT_JOBS,
            batch_id,
            tenant,
            ids,
            [p.ticker for p in pairs],
            [p.current for p in pairs],
            [p.previous for p in pairs],
        )
        return NewBatch(BatchRecord.from_row(row), ids, True)


async def delete_unqueued(db: Executor, batch_id: uuid.UUID) -> None:
    """Remove a batch whose queue entries could not be written (its jobs go with it)."""
    await db.execute("DELETE FROM batches WHERE id = $1", batch_id)


async def get_batch_by_key(db: Executor, tenant: str, key: str) -> BatchRecord | None:
    """The tenant's batch submitted with Idempotency-Key ``key``, if any."""
    row = await db.fetchrow(
        f"SELECT {COLUMNS} FROM batches WHERE tenant = $1 AND idempotency_key = $2", tenant, key
    )
    return BatchRecord.from_row(row) if row is not None else None


async def get_batch(
    db: Executor, batch_id: uuid.UUID, *, tenant: str | None = None
) -> BatchRecord | None:
    """The batch, or ``None`` if it does not exist or belongs to another tenant."""
    row = await db.fetchrow(
        f"SELECT {COLUMNS} FROM batches WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)",
        batch_id,
        tenant,
    )
    return BatchRecord.from_row(row) if row is not None else None


async def job_ids(db: Executor, batch_id: uuid.UUID) -> list[uuid.UUID]:
    """The batch's job ids in the order they were created."""
    rows = await db.fetch(
        "SELECT id FROM jobs WHERE batch_id = $1 ORDER BY ticker, current_year DESC", batch_id
    )
    return [r["id"] for r in rows]


async def state_counts(db: Executor, batch_id: uuid.UUID) -> dict[JobStatus, int]:
    """How many of the batch's jobs are in each state (every state listed, 0 included)."""
    rows = await db.fetch(
        "SELECT status, count(*) AS n FROM jobs WHERE batch_id = $1 GROUP BY status", batch_id
    )
    counts = dict.fromkeys(JobStatus, 0)
    for row in rows:
        counts[JobStatus(row["status"])] = row["n"]
    return counts


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed job of a batch and its reason."""

    job_id: uuid.UUID
    ticker: str
    years: tuple[int, int]
    error: str | None


async def failures(db: Executor, batch_id: uuid.UUID, *, limit: int = 1000) -> list[Failure]:
    """The batch's failed jobs, by ticker."""
    rows = await db.fetch(
        """SELECT id, ticker, current_year, previous_year, error FROM jobs
           WHERE batch_id = $1 AND status = 'failed'
           ORDER BY ticker, current_year DESC LIMIT $2""",
        batch_id,
        limit,
    )
    return [
        Failure(r["id"], r["ticker"], (r["current_year"], r["previous_year"]), r["error"])
        for r in rows
    ]


async def list_batches(
    db: Executor, *, tenant: str, cursor: str | None = None, limit: int = 50
) -> tuple[list[BatchRecord], str | None]:
    """A page of the tenant's batches, newest first, and the next page's cursor.

    Raises ``ValueError`` on a malformed cursor.
    """
    return await newest_first(
        db, table="batches", columns=COLUMNS, conditions=["tenant = $1"], args=[tenant],
        cursor=cursor, limit=limit, from_row=BatchRecord.from_row,
    )  # fmt: skip


async def cancel_queued(db: Executor, batch_id: uuid.UUID) -> list[uuid.UUID]:
    """``queued → cancelled`` for every job of the batch not started yet; their ids."""
    rows = await db.fetch(
        """UPDATE jobs SET status = 'cancelled', error = 'batch cancelled by the client',
                  finished_at = now(), updated_at = now()
           WHERE batch_id = $1 AND status = 'queued'
           RETURNING id""",
        batch_id,
    )
    return [r["id"] for r in rows]


async def batch_of(db: Executor, job_id: uuid.UUID) -> uuid.UUID | None:
    """The batch ``job_id`` belongs to, or ``None``."""
    batch_id: uuid.UUID | None = await db.fetchval(
        "SELECT batch_id FROM jobs WHERE id = $1", job_id
    )
    return batch_id


async def first_job(db: Executor, batch_id: uuid.UUID) -> uuid.UUID:
    """The batch's first job by id: the one its ``batch.completed`` delivery row hangs off
    (every batch has jobs: :func:`create_batch` writes them with it)."""
    job_id: uuid.UUID = await db.fetchval(
        "SELECT id FROM jobs WHERE batch_id = $1 ORDER BY id LIMIT 1", batch_id
    )
    return job_id


async def mark_finished(db: Executor, batch_id: uuid.UUID) -> BatchRecord | None:
    """Set ``finished_at`` once every job of the batch has ended; the batch the first time,
    ``None`` when it was already marked or a job is still queued or running."""
    row = await db.fetchrow(
        f"""UPDATE batches SET finished_at = now()
            WHERE id = $1 AND finished_at IS NULL
              AND NOT EXISTS (SELECT FROM jobs WHERE batch_id = $1
                                                 AND status IN ('queued', 'processing'))
            RETURNING {COLUMNS}""",
        batch_id,
    )
    return BatchRecord.from_row(row) if row is not None else None


# The top drift category of a pair: the category whose changed risks (new, removed,
# modified) add up to the largest drift score; ties go to the category name.
_RESULT_ROWS = """
    SELECT j.id, j.ticker, j.current_year, j.previous_year, j.status, j.error,
           r.risks_new, r.risks_removed, r.risks_modified, r.cosine,
           (SELECT risk->>'category' FROM jsonb_array_elements(r.document->'risks') AS risk
            WHERE risk->>'status' <> 'unchanged'
            GROUP BY risk->>'category'
            ORDER BY sum((risk->>'drift_score')::double precision) DESC, risk->>'category'
            LIMIT 1) AS top_category,
           r.cached,
           (r.document->'material_changes'->0->>'score')::double precision AS top_materiality,
           r.document->'material_changes'->0->>'kind' AS top_material_kind
    FROM jobs j LEFT JOIN job_results r ON r.job_id = j.id
    WHERE j.batch_id = $1
    ORDER BY j.ticker, j.current_year DESC"""


async def result_rows(db: Executor, batch_id: uuid.UUID) -> list[BatchResultRow]:
    """One row per pair of the batch, by ticker then year."""
    return [
        BatchResultRow(
            job_id=r["id"],
            ticker=r["ticker"],
            current_year=r["current_year"],
            previous_year=r["previous_year"],
            status=r["status"],
            risks_new=r["risks_new"],
            risks_removed=r["risks_removed"],
            risks_modified=r["risks_modified"],
            similarity_cosine=r["cosine"],
            top_drift_category=r["top_category"],
            error=r["error"],
            cached=r["cached"],
            top_materiality=r["top_materiality"],
            top_material_kind=r["top_material_kind"],
        )
        for r in await db.fetch(_RESULT_ROWS, batch_id)
    ]


async def history_rows(
    db: Executor, *, tenant: str, ticker: str, first: int, last: int
) -> list[asyncpg.Record]:
    """The tenant's newest completed result per consecutive pair ``(year, year - 1)`` of
    ``ticker`` with ``first <= year - 1`` and ``year <= last``, oldest year first."""
    rows: list[asyncpg.Record] = await db.fetch(
        """SELECT DISTINCT ON (r.current_year) r.current_year, r.previous_year, r.result::text
           FROM job_results r JOIN jobs j ON j.id = r.job_id
           WHERE j.tenant = $1 AND r.ticker = $2 AND j.status = 'completed'
             AND r.previous_year = r.current_year - 1
             AND r.previous_year >= $3 AND r.current_year <= $4
           ORDER BY r.current_year, j.finished_at DESC""",
        tenant,
        ticker,
        first,
        last,
    )
    return rows
