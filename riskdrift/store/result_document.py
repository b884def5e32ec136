"""A finished analysis in its stored form: the result's JSON, serialised once, and its facts.

The analysis process serialises its :class:`~riskdrift.models.AnalysisResult` once
(:meth:`ResultDocument.of`, ``model_dump_json``) and hands the worker these bytes with
the few facts the worker's bookkeeping needs (the result row's columns, the webhook's
summary and counts, the filings to index for search), so the worker never validates
nor re-dumps the result. The bytes are stored once (a result cache entry, or the
result row when the cache is off); a job answered from the cache, or whose result the
cache took, holds a reference to that entry (``cache_key``) and no bytes of its own
(``json`` is ``None`` then). Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

from pydantic import TypeAdapter

from riskdrift.analysis.risks import RiskFactor
from riskdrift.models import AnalysisResult

__all__ = ["RISK_TEXTS", "FiledRef", "ResultDocument"]

#: The risk texts behind a result, by fiscal year, as JSON (the cache and search store them).
RISK_TEXTS: TypeAdapter[dict[int, tuple[RiskFactor, ...]]] = TypeAdapter(
    dict[int, tuple[RiskFactor, ...]]
)


@dataclass(frozen=True, slots=True)
class FiledRef:
    """One analysed filing, as search indexes it."""

    year: int
    form: str
    accession: str | None


@dataclass(frozen=True, slots=True)
class ResultDocument:
    """A result as bytes plus its facts; ``json`` (``cached`` false in it) is ``None``
    when the bytes are only in the result cache, under ``cache_key``."""

    ticker: str
    company: str
    cik: str | None
    years: tuple[int, int]
    cosine: float
    summary: str
    counts: dict[str, int]  # risks by status: new, removed, modified, unchanged
    filings: tuple[FiledRef, ...]
    json: bytes | None
    risk_texts: bytes | None = None  # RISK_TEXTS JSON; None: none known
    cached: bool = False  # answered from the result cache
    cache_key: str | None = None  # the result cache entry holding the bytes

    @classmethod
    def of(cls, result: AnalysisResult) -> ResultDocument:
        """Serialise ``result`` once (with ``cached`` false: the flag is the job's, kept
        beside the bytes) and note its facts; its risk texts too, if it has any."""
        counts = Counter(risk.status for risk in result.risks)
        stored = result if not result.cached else result.model_copy(update={"cached": False})
        return cls(
            ticker=result.ticker,
            company=result.company,
            cik=result.cik,
            years=(result.years[0], result.years[1]),
            cosine=result.similarity.cosine,
            summary=result.summary,
            counts={s: counts[s] for s in ("new", "removed", "modified", "unchanged")},
            filings=tuple(FiledRef(f.year, f.form, f.accession) for f in result.filings),
            json=stored.model_dump_json().encode(),
            risk_texts=RISK_TEXTS.dump_json(result.risk_factors),
            cached=result.cached,
        )

    def model(self) -> AnalysisResult:
        """The result as a model (validated here, once), with its risk texts and flag."""
        if self.json is None:
            raise ValueError("the result's bytes are in the result cache, not here")
        result = AnalysisResult.model_validate_json(self.json)
        if self.cached:
            result.cached = True
        if self.risk_texts is not None:
            result.risk_factors.update(RISK_TEXTS.validate_json(self.risk_texts))
        return result

    def referencing(self, cache_key: str) -> ResultDocument:
        """This result as held by the cache entry ``cache_key`` (no bytes of its own)."""
        return replace(self, json=None, cache_key=cache_key)

    def risk_factors(self) -> dict[int, tuple[RiskFactor, ...]]:
        """The risk texts by fiscal year (parsed here), empty if none are known."""
        return RISK_TEXTS.validate_json(self.risk_texts) if self.risk_texts else {}
