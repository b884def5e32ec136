"""The ``result_cache`` table: finished analyses by the filings they were computed from.

A pair already analysed with the same two filings and the same analysis engine is
answered from here (:class:`riskdrift.agent.research.ResearchAgent`). A filing is
identified by its EDGAR accession number when the source knows one, else by the
sha256 of its bytes (:func:`filing_identity`); the key also holds the ticker and the
years, because the result names them, the tone lexicon's fingerprint, and
``engine_version()`` (:mod:`riskdrift.analysis.pipeline`: a release plus a digest of the
analysis code and data), so a new analysis version or another lexicon never sees an old
entry. Entries are upserted (a concurrent second computation of the same pair simply
replaces the first with an equal result) and read with one indexed lookup.

An entry also keeps the parsed risk texts of both filings (``risk_factors``, which the
result itself never serialises), so a job answered from the cache stores its filings'
risks for search and embeddings exactly as a computed job does, and the result's facts
(``facts``: the few fields a job's row and webhook need, migration 013).

An entry is the one stored copy of its result: the job that computed it and every job
answered from it hold a reference (``analysis_results.cache_key``), never a copy.
:meth:`ResultCache.store` writes the bytes the analysis process serialised as they are;
:meth:`ResultCache.find` reads an entry's facts and risk texts, never its result.
Entries are never deleted (results refer to them).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace

from riskdrift.analysis import pipeline
from riskdrift.models import AnalysisResult, FilingDocument
from riskdrift.store.pool import Executor
from riskdrift.store.result_document import FiledRef, ResultDocument

__all__ = ["CacheKey", "ResultCache", "filing_identity"]


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
        self.engine_version = engine_version or pipeline.engine_version()

    def key(self, current: FilingDocument, previous: FilingDocument, *, lexicon: str) -> CacheKey:
        """The key of the pair ``current``/``previous`` scored with ``lexicon`` (its
        fingerprint) under this cache's engine version."""
        return CacheKey.of(current, previous, engine_version=self.engine_version, lexicon=lexicon)

    async def find(self, key: CacheKey) -> ResultDocument | None:
        """The entry for ``key`` as a reference (its facts and risk texts, not its result;
        one more hit counted), or ``None``. Entries without risk texts or facts (written
        before those columns) are misses: recomputed and replaced."""
        row = await self.db.fetchrow(
            """UPDATE result_cache SET hits = hits + 1, last_hit_at = now()
               WHERE cache_key = $1 AND engine_version = $2 AND risk_factors IS NOT NULL
                 AND facts IS NOT NULL
               RETURNING facts::text, risk_factors::text""",
            key.digest,
            key.engine_version,
        )
        if row is None:
            return None
        return _from_facts(json.loads(row[0]), cache_key=key.digest, risk_texts=row[1].encode())

    async def store(self, key: CacheKey, document: ResultDocument) -> ResultDocument:
        """Store ``document``'s bytes under ``key`` (replacing an entry of the same key);
        the document as a reference to the entry."""
        if document.json is None or document.risk_texts is None:
            raise ValueError("a cache entry needs the result's bytes and its risk texts")
        await self.db.execute(
            """INSERT INTO result_cache (cache_key, engine_version, ticker, current_year,
                                         previous_year, filing_current, filing_previous, result,
                                         risk_factors, facts)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
               ON CONFLICT (cache_key) DO UPDATE SET result = EXCLUDED.result,
                                                     risk_factors = EXCLUDED.risk_factors,
                                                     facts = EXCLUDED.facts,
                                                     created_at = now()""",
            key.digest,
            key.engine_version,
            key.ticker,
            key.current_year,
            key.previous_year,
            key.filing_current,
            key.filing_previous,
            document.json.decode(),
            document.risk_texts.decode(),
            json.dumps(_facts(document)),
        )
        return document.referencing(key.digest)

    async def result_json(self, cache_key: str) -> bytes | None:
        """The stored result of the entry ``cache_key`` (``cached`` false in it)."""
        raw: str | None = await self.db.fetchval(
            "SELECT result::text FROM result_cache WHERE cache_key = $1", cache_key
        )
        return raw.encode() if raw is not None else None

    async def get(self, key: CacheKey) -> AnalysisResult | None:
        """The stored result with its risk texts for ``key`` (one more hit counted), or ``None``."""
        found = await self.find(key)
        if found is None or found.cache_key is None:
            return None
        stored = await self.result_json(found.cache_key)
        return replace(found, json=stored, cached=False).model()

    async def put(self, key: CacheKey, result: AnalysisResult) -> None:
        """Store ``result`` under ``key`` (replacing an entry of the same key)."""
        await self.store(key, ResultDocument.of(result))


def _facts(document: ResultDocument) -> dict[str, object]:
    """What an entry keeps of its result besides the bytes (a job's row and webhook)."""
    return {
        "ticker": document.ticker,
        "company": document.company,
        "cik": document.cik,
        "years": list(document.years),
        "cosine": document.cosine,
        "summary": document.summary,
        "counts": document.counts,
        "filings": [[f.year, f.form, f.accession] for f in document.filings],
    }


def _from_facts(facts: dict[str, object], *, cache_key: str, risk_texts: bytes) -> ResultDocument:
    years = facts["years"]
    counts = facts["counts"]
    filings = facts["filings"]
    assert isinstance(years, list)
    assert isinstance(counts, dict)
    assert isinstance(filings, list)
    return ResultDocument(
        ticker=str(facts["ticker"]),
        company=str(facts["company"]),
        cik=None if facts["cik"] is None else str(facts["cik"]),
        years=(int(years[0]), int(years[1])),
        cosine=float(facts["cosine"]),  # type: ignore[arg-type]
        summary=str(facts["summary"]),
        counts={str(k): int(v) for k, v in counts.items()},
        filings=tuple(FiledRef(int(y), str(f), a) for y, f, a in filings),
        json=None,
        risk_texts=risk_texts,
        cached=True,
        cache_key=cache_key,
    )
