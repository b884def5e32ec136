"""Risk matching on synthetic edits of a real Item 1A, and on corpus pairs."""

from __future__ import annotations

import collections
import dataclasses

import pytest

from riskdrift.analysis.matching import match_risks
from riskdrift.analysis.risks import RiskFactor
from tests.analysis.corpus_cache import html_path, parsed
from tests.corpus import needs_corpus


def _reword(risk: RiskFactor) -> RiskFactor:
    sentences = risk.body.split(". ")
    half = len(sentences) // 2
    body = ". ".join(sentences[:half]) + ". In addition, recent developments increased this risk."
    return dataclasses.replace(risk, title=risk.title.replace("could", "may"), body=body)


@needs_corpus
def test_synthetic_edits_of_a_real_item_1a() -> None:
    previous = list(parsed(html_path("TSLA", 2023)).risks)
    deleted = {3, 17}
    reworded = {5, 20}
    current = [
        _reword(r) if i in reworded else r for i, r in enumerate(previous) if i not in deleted
    ]
    inserted = [
        RiskFactor("Our lunar mining venture may fail to find water ice.", "Body " * 50, None, 0),
        RiskFactor(
            "Alien regulators could ban our spaceships from Jupiter's moons.",
            "Jurisdiction over moons is unclear and fees could be imposed. " * 10,
            None,
            0,
        ),
    ]
    current = inserted[:1] + current + inserted[1:]
    current.reverse()  # reordering must not matter
    pairs = match_risks(current, previous)
    status = collections.Counter(p.status for p in pairs)
    assert status == {
        "new": 2,
        "removed": 2,
        "modified": 2,
        "unchanged": len(previous) - 4,
    }
    by_current = {current[p.current].title: p for p in pairs if p.current is not None}
    for i in reworded:
        pair = by_current[_reword(previous[i]).title]
        assert pair.status == "modified"
        assert pair.previous == i
        assert 0 < pair.text_similarity < 0.98
    removed = {p.previous for p in pairs if p.status == "removed"}
    assert removed == deleted
    for p in pairs:
        if p.status == "unchanged":
            assert current[p.current or 0] == previous[p.previous or 0]


def test_empty_sides() -> None:
    risk = RiskFactor("Our costs may rise.", "Body.", None, 0)
    assert [p.status for p in match_risks([risk], [])] == ["new"]
    assert [p.status for p in match_risks([], [risk])] == ["removed"]
    assert match_risks([], []) == []


@needs_corpus
@pytest.mark.parametrize(
    ("ticker", "current", "previous"),
    [("AAPL", 2025, 2024), ("META", 2024, 2023), ("NVDA", 2025, 2024), ("IBM", 2024, 2023)],
)
def test_consecutive_years_mostly_match(ticker: str, current: int, previous: int) -> None:
    pairs = match_risks(
        parsed(html_path(ticker, current)).risks, parsed(html_path(ticker, previous)).risks
    )
    kept = sum(1 for p in pairs if p.status in ("modified", "unchanged"))
    assert kept >= 0.8 * len(pairs)


@needs_corpus
def test_different_companies_mostly_unmatched() -> None:
    pairs = match_risks(
        parsed(html_path("AAPL", 2025)).risks, parsed(html_path("NVDA", 2025)).risks
    )
    unmatched = sum(1 for p in pairs if p.status in ("new", "removed"))
    assert unmatched >= 0.8 * len(pairs)
