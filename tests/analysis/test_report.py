"""Taxonomy, heatmap, summary and the whole pure pipeline over the corpus and the samples."""

from __future__ import annotations

import collections
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.heatmap import HEATMAP_COLUMNS, build_heatmap
from riskdrift.analysis.pipeline import (
    ParsedFiling,
    analyse_documents,
    compare_filings,
    score_risks,
)
from riskdrift.analysis.sentiment import Lexicon
from riskdrift.analysis.taxonomy import CATEGORIES, OTHER, categorise
from riskdrift.models import AnalysisResult, FilingDocument, RiskChange
from tests.analysis.corpus_cache import consecutive_pairs, html_path, parsed
from tests.corpus import needs_corpus

SAMPLES = Path(__file__).resolve().parents[2] / "riskdrift" / "samples" / "filings" / "ACME"


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    return load_lexicon(None)


def _document(path: Path, ticker: str, year: int) -> FilingDocument:
    return FilingDocument(ticker, year, path.read_bytes(), str(path), "local")


def _result(
    ticker: str, current: ParsedFiling, previous: ParsedFiling, years: tuple[int, int]
) -> AnalysisResult:
    from riskdrift.analysis.pipeline import assemble_result

    report = compare_filings(
        current,
        previous,
        score_risks(current.risks, lexicon()),
        score_risks(previous.risks, lexicon()),
    )
    docs = [FilingDocument(ticker, y, b"", "x", "local") for y in years]
    return assemble_result(docs[0], docs[1], current, previous, report, lexicon())


def _numbers(value: Any) -> set[str]:
    """Every number in a result, as the summary may print it."""
    found: set[str] = set()
    if isinstance(value, bool) or value is None:
        return found
    if isinstance(value, int | float):
        found.update(
            {str(value), f"{value:.2f}", str(int(value)) if float(value).is_integer() else ""}
        )
    elif isinstance(value, dict):
        for v in value.values():
            found |= _numbers(v)
    elif isinstance(value, list):
        for v in value:
            found |= _numbers(v)
    return found - {""}


def assert_summary_backed(result: AnalysisResult) -> None:
    known = _numbers(result.model_dump(mode="python"))
    known |= {str(len(result.risks))}
    for status in ("new", "removed", "modified", "unchanged"):
        known.add(str(sum(1 for r in result.risks if r.status == status)))
    # A quotation backs a sentence too (tests/analysis/test_summary.py checks it is verbatim).
    bare = [re.sub(r"“[^”]*”", "Q", p) for p in (result.summary, *result.recommendations)]
    sentences = [s for p in bare for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", p)]
    for sentence in sentences:
        figures = re.findall(r"-?\d+(?:\.\d+)?", sentence)
        assert "Q" in sentence or any(f in known for f in figures), f"unbacked: {sentence}"


def test_taxonomy_prefers_a_single_named_section() -> None:
    assert categorise("Anything at all.", "", "Financial Risks") == "financial/liquidity"
    assert categorise(
        "A breach of our systems could harm us.", "", "Risks Related to Our Business"
    ) == ("cybersecurity/privacy")
    assert categorise("Something odd.", "Nothing matches here.") == OTHER
    assert OTHER in CATEGORIES
    assert len(CATEGORIES) == 13


def test_heatmap_counts() -> None:
    def change(status: str, category: str, delta: float | None, drift: float) -> RiskChange:
        return RiskChange(
            status=status,  # type: ignore[arg-type]
            category=category,
            title_current="t",
            title_previous="t",
            text_similarity=1 - drift,
            sentiment_current=None,
            sentiment_previous=None,
            sentiment_delta=delta,
            drift_score=drift,
        )

    heatmap = build_heatmap(
        [
            change("new", "competition", None, 1.0),
            change("modified", "competition", -0.2, 0.4),
            change("removed", "people", None, 1.0),
        ]
    )
    assert heatmap.columns == HEATMAP_COLUMNS
    assert heatmap.rows == ["competition", "people"]
    assert heatmap.values[0] == [1.0, 2.0, 1.0, 0.0, 1.0, -0.2, 0.7]
    assert heatmap.values[1] == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0]


def test_sample_filings_pipeline() -> None:
    result = analyse_documents(
        _document(SAMPLES / "2024.html", "ACME", 2024),
        _document(SAMPLES / "2023.html", "ACME", 2023),
        lexicon(),
    )
    status = collections.Counter(r.status for r in result.risks)
    assert status == {"new": 2, "removed": 1, "modified": 3, "unchanged": 6}
    assert [f.risk_count for f in result.filings] == [11, 10]
    assert result.company == "ACME Anvil & Rocket Corporation"
    assert result.cik == "0009999999"
    assert result.filings[0].period_end is not None
    assert result.method["lexicon"] == lexicon().name
    assert {r.category for r in result.risks if r.status == "new"} == {
        "regulatory/legal",
        "climate/ESG",
    }
    assert_summary_backed(result)


@needs_corpus
@pytest.mark.parametrize(("ticker", "current", "previous"), consecutive_pairs())
def test_corpus_consecutive_pairs(ticker: str, current: int, previous: int) -> None:
    result = _result(
        ticker,
        parsed(html_path(ticker, current)),
        parsed(html_path(ticker, previous)),
        (current, previous),
    )
    kept = sum(1 for r in result.risks if r.status in ("modified", "unchanged"))
    assert kept >= 0.8 * len(result.risks)
    assert result.similarity.cosine > 0.9
    assert all(0 <= v <= 1 for v in result.similarity.model_dump().values())
    assert all(0 <= r.drift_score <= 1 and 0 <= r.text_similarity <= 1 for r in result.risks)
    assert all(-1 <= (r.sentiment_current or 0) <= 1 for r in result.risks)
    assert sum(row[1] for row in result.heatmap.values) == result.filings[0].risk_count
    assert sum(row[0] for row in result.heatmap.values) == result.filings[1].risk_count
    assert_summary_backed(result)
    AnalysisResult.model_validate_json(result.model_dump_json())


@needs_corpus
def test_two_companies_are_mostly_new_and_removed() -> None:
    result = _result(
        "AAPL", parsed(html_path("AAPL", 2025)), parsed(html_path("WMT", 2025)), (2025, 2024)
    )
    unmatched = sum(1 for r in result.risks if r.status in ("new", "removed"))
    assert unmatched >= 0.8 * len(result.risks)
    assert result.similarity.jaccard < 0.5
    assert_summary_backed(result)
