"""Filings, their risk factors, and risk embeddings: storage and similarity search.

- :func:`store_filing` upserts a filing by ``(ticker, year)`` and replaces its
  risks only when their text changed, so re-running an analysis is idempotent
  (and keeps the embeddings already made); :func:`link_job` records which
  analysis used the filing — search shows a tenant only its own jobs' filings.
- :func:`pending_risks` / :func:`store_embeddings` let the embeddings task
  skip risks already embedded with the same model.
- :func:`search` ranks stored risks by cosine similarity to a query vector.
  Vectors are unit length, so cosine is a dot product: pgvector's ``<#>``
  (negative inner product) when the column is ``vector``, a SQL ``unnest``
  sum over the ``real[]`` column otherwise. :func:`vector_storage` tells which.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from riskdrift.analysis.risks import RiskFactor
from riskdrift.analysis.taxonomy import categorise
from riskdrift.store.pool import Connection, Executor

__all__ = [
    "PendingRisk",
    "RiskHit",
    "VectorStorage",
    "link_job",
    "pending_risks",
    "search",
    "store_embeddings",
    "store_filing",
    "vector_storage",
]


@dataclass(frozen=True, slots=True)
class VectorStorage:
    """How the ``embedding`` column stores vectors: ``pgvector`` (in ``schema``) or ``array``."""

    kind: Literal["pgvector", "array"]
    schema: str | None = None


@dataclass(frozen=True, slots=True)
class PendingRisk:
    """A risk factor still to be embedded with some model."""

    id: int
    title: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}" if self.body else self.title


@dataclass(frozen=True, slots=True)
class RiskHit:
    """One search result."""

    risk_id: int
    ticker: str
    company: str
    year: int
    title: str
    section: str | None
    category: str
    excerpt: str
    score: float


def _content_hash(risks: Sequence[RiskFactor]) -> str:
    payload = json.dumps([[r.title, r.section, r.body] for r in risks], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()


async def store_filing(
    conn: Connection,
    *,
    ticker: str,
    year: int,
    company: str,
    form: str | None,
    accession: str | None,
    risks: Sequence[RiskFactor],
) -> tuple[int, bool]:
    """Upsert a filing and its risks; returns ``(filing_id, risks_replaced)``.

    Run inside a transaction. Risks (and so their embeddings) are replaced only
    when their text differs from what is stored.
    """
    digest = _content_hash(risks)
    row = await conn.fetchrow(
        """INSERT INTO filings (ticker, year, company, form, accession, content_hash, risk_count)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (ticker, year) DO UPDATE SET
               company = EXCLUDED.company, form = EXCLUDED.form,
               accession = COALESCE(EXCLUDED.accession, filings.accession), updated_at = now()
           RETURNING id, content_hash, (xmax = 0) AS inserted""",
        ticker,
        year,
        company,
        form,
        accession,
        digest,
        len(risks),
    )
    assert row is not None
    filing_id: int = row["id"]
    if not row["inserted"] and row["content_hash"] == digest:
        return filing_id, False
    await conn.execute("DELETE FROM risk_factors WHERE filing_id = $1", filing_id)
    await conn.executemany(
        """INSERT INTO risk_factors (filing_id, position, title, section, category, body)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [
            (filing_id, i, r.title, r.section, categorise(r.title, r.body, r.section), r.body)
            for i, r in enumerate(risks)
        ],
    )
    await conn.execute(
        "UPDATE filings SET content_hash = $2, risk_count = $3 WHERE id = $1",
        filing_id,
        digest,
        len(risks),
    )
    return filing_id, True


async def link_job(db: Executor, job_id: uuid.UUID, filing_id: int) -> None:
    """Record that ``job_id``'s analysis used ``filing_id`` (idempotent)."""
    await db.execute(
        "INSERT INTO job_filings (job_id, filing_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        job_id,
        filing_id,
    )


