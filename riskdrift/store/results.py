"""The ``analysis_results`` table: one row per completed job, keyed by its id.

A result is stored by the statement that completes its job
(:func:`riskdrift.store.jobs.complete_job`, which embeds :func:`insert_sql`
and passes :func:`result_values`), so a job has a result row exactly when it
completed. A job that completes again (after a manual reset) replaces its row.
"""

from __future__ import annotations

import uuid
from collections import Counter

from riskdrift.models import AnalysisResult
from riskdrift.store.pool import Executor

# The columns after job_id, in the order of result_values().
RESULT_COLUMNS = (
    "ticker", "company", "cik", "current_year", "previous_year", "cosine",
    "risks_new", "risks_removed", "risks_modified", "risks_unchanged", "result",
)  # fmt: skip


def result_values(result: AnalysisResult) -> tuple[object, ...]:
    """What ``result`` stores in :data:`RESULT_COLUMNS`, in their order."""
    counts = Counter(risk.status for risk in result.risks)
    return (
        result.ticker,
        result.company,
        result.cik,
        result.years[0],
        result.years[1],
        result.similarity.cosine,
        counts["new"],
        counts["removed"],
        counts["modified"],
        counts["unchanged"],
        result.model_dump_json(),
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
        "SELECT result::text FROM analysis_results WHERE job_id = $1", job_id
    )
    return raw


async def get_result(db: Executor, job_id: uuid.UUID) -> AnalysisResult | None:
    """The stored result as a model."""
    raw = await get_result_json(db, job_id)
    return AnalysisResult.model_validate_json(raw) if raw is not None else None
