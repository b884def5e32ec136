"""The ``webhook_deliveries`` and ``webhook_attempts`` tables.

One delivery row per (job, event type). A ``job.failed`` row holds its body,
serialised once when the job finished; a ``job.completed`` row holds none (``NULL``):
its body is built at each attempt from the job's one stored result
(:func:`riskdrift.webhooks.outbox.delivery_body`), the same bytes every time.
Attempts are numbered within a *series*: the first series starts when the job
finishes, each redelivery starts the next one on the same row.

Recording an attempt is one statement: the attempt row is inserted (a
duplicate run of the same attempt inserts nothing) and, only if it was, the
delivery row moves on, guarded by its series, ``pending`` status and attempt
count. So at-least-once task runs never count an attempt twice nor move a
delivery that a redelivery has superseded.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from riskdrift.store.pool import Executor

DeliveryStatus = Literal["pending", "delivered", "failed", "gone", "refused"]
AttemptOutcome = Literal["delivered", "retrying", "failed", "gone", "refused"]

# What an attempt's outcome makes of its delivery.
STATUS_AFTER: dict[AttemptOutcome, DeliveryStatus] = {
    "delivered": "delivered",
    "retrying": "pending",
    "failed": "failed",
    "gone": "gone",
    "refused": "refused",
}

COLUMNS = """id, job_id, event_type, webhook_id, callback_url, body, status, series, attempts,
             next_attempt_at, last_status_code, last_error, delivered_at, created_at,
             updated_at"""
COLUMN_NAMES = tuple(name.strip() for name in COLUMNS.split(","))


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A webhook to store for a job: by :func:`create_delivery`, or by the statement that
    finishes the job (:func:`riskdrift.store.jobs.complete_job`, with :func:`insert_sql`)."""

    event_type: str
    webhook_id: str
    callback_url: str
    body: bytes | None  # None: built from the stored result when sent

    def values(self) -> tuple[object, ...]:
        """The parameters of :func:`insert_sql`, in order."""
        return (uuid.uuid4(), self.event_type, self.webhook_id, self.callback_url, self.body)


def insert_sql(jobs: str, *, first_param: int) -> str:
    """An INSERT of a pending delivery for each row of ``jobs`` (a relation with an ``id``
    column, e.g. a CTE's name), the other columns from ``$first_param`` onwards
    (:meth:`NewDelivery.values`), returning the row; a job that has a delivery of that
    event type already keeps it, and nothing is returned for it."""
    p = [f"${first_param + i}" for i in range(5)]
    return f"""INSERT INTO webhook_deliveries (id, job_id, event_type, webhook_id, callback_url,
                                               body, next_attempt_at)
               SELECT {p[0]}, id, {p[1]}, {p[2]}, {p[3]}, {p[4]}, now() FROM {jobs}
               ON CONFLICT (job_id, event_type) DO NOTHING
               RETURNING {COLUMNS}"""


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One row of ``webhook_deliveries``."""

    id: uuid.UUID
    job_id: uuid.UUID
    event_type: str
    webhook_id: str
    callback_url: str
    body: bytes | None  # None: a job.completed body, built from the stored result when sent
    status: DeliveryStatus
    series: int
    attempts: int
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record | Mapping[str, Any]) -> DeliveryRecord:
        return cls(
            id=row["id"],
            job_id=row["job_id"],
            event_type=row["event_type"],
            webhook_id=row["webhook_id"],
            callback_url=row["callback_url"],
            body=bytes(row["body"]) if row["body"] is not None else None,
            status=row["status"],
            series=row["series"],
            attempts=row["attempts"],
            next_attempt_at=row["next_attempt_at"],
            last_status_code=row["last_status_code"],
            last_error=row["last_error"],
            delivered_at=row["delivered_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One row of ``webhook_attempts``."""

    delivery_id: uuid.UUID
    series: int
    attempt: int
    at: dt.datetime
    outcome: AttemptOutcome
    status_code: int | None
    error: str | None
    duration_ms: float
    address: str | None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> AttemptRecord:
        return cls(
            delivery_id=row["delivery_id"],
            series=row["series"],
            attempt=row["attempt"],
            at=row["at"],
            outcome=row["outcome"],
            status_code=row["status_code"],
            error=row["error"],
            duration_ms=row["duration_ms"],
            address=row["address"],
        )


def _record(row: asyncpg.Record | None) -> DeliveryRecord | None:
    return DeliveryRecord.from_row(row) if row is not None else None


async def create_delivery(
    db: Executor,
    *,
    job_id: uuid.UUID,
    event_type: str,
    webhook_id: str,
    callback_url: str,
    body: bytes | None,
) -> tuple[DeliveryRecord, bool]:
    """Insert the job's delivery of ``event_type``; returns ``(delivery, created)``.

    If the job already has one (a re-run of the job), nothing changes and the
    stored row, with its original body, comes back with ``created=False``.
    """
    new = NewDelivery(event_type, webhook_id, callback_url, body)
    row = await db.fetchrow(insert_sql("(SELECT $1::uuid AS id) AS job", first_param=2),
                            job_id, *new.values())  # fmt: skip
    if row is not None:
        return DeliveryRecord.from_row(row), True
    existing = await get_delivery(db, job_id, event_type)
    if existing is None:  # cannot happen while the job row exists (ON DELETE CASCADE)
        raise LookupError(f"delivery of {event_type} for job {job_id} vanished")
    return existing, False


