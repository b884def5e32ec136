"""The ``result_cache`` table: finished analyses by the filings they were computed from.

A pair already analysed with the same two filings and the same analysis engine is
answered from here (:class:`riskdrift.agent.research.ResearchAgent`). A filing is
identified by its EDGAR accession number when the source knows one, else by the
sha256 of its bytes (:func:`filing_identity`); the key also holds the ticker and the
years, because the result names them, the tone lexicon's fingerprint, and
``ENGINE_VERSION`` (:mod:`riskdrift.analysis.pipeline`: a release plus a digest of the
analysis code and data), so a new analysis version or another lexicon never sees an old
entry. Entries are upserted (a concurrent second computation of the same pair simply
replaces the first with an equal result) and read with one indexed lookup.

An entry also keeps the parsed risk texts of both filings (``risk_factors``, which the
result itself never serialises), so a job answered from the cache stores its filings'
risks for search and embeddings exactly as a computed job does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pydantic import TypeAdapter

from riskdrift.analysis import pipeline
from riskdrift.analysis.risks import RiskFactor
from riskdrift.models import AnalysisResult, FilingDocument
from riskdrift.store.pool import Executor

__all__ = ["CacheKey", "ResultCache", "filing_identity"]

_RISK_TEXTS: TypeAdapter[dict[int, tuple[RiskFactor, ...]]] = TypeAdapter(
    dict[int, tuple[RiskFactor, ...]]
)


def filing_identity(document: FilingDocument) -> str:
    """``accession:<number>`` when the source knows it, else ``sha256:<hex of the bytes>``."""
    if document.accession:
        return f"accession:{document.accession}"
    return f"sha256:{hashlib.sha256(document.content).hexdigest()}"


@dataclass(frozen=True, slots=True)
class CacheKey:
    """What a cached result was computed from."""

    engine_version: str
    lexicon: str  # Lexicon.fingerprint: another word list scores tone differently
    ticker: str
    current_year: int
    previous_year: int
    filing_current: str
    filing_previous: str

    @classmethod
    def of(
        cls,
        current: FilingDocument,
        previous: FilingDocument,
        *,
        engine_version: str,
        lexicon: str,
    ) -> CacheKey:
        return cls(
            engine_version=engine_version,
            lexicon=lexicon,
            ticker=current.ticker,
            current_year=current.year,
            previous_year=previous.year,
            filing_current=filing_identity(current),
            filing_previous=filing_identity(previous),
        )

    @property
    def digest(self) -> str:
        parts = (
            self.engine_version,
            self.lexicon,
            self.ticker,
            str(self.current_year),
            str(self.previous_year),
            self.filing_current,
            self.filing_previous,
        )
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class ResultCache:
    """Look-up and store of finished analyses over one process's pool."""

    def __init__(self, db: Executor, *, engine_version: str | None = None) -> None:
        self.db = db
        # Read when the cache is made (the process's start), so it is the running engine's.
        self.engine_version = engine_version or pipeline.ENGINE_VERSION

    def key(self, current: FilingDocument, previous: FilingDocument, *, lexicon: str) -> CacheKey:
        """The key of the pair ``current``/``previous`` scored with ``lexicon`` (its
        fingerprint) under this cache's engine version."""
        return CacheKey.of(current, previous, engine_version=self.engine_version, lexicon=lexicon)

    async def get(self, key: CacheKey) -> AnalysisResult | None:
        """The stored result with its risk texts for ``key`` (one more hit counted), or ``None``."""
        row = await self.db.fetchrow(
            """UPDATE result_cache SET hits = hits + 1, last_hit_at = now()
               WHERE cache_key = $1 AND engine_version = $2 AND risk_factors IS NOT NULL
               RETURNING result::text, risk_factors::text""",
            key.digest,
            key.engine_version,
        )
        if row is None:
            return None
        result = AnalysisResult.model_validate_json(row[0])
        result.risk_factors.update(_RISK_TEXTS.validate_json(row[1]))
        return result

    async def put(self, key: CacheKey, result: AnalysisResult) -> None:
        """Store ``result`` under ``key`` (replacing an entry of the same key)."""
        stored = result.model_copy(update={"cached": False})
        await self.db.execute(
            """INSERT INTO result_cache (cache_key, engine_version, ticker, current_year,
                                         previous_year, filing_current, filing_previous, result,
                                         risk_factors)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (cache_key) DO UPDATE SET result = EXCLUDED.result,
                                                     risk_factors = EXCLUDED.risk_factors,
                                                     created_at = now()""",
            key.digest,
            key.engine_version,
            key.ticker,
            key.current_year,
            key.previous_year,
            key.filing_current,
            key.filing_previous,
            stored.model_dump_json(),
            _RISK_TEXTS.dump_json(result.risk_factors).decode(),
        )
