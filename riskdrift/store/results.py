"""The ``analysis_results`` table: one row per completed job, keyed by its id.

A result is stored by the statement that completes its job
(:func:`riskdrift.store.jobs.complete_job`, which embeds :func:`insert_sql`
and passes :func:`result_values`), so a job has a result row exactly when it
completed. A job that completes again (after a manual reset) replaces its row.

The row holds the result's bytes only when no result cache entry does: a result the
cache holds is referenced (``cache_key``), never copied (migration 013). Reads go
through the ``job_results`` view, which finds the bytes wherever they are.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from riskdrift.models import AnalysisResult
from riskdrift.store.pool import Executor
from riskdrift.store.result_document import ResultDocument

# The columns after job_id, in the order of result_values().
RESULT_COLUMNS = (
    "ticker", "company", "cik", "current_year", "previous_year", "cosine",
    "risks_new", "risks_removed", "risks_modified", "risks_unchanged", "result",
    "cache_key", "cached",
)  # fmt: skip


def result_values(result: ResultDocument | AnalysisResult) -> tuple[object, ...]:
    """What ``result`` stores in :data:`RESULT_COLUMNS`, in their order: its bytes as they
    are, or only the reference to the cache entry that holds them."""
    doc = result if isinstance(result, ResultDocument) else ResultDocument.of(result)
    return (
        doc.ticker,
        doc.company,
        doc.cik,
        doc.years[0],
        doc.years[1],
        doc.cosine,
        doc.counts["new"],
        doc.counts["removed"],
        doc.counts["modified"],
        doc.counts["unchanged"],
        doc.json.decode() if doc.cache_key is None and doc.json is not None else None,
        doc.cache_key,
        doc.cached,
    )


def insert_sql(jobs: str, *, first_param: int) -> str:
    """An INSERT of a result row for each row of ``jobs`` (any relation with an ``id``
    column, e.g. a CTE's name), the other columns from ``$first_param`` onwards
    (:func:`result_values`); a row a previous attempt stored is replaced."""
    params = ", ".join(f"${first_param + i}" for i in range(len(RESULT_COLUMNS)))
    replace = ", ".join(f"{column} = EXCLUDED.{column}" for column in RESULT_COLUMNS)
    return f"""INSERT INTO analysis_results (job_id, {", ".join(RESULT_COLUMNS)})
               SELECT id, {params} FROM {jobs}
               ON CONFLICT (job_id) DO UPDATE SET {replace}, updated_at = now()"""


async def get_result_json(db: Executor, job_id: uuid.UUID) -> str | None:
    """The stored result as its JSON text (sent as-is, no re-serialisation)."""
    raw: str | None = await db.fetchval(
        "SELECT result::text FROM job_results WHERE job_id = $1", job_id
    )
    return raw


@dataclass(frozen=True, slots=True)
class WebhookSource:
    """What a completed job's webhook is built from: its row's facts, and its stored
    result's JSON (``None`` for a thin webhook)."""

    ticker: str
    years: tuple[int, int]
    summary: str
    counts: dict[str, int]
    finished_at: dt.datetime
    result_json: bytes | None


async def webhook_source(db: Executor, job_id: uuid.UUID) -> WebhookSource | None:
    """The completed job's webhook source, or ``None`` if it has no stored result."""
    row = await db.fetchrow(
        """SELECT r.ticker, r.current_year, r.previous_year, r.document->>'summary' AS summary,
                  r.risks_new, r.risks_removed, r.risks_modified, r.risks_unchanged,
                  j.finished_at,
                  CASE WHEN j.callback_payload = 'full' THEN r.result::text END AS result
           FROM jobs j JOIN job_results r ON r.job_id = j.id
           WHERE j.id = $1 AND j.status = 'completed'""",
        job_id,
    )
    if row is None:
        return None
    return WebhookSource(
        ticker=row["ticker"],
        years=(row["current_year"], row["previous_year"]),
        summary=row["summary"],
        counts={
            "new": row["risks_new"],
            "removed": row["risks_removed"],
            "modified": row["risks_modified"],
            "unchanged": row["risks_unchanged"],
        },
        finished_at=row["finished_at"],
        result_json=row["result"].encode() if row["result"] is not None else None,
    )


async def has_result(db: Executor, job_id: uuid.UUID) -> bool:
    """Whether the job has a stored result."""
    found: bool = await db.fetchval(
        "SELECT EXISTS (SELECT FROM analysis_results WHERE job_id = $1)", job_id
    )
    return found


async def get_result(db: Executor, job_id: uuid.UUID) -> AnalysisResult | None:
    """The stored result as a model."""
    raw = await get_result_json(db, job_id)
    return AnalysisResult.model_validate_json(raw) if raw is not None else None