async def get_delivery(db: Executor, job_id: uuid.UUID, event_type: str) -> DeliveryRecord | None:
    """The job's delivery of ``event_type``, if any."""
    return _record(
        await db.fetchrow(
            f"SELECT {COLUMNS} FROM webhook_deliveries WHERE job_id = $1 AND event_type = $2",
            job_id,
            event_type,
        )
    )


async def list_deliveries(db: Executor, job_id: uuid.UUID) -> list[DeliveryRecord]:
    """Every delivery of the job, oldest first."""
    rows = await db.fetch(
        f"""SELECT {COLUMNS} FROM webhook_deliveries WHERE job_id = $1
            ORDER BY created_at, event_type""",
        job_id,
    )
    return [DeliveryRecord.from_row(r) for r in rows]


async def list_attempts(db: Executor, job_id: uuid.UUID) -> list[AttemptRecord]:
    """Every attempt of every delivery of the job, in the order they were made."""
    rows = await db.fetch(
        """SELECT a.delivery_id, a.series, a.attempt, a.at, a.outcome, a.status_code, a.error,
                  a.duration_ms, a.address
           FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
           WHERE d.job_id = $1
           ORDER BY a.delivery_id, a.series, a.attempt""",
        job_id,
    )
    return [AttemptRecord.from_row(r) for r in rows]


async def pending_due_before(
    db: Executor, *, before: dt.datetime, limit: int
) -> list[DeliveryRecord]:
    """Pending deliveries whose next attempt was due before ``before``, most overdue first
    (read from the ``webhook_deliveries_pending`` index)."""
    rows = await db.fetch(
        f"""SELECT {COLUMNS} FROM webhook_deliveries
            WHERE status = 'pending' AND next_attempt_at < $1
            ORDER BY next_attempt_at LIMIT $2""",
        before,
        limit,
    )
    return [DeliveryRecord.from_row(r) for r in rows]


async def record_attempt(
    db: Executor,
    delivery_id: uuid.UUID,
    *,
    series: int,
    attempt: int,
    outcome: AttemptOutcome,
    duration_ms: float,
    status_code: int | None = None,
    error: str | None = None,
    address: str | None = None,
    next_attempt_at: dt.datetime | None = None,
) -> DeliveryRecord | None:
    """Record attempt ``attempt`` of ``series`` and move the delivery on, atomically.

    Returns the updated delivery, or ``None`` when nothing moved: the attempt
    was already recorded (a duplicate run), or the delivery is no longer the
    pending ``series`` at ``attempt - 1`` attempts (finished or superseded by a
    redelivery; the attempt itself is still recorded then).
    """
    row = await db.fetchrow(
        f"""WITH inserted AS (
                INSERT INTO webhook_attempts (delivery_id, series, attempt, outcome, status_code,
                                              error, duration_ms, address)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                ON CONFLICT (delivery_id, series, attempt) DO NOTHING
                RETURNING delivery_id)
            UPDATE webhook_deliveries d SET
                status = $9, attempts = $3, next_attempt_at = $10,
                last_status_code = $5, last_error = $6,
                delivered_at = CASE WHEN $9 = 'delivered' THEN now() ELSE d.delivered_at END,
                updated_at = now()
            FROM inserted
            WHERE d.id = inserted.delivery_id AND d.series = $2 AND d.status = 'pending'
              AND d.attempts = $3 - 1
            RETURNING {", ".join(f"d.{c.strip()}" for c in COLUMNS.split(","))}""",
        delivery_id,
        series,
        attempt,
        outcome,
        status_code,
        error,
        duration_ms,
        address,
        STATUS_AFTER[outcome],
        next_attempt_at,
    )
    return _record(row)


async def start_series(db: Executor, delivery_id: uuid.UUID) -> DeliveryRecord | None:
    """Begin a new attempt series (a redelivery): ``pending``, no attempts yet.

    A series still in progress is superseded: its queued attempts find the
    series number changed and do nothing.
    """
    return _record(
        await db.fetchrow(
            f"""UPDATE webhook_deliveries SET
                    series = series + 1, attempts = 0, status = 'pending', next_attempt_at = now(),
                    last_status_code = NULL, last_error = NULL, delivered_at = NULL,
                    updated_at = now()
                WHERE id = $1
                RETURNING {COLUMNS}""",
            delivery_id,
        )
    )


async def fail_delivery(
    db: Executor, delivery_id: uuid.UUID, *, series: int, error: str
) -> DeliveryRecord | None:
    """End a pending series as ``failed`` without an attempt (e.g. no secret configured)."""
    return _record(
        await db.fetchrow(
            f"""UPDATE webhook_deliveries SET status = 'failed', last_error = $3,
                       next_attempt_at = NULL, updated_at = now()
                WHERE id = $1 AND series = $2 AND status = 'pending'
                RETURNING {COLUMNS}""",
            delivery_id,
            series,
            error,
        )
    )