async def vector_storage(db: Executor) -> VectorStorage:
    """Which column type migration 004 chose for ``risk_embeddings.embedding``."""
    row = await db.fetchrow(
        """SELECT t.typname, n.nspname
             FROM pg_attribute a
             JOIN pg_type t ON t.oid = a.atttypid
             JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE a.attrelid = 'risk_embeddings'::regclass AND a.attname = 'embedding'"""
    )
    if row is not None and row["typname"] == "vector":
        return VectorStorage("pgvector", row["nspname"])
    return VectorStorage("array")


async def pending_risks(db: Executor, filing_id: int, model: str) -> list[PendingRisk]:
    """The filing's risks with no embedding of ``model`` yet, in filing order."""
    rows = await db.fetch(
        """SELECT r.id, r.title, r.body FROM risk_factors r
            WHERE r.filing_id = $1
              AND NOT EXISTS (SELECT 1 FROM risk_embeddings e
                               WHERE e.risk_id = r.id AND e.model = $2)
            ORDER BY r.position""",
        filing_id,
        model,
    )
    return [PendingRisk(r["id"], r["title"], r["body"]) for r in rows]


def _vector_literal(vector: npt.NDArray[np.float32]) -> str:
    return "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"


async def store_embeddings(
    db: Executor,
    storage: VectorStorage,
    model: str,
    risk_ids: Sequence[int],
    vectors: npt.NDArray[np.float32],
) -> None:
    """Insert one vector per risk; a vector already stored for ``(risk, model)`` is kept."""
    if storage.kind == "pgvector":
        cast = f'$4::text::"{storage.schema}".vector'
        values: list[object] = [_vector_literal(v) for v in vectors]
    else:
        cast = "$4::real[]"
        values = [v.tolist() for v in vectors]
    await db.executemany(
        f"""INSERT INTO risk_embeddings (risk_id, model, dimensions, embedding)
            VALUES ($1, $2, $3, {cast})
            ON CONFLICT (risk_id, model) DO NOTHING""",
        [
            (risk_id, model, int(vectors.shape[1]), value)
            for risk_id, value in zip(risk_ids, values, strict=True)
        ],
    )


async def search(
    db: Executor,
    storage: VectorStorage,
    query: npt.NDArray[np.float32],
    *,
    model: str,
    tenant: str | None,
    ticker: str | None = None,
    year: int | None = None,
    limit: int = 10,
) -> list[RiskHit]:
    """The stored risks most similar to ``query`` (a unit vector of ``model``), best first.

    ``tenant`` restricts results to filings used by that tenant's analyses;
    ``None`` searches everything (operators only).
    """
    if storage.kind == "pgvector":
        ext = f'"{storage.schema}"'
        score = f"-(e.embedding OPERATOR({ext}.<#>) $1::text::{ext}.vector)"
        vector: object = _vector_literal(query)
    else:
        score = "(SELECT sum(a * b) FROM unnest(e.embedding, $1::real[]) AS v(a, b))"
        vector = query.tolist()
    rows = await db.fetch(
        f"""SELECT r.id, f.ticker, f.company, f.year, r.title, r.section, r.category,
                   left(r.body, 300) AS excerpt, {score} AS score
              FROM risk_embeddings e
              JOIN risk_factors r ON r.id = e.risk_id
              JOIN filings f ON f.id = r.filing_id
             WHERE e.model = $2 AND e.dimensions = $3
               AND ($4::text IS NULL OR f.ticker = $4)
               AND ($5::integer IS NULL OR f.year = $5)
               AND ($6::text IS NULL OR EXISTS (
                       SELECT 1 FROM job_filings jf JOIN jobs j ON j.id = jf.job_id
                        WHERE jf.filing_id = f.id AND j.tenant = $6))
             ORDER BY score DESC, r.id
             LIMIT $7""",
        vector,
        model,
        int(query.shape[0]),
        ticker,
        year,
        tenant,
        limit,
    )
    return [
        RiskHit(
            risk_id=r["id"],
            ticker=r["ticker"],
            company=r["company"],
            year=r["year"],
            title=r["title"],
            section=r["section"],
            category=r["category"],
            excerpt=r["excerpt"],
            score=round(float(r["score"]), 4),
        )
        for r in rows
    ]
