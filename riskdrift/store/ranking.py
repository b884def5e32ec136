"""The completed pairs of a batch or a watchlist, as the universe ranking reads them.

One row per completed job with its result's Lazy Prices similarities and risk counts.
``material_changes`` is counted only where the result carries that list (results stored
before the materiality scorer have none: ``NULL``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg

from riskdrift.analysis.ranking import PairChange
from riskdrift.store.pool import Executor

_SELECT = """
    SELECT j.id, j.ticker, j.current_year, j.previous_year, j.created_at, j.finished_at,
           (r.document->'similarity'->>'min_edit')::double precision AS min_edit,
           (r.document->'similarity'->>'jaccard')::double precision AS jaccard,
           (r.document->'similarity'->>'cosine')::double precision AS cosine,
           r.risks_new, r.risks_removed, r.risks_modified, r.risks_unchanged,
           CASE WHEN jsonb_typeof(r.document->'material_changes') = 'array'
                THEN jsonb_array_length(r.document->'material_changes') END AS material
    FROM jobs j JOIN job_results r ON r.job_id = j.id
    WHERE j.status = 'completed' AND {condition}
    ORDER BY j.ticker, j.current_year DESC"""


def _pairs(rows: Sequence[asyncpg.Record]) -> list[PairChange]:
    return [
        PairChange(
            key=str(r["id"]),
            ticker=r["ticker"],
            current_year=r["current_year"],
            previous_year=r["previous_year"],
            min_edit=r["min_edit"],
            jaccard=r["jaccard"],
            cosine=r["cosine"],
            risks_new=r["risks_new"],
            risks_removed=r["risks_removed"],
            risks_modified=r["risks_modified"],
            risks_unchanged=r["risks_unchanged"],
            material_changes=r["material"],
        )
        for r in rows
    ]


async def batch_pairs(db: Executor, batch_id: uuid.UUID) -> list[PairChange]:
    """The batch's completed pairs."""
    return _pairs(await db.fetch(_SELECT.format(condition="j.batch_id = $1"), batch_id))


async def watchlist_pairs(db: Executor, watchlist_id: uuid.UUID, year: int) -> list[PairChange]:
    """The newest completed analysis per company that the watchlist started for fiscal
    ``year`` (a 10-K/A's analysis replaces its original's).

    Newest by creation, not by end: the watch creates a filing's job when it sees the
    filing, a year's original before its amendment, so the amendment's analysis wins even
    when the original's job, started in the same poll, happens to finish after it."""
    rows = await db.fetch(
        f"""SELECT DISTINCT ON (ticker) * FROM ({
            _SELECT.format(condition="j.watchlist_id = $1 AND j.current_year = $2")
        }) AS p ORDER BY ticker, created_at DESC""",
        watchlist_id,
        year,
    )
    return _pairs(rows)
