"""The summary speaks about content, and every sentence is grounded in the result."""

from __future__ import annotations

import re

import pytest

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.pipeline import analyse_documents
from riskdrift.models import AnalysisResult, FilingDocument
from tests.analysis.corpus_cache import consecutive_pairs, content, html_path
from tests.corpus import needs_corpus

QUOTE = re.compile(r"“([^”]*)”")
NUMBER = re.compile(r"[+\-−]?\d+(?:\.\d+)?")


def analyse(ticker: str, current: int, previous: int) -> AnalysisResult:
    def doc(year: int) -> FilingDocument:
        path = html_path(ticker, year)
        return FilingDocument(ticker, year, content(path), str(path), "local")

    return analyse_documents(doc(current), doc(previous), load_lexicon(None))


def _texts(result: AnalysisResult) -> str:
    parts = (
        [t.term for t in (result.themes.emerging + result.themes.fading)] if result.themes else []
    )
    for r in result.risks:
        parts += [r.title_current or "", r.title_previous or "", r.text_current or ""]
        parts += [r.text_previous or ""]
    return " ".join(" ".join(parts).split())


def _numbers(result: AnalysisResult) -> set[str]:
    """Every figure of the result as the summary may print it."""
    found: set[str] = set()

    def add(value: float | int) -> None:
        found.update({str(value), f"{value:.2f}", f"{value:+.2f}", f"{abs(value):.2f}"})
        if float(value).is_integer():
            found.add(str(int(value)))

    for f in result.filings:
        add(f.year)
        add(f.risk_count)
    for value in result.similarity.model_dump().values():
        add(value)
    for r in result.risks:
        for value in (r.drift_score, r.text_similarity):
            add(value)
    for row in result.heatmap.values:
        for value in row:
            add(value)
    for status in ("new", "removed", "modified", "unchanged"):
        add(sum(1 for r in result.risks if r.status == status))
    if result.themes:
        for t in result.themes.emerging + result.themes.fading:
            add(t.count_current)
            add(t.count_previous)
    return found


@needs_corpus
@pytest.mark.parametrize(("ticker", "current", "previous"), consecutive_pairs())
def test_every_sentence_carries_a_figure_or_quotation_from_the_result(
    ticker: str, current: int, previous: int
) -> None:
    result = analyse(ticker, current, previous)
    texts, numbers = _texts(result), _numbers(result)
    for prose in [result.summary, *result.recommendations]:
        for quoted in QUOTE.findall(prose):
            assert quoted.removesuffix(" …") in texts, quoted
        bare = QUOTE.sub("Q", prose)
        for number in NUMBER.findall(bare):
            assert number.replace("−", "-") in numbers, (number, prose)
        for sentence in re.split(r"(?<=\.)\s+(?=[A-Z0-9])", bare):
            assert "Q" in sentence or NUMBER.search(sentence), sentence


@needs_corpus
def test_nvidia_summary_names_what_changed() -> None:
    result = analyse("NVDA", 2025, 2024)
    assert "Emerging in fiscal 2025: “ai diffusion ifr” (12 mentions; none in fiscal 2024)" in (
        result.summary
    )
    assert "“indebtedness” (4 mentions in fiscal 2024; none now)" in result.summary
    assert "gone: “Our indebtedness could adversely affect" in result.summary
    assert "export controls" in result.summary
    assert any(
        r.startswith("Search the filing for “ai diffusion ifr”") for r in result.recommendations
    )
