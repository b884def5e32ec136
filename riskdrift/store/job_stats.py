"""Read-only figures over the ``jobs`` table for operators: the dashboard and ``/metrics``.

:mod:`riskdrift.store.jobs` holds a job's own rows and state changes; this holds the
aggregate and feed reads that :mod:`riskdrift.ops.cluster`, :mod:`riskdrift.ops.worker` and
the dashboard route (:mod:`riskdrift.api.routes_ops`) draw their figures from. Nothing
here changes a row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import asyncpg

from riskdrift.store.jobs import COLUMNS, JobRecord
from riskdrift.store.pool import Executor

STATUSES = ("queued", "processing", "completed", "failed", "cancelled")


@dataclass(frozen=True, slots=True)
class LastHour:
    """What finished in the last hour, by outcome, and the p95 end-to-end latency (seconds)
    of those that completed or failed (``None`` when none did)."""

    completed: int
    failed: int
    cancelled: int
    p95_seconds: float | None


async def job_counts(pool: asyncpg.Pool) -> tuple[dict[str, int], LastHour]:
    """All jobs by status (every status present, 0 when none), and the last hour's outcomes."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT status, count(*) AS n FROM jobs GROUP BY status")
        hour = await conn.fetchrow(
            """SELECT count(*) FILTER (WHERE status = 'completed') AS completed,
                      count(*) FILTER (WHERE status = 'failed') AS failed,
                      count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                      percentile_cont(0.95) WITHIN GROUP (
                          ORDER BY extract(epoch FROM finished_at - created_at))
                          FILTER (WHERE status IN ('completed', 'failed')) AS p95
               FROM jobs WHERE finished_at > now() - interval '1 hour'"""
        )
    by_status = dict.fromkeys(STATUSES, 0)
    by_status.update({r["status"]: int(r["n"]) for r in rows})
    assert hour is not None  # an aggregate without GROUP BY always answers one row
    return by_status, LastHour(
        completed=int(hour["completed"]),
        failed=int(hour["failed"]),
        cancelled=int(hour["cancelled"]),
        p95_seconds=float(hour["p95"]) if hour["p95"] is not None else None,
    )


#: One row per minute of the last hour, oldest first: jobs that ended in the minute (by
#: outcome), the p95 end-to-end latency of those that completed or failed, and the jobs
#: waiting (created, not yet started or ended) at the minute's end.
MINUTES_SQL = """
WITH minutes AS (
    SELECT generate_series(date_trunc('minute', now()) - interval '59 minutes',
                           date_trunc('minute', now()), interval '1 minute') AS t
), window_jobs AS (
    SELECT status, created_at, started_at, finished_at FROM jobs
    WHERE coalesce(started_at, finished_at, 'infinity') > now() - interval '61 minutes'
       OR finished_at > now() - interval '61 minutes'
)
SELECT m.t AS minute,
       count(*) FILTER (WHERE j.status = 'completed' AND j.finished_at >= m.t
                        AND j.finished_at < m.t + interval '1 minute') AS completed,
       count(*) FILTER (WHERE j.status = 'failed' AND j.finished_at >= m.t
                        AND j.finished_at < m.t + interval '1 minute') AS failed,
       percentile_cont(0.95) WITHIN GROUP (
           ORDER BY extract(epoch FROM j.finished_at - j.created_at))
           FILTER (WHERE j.status IN ('completed', 'failed') AND j.finished_at >= m.t
                   AND j.finished_at < m.t + interval '1 minute') AS p95,
       count(*) FILTER (WHERE j.created_at < m.t + interval '1 minute'
                        AND coalesce(j.started_at, j.finished_at, 'infinity')
                            >= m.t + interval '1 minute') AS waiting
FROM minutes m LEFT JOIN window_jobs j ON true
GROUP BY m.t ORDER BY m.t
"""


async def last_hour_minutes(db: Executor) -> list[asyncpg.Record]:
    """Per minute of the last hour (60 rows, oldest first): ``minute``, ``completed``,
    ``failed``, ``p95`` (seconds or NULL) and ``waiting`` (see :data:`MINUTES_SQL`)."""
    return list(await db.fetch(MINUTES_SQL))


async def recent_jobs(
    pool: asyncpg.Pool, tenant: str, *, limit: int
) -> tuple[dt.datetime, list[JobRecord]]:
    """The database's ``now()`` and the tenant's ``limit`` newest jobs, read on one
    connection, so a feed that follows with :func:`jobs_changed_since` from that ``now()``
    misses no change made after the list was read."""
    async with pool.acquire() as conn:
        now: dt.datetime = await conn.fetchval("SELECT now()")
        rows = await conn.fetch(
            f"""SELECT {COLUMNS} FROM jobs WHERE tenant = $1
                ORDER BY created_at DESC LIMIT $2""",
            tenant,
            limit,
        )
    return now, [JobRecord.from_row(r) for r in rows]


async def jobs_changed_since(
    db: Executor, tenant: str, since: dt.datetime, *, limit: int = 500
) -> list[tuple[JobRecord, dt.datetime]]:
    """The tenant's jobs updated after ``since``, oldest change first, each with its
    ``updated_at``."""
    rows = await db.fetch(
        f"""SELECT {COLUMNS}, updated_at FROM jobs
            WHERE tenant = $1 AND updated_at > $2
            ORDER BY updated_at LIMIT $3""",
        tenant,
        since,
        limit,
    )
    return [(JobRecord.from_row(r), r["updated_at"]) for r in rows]


@dataclass(frozen=True, slots=True)
class AttemptTimings:
    """A job's attempts so far and its latencies in seconds (``None`` while not reached)."""

    attempts: int
    queued: float | None  # created -> started
    end_to_end: float | None  # created -> finished


async def attempt_timings(db: Executor, job_id: uuid.UUID) -> AttemptTimings | None:
    """The job's :class:`AttemptTimings`, or ``None`` if there is no such job."""
    row = await db.fetchrow(
        """SELECT attempts, extract(epoch FROM started_at - created_at) AS queued,
                  extract(epoch FROM finished_at - created_at) AS end_to_end
           FROM jobs WHERE id = $1""",
        job_id,
    )
    if row is None:
        return None
    return AttemptTimings(
        attempts=int(row["attempts"]),
        queued=None if row["queued"] is None else float(row["queued"]),
        end_to_end=None if row["end_to_end"] is None else float(row["end_to_end"]),
    )
