"""Each corpus file is read and parsed once per test session."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from riskdrift.analysis.pipeline import ParsedFiling, parse_filing
from riskdrift.analysis.sections import Item1A, extract_item1a
from tests.corpus import ITEM1A_ONLY, REAL10K

#: Risk factors per filing, counted by hand: the bold / bold-italic heading paragraphs
#: (IBM: italic lead-ins) of the body's Item 1A, minus the filer's category headings,
#: its introduction and its risk-factor summary. See docs/ANALYSIS.md.
EXPECTED_RISKS: dict[tuple[str, int], int] = {
    ("AAPL", 2024): 28,
    ("AAPL", 2025): 27,
    ("AMZN", 2023): 24,
    ("AMZN", 2024): 24,
    ("HD", 2023): 25,
    ("HD", 2024): 25,
    ("IBM", 2023): 26,
    ("IBM", 2024): 26,
    ("META", 2023): 48,
    ("META", 2024): 48,
    ("NVDA", 2023): 25,
    ("NVDA", 2024): 24,
    ("NVDA", 2025): 23,
    ("TSLA", 2023): 40,
    ("TSLA", 2024): 40,
    ("WMT", 2024): 23,
    ("WMT", 2025): 24,
}


def html_path(ticker: str, year: int) -> Path:
    return REAL10K / ticker / f"{year}.html"


@cache
def content(path: Path) -> bytes:
    return path.read_bytes()


@cache
def item1a(path: Path) -> Item1A:
    return extract_item1a(content(path), str(path))


@cache
def parsed(path: Path) -> ParsedFiling:
    return parse_filing(content(path), str(path))


def consecutive_pairs() -> list[tuple[str, int, int]]:
    """(ticker, current, previous) for every consecutive-year pair in the HTML corpus."""
    pairs = []
    for ticker, year in sorted(EXPECTED_RISKS):
        if (ticker, year + 1) in EXPECTED_RISKS:
            pairs.append((ticker, year + 1, year))
    return pairs


def text_filings() -> list[Path]:
    return sorted(ITEM1A_ONLY.glob("*/*.item1a.txt")) if ITEM1A_ONLY.is_dir() else []
