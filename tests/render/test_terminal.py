"""The terminal report: material changes first, and every table fits 80 columns with its
column names whole."""

from __future__ import annotations

import io
from functools import cache

from rich.console import Console

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.pipeline import analyse_documents
from riskdrift.models import AnalysisResult, FilingDocument
from riskdrift.render.terminal import HEATMAP_SHORT, KIND_SHORT, print_report
from tests.analysis.corpus_cache import consecutive_pairs, content, html_path
from tests.corpus import needs_corpus

WIDTH = 80


@cache
def analyse(ticker: str, current: int, previous: int) -> AnalysisResult:
    def doc(year: int) -> FilingDocument:
        path = html_path(ticker, year)
        return FilingDocument(ticker, year, content(path), str(path), "local")

    return analyse_documents(doc(current), doc(previous), load_lexicon(None))


def render(result: AnalysisResult, width: int = WIDTH) -> str:
    console = Console(
        width=width, record=True, file=io.StringIO(), force_terminal=False, color_system=None
    )
    print_report(result, console)
    return console.export_text()


@needs_corpus
def test_every_pair_fits_80_columns_with_whole_column_names() -> None:
    for ticker, current, previous in consecutive_pairs():
        text = render(analyse(ticker, current, previous))
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= WIDTH, ticker
        headers = " ".join(line for line in lines if line.startswith("┃"))
        assert "…" not in headers, (ticker, "a column name was cut")
        for name in ("score", "kind", "risk and what changed", "Item 1A chars", "category"):
            assert name in headers, (ticker, name)
        for name in set(HEATMAP_SHORT.values()):
            assert name in headers, (ticker, name)


@needs_corpus
def test_material_changes_come_first() -> None:
    result = analyse("NVDA", 2025, 2024)
    text = render(result)
    assert text.index("Material changes") < text.index("Filings") < text.index("Heatmap")
    top = result.material_changes[0]
    block = text[text.index("Material changes") : text.index("Filings")]
    assert f"{top.score:.2f}" in block
    assert KIND_SHORT[top.kind] in block
    first_words = " ".join((top.current or top.previous or "").split()[:4])
    assert first_words in " ".join(block.replace("│", " ").split())
