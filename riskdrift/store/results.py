"""The ``analysis_results`` table: results upserted by job id (re-runs are idempotent)."""

from __future__ import annotations

import uuid
from collections import Counter

from riskdrift.models import AnalysisResult
from riskdrift.store.pool import Executor


async def upsert_result(db: Executor, job_id: uuid.UUID, result: AnalysisResult) -> None:
    """Store ``result`` for ``job_id``, replacing one a previous attempt stored."""
    counts = Counter(risk.status for risk in result.risks)
    await db.execute(
        """INSERT INTO analysis_results (job_id, ticker, company, cik, current_year, previous_year,
                                         cosine, risks_new, risks_removed, risks_modified,
                                         risks_unchanged, result)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
           ON CONFLICT (job_id) DO UPDATE SET
               company = EXCLUDED.company, cik = EXCLUDED.cik, cosine = EXCLUDED.cosine,
               risks_new = EXCLUDED.risks_new, risks_removed = EXCLUDED.risks_removed,
               risks_modified = EXCLUDED.risks_modified,
               risks_unchanged = EXCLUDED.risks_unchanged,
               result = EXCLUDED.result, updated_at = now()""",
        job_id,
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
