"""The summary speaks about content, and every sentence is grounded in the result."""

from __future__ import annotations

import re

import pytest

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.pipeline import analyse_documents
from riskdrift.models import AnalysisResult, FilingDocument
from tests.analysis.corpus_cache import consecutive_pairs, content, html_path, item1a
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
    for m in result.material_changes:
        add(m.score)
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
            assert quoted.removeprefix("… ").removesuffix(" …") in texts, quoted
        bare = QUOTE.sub("Q", prose)
        for number in NUMBER.findall(bare):
            assert number.replace("−", "-") in numbers, (number, prose)
        for sentence in re.split(r"(?<=\.)\s+(?=[A-Z0-9])", bare):
            assert "Q" in sentence or NUMBER.search(sentence), sentence


@needs_corpus
@pytest.mark.parametrize(
    ("ticker", "current", "previous"),
    consecutive_pairs(),
)
def test_every_quotation_is_verbatim_in_the_filings_item_1a(
    ticker: str, current: int, previous: int
) -> None:
    """What the summary and recommendations quote is in the filing's own Item 1A (either
    year's: a dropped sentence is quoted from last year's), white space aside."""
    result = analyse(ticker, current, previous)
    sections = " ".join(
        " ".join(item1a(html_path(ticker, year)).text.split()) for year in (current, previous)
    )
    quotes = [
        q for prose in [result.summary, *result.recommendations] for q in QUOTE.findall(prose)
    ]
    themes = (
        {t.term for t in (result.themes.emerging + result.themes.fading)}
        if result.themes
        else set()
    )
    checked = 0
    for quoted in quotes:
        if quoted in themes:
            continue  # a theme is a case-folded, stemmed term, counted rather than quoted
        assert quoted.removeprefix("… ").removesuffix(" …") in sections, quoted
        checked += 1
    assert checked >= 1


@needs_corpus
@pytest.mark.parametrize(("ticker", "current", "previous"), consecutive_pairs())
def test_summary_leads_with_the_most_material_changes(
    ticker: str, current: int, previous: int
) -> None:
    result = analyse(ticker, current, previous)
    assert result.material_changes, "every corpus pair has material changes"
    top = result.material_changes[0]
    assert result.summary.startswith("The ")
    first, _, rest = result.summary.partition("(materiality ")
    text = " ".join((top.current or top.previous or top.risk_title).split())
    assert _quotes_from(first, text)
    assert rest.startswith(f"{top.score:.2f})")
    scores = [m.score for m in result.material_changes]
    assert scores == sorted(scores, reverse=True)
    assert "cosine" not in result.summary


@needs_corpus
@pytest.mark.parametrize(("ticker", "current", "previous"), consecutive_pairs())
def test_recommendations_point_at_material_changes_not_at_a_word(
    ticker: str, current: int, previous: int
) -> None:
    result = analyse(ticker, current, previous)
    assert not any(r.startswith("Search the filing") for r in result.recommendations)
    top = result.material_changes[0]
    text = " ".join((top.current or top.previous or top.risk_title).split())
    assert _quotes_from(result.recommendations[0], text)


def _quotes_from(prose: str, text: str) -> bool:
    """Whether ``prose`` quotes at least 40 characters of ``text`` verbatim."""
    return any(
        len(piece) >= 40 and piece in text
        for q in QUOTE.findall(prose)
        if (piece := q.removeprefix("… ").removesuffix(" …"))
    )


@needs_corpus
def test_nvidia_summary_names_what_changed() -> None:
    result = analyse("NVDA", 2025, 2024)
    assert "Emerging in fiscal 2025: “ai diffusion ifr” (12 mentions; none in fiscal 2024)" in (
        result.summary
    )
    assert "“indebtedness” (4 mentions in fiscal 2024; none now)" in result.summary
    assert "gone: “Our indebtedness could adversely affect" in result.summary
    # The AI Diffusion rule, published on January 15, 2025, is among the material changes quoted.
    assert "“On January 15, 2025, the USG published the “AI Diffusion” IFR" in result.summary
