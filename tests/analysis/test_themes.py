"""Emerging and fading themes: counts a reader can reproduce by searching the filings."""

from __future__ import annotations

import re
from functools import cache

import pytest

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.pipeline import DriftReport, compare_filings, score_risks
from riskdrift.analysis.themes import count_terms, find_themes
from tests.analysis.corpus_cache import consecutive_pairs, html_path, parsed
from tests.corpus import needs_corpus


def test_a_new_phrase_emerges_and_a_dropped_one_fades() -> None:
    previous = (
        "Our indebtedness could limit us. The notes mature in 2026. Our indebtedness grows. "
        "We may refinance the notes. Holders of the notes may sue. Our indebtedness is large."
    )
    current = (
        "New export controls restrict sales. Export controls may widen. The export controls "
        "apply to China. Generative AI may change demand. Generative AI models need chips. "
        "Generative AI is new."
    )
    themes = find_themes(
        count_terms(current, [(0, current)]), count_terms(previous, [(1, previous)])
    )
    emerging = {t.term: t for t in themes.emerging}
    assert emerging["export controls"].count_current == 3
    assert emerging["export controls"].count_previous == 0
    assert emerging["export controls"].risks_current == [0]
    assert emerging["generative ai"].count_current == 3
    assert "export" not in emerging  # inside "export controls" every time it is used
    fading = {t.term: t for t in themes.fading}
    assert fading["indebtedness"].count_previous == 3
    assert fading["indebtedness"].risks_previous == [1]
    assert fading["notes"].count_previous == 3
    # Stop words and generic risk vocabulary never make a theme on their own.
    assert not {"may", "could", "our", "adversely"} & (set(emerging) | set(fading))


@cache
def _report(ticker: str, current: int, previous: int) -> DriftReport:
    lexicon = load_lexicon(None)
    cur, prev = parsed(html_path(ticker, current)), parsed(html_path(ticker, previous))
    return compare_filings(
        cur, prev, score_risks(cur.risks, lexicon), score_risks(prev.risks, lexicon)
    )


def _occurrences(term: str, text: str, *, stem: bool = False) -> int:
    """How often a reader's search finds ``term`` in ``text``: the words as spelled, plus up
    to three letters ("controls", "tariffs"); with ``stem``, from the word's first letters
    ("remed" finds remedy and remedies)."""
    words = [
        re.escape(w[: max(3, len(w) - 3)]) + r"\w*" if stem else re.escape(w) + r"\w{0,3}"
        for w in term.split()
    ]
    return len(re.findall(r"\b" + r"[\s\-]+".join(words) + r"\b", text, re.IGNORECASE))


@needs_corpus
@pytest.mark.parametrize(("ticker", "current", "previous"), consecutive_pairs())
def test_themes_can_be_found_by_searching_the_filings(
    ticker: str, current: int, previous: int
) -> None:
    report = _report(ticker, current, previous)
    cur = parsed(html_path(ticker, current)).item1a_text
    prev = parsed(html_path(ticker, previous)).item1a_text
    for theme in report.themes.emerging:
        assert theme.count_current >= 3
        assert theme.count_previous <= 0.2 * theme.count_current
        assert _occurrences(theme.term, cur) >= 1, theme.term
        assert _occurrences(theme.term, cur) <= theme.count_current + 2, theme.term
        assert theme.risks_current, theme.term
        for row in theme.risks_current:
            risk = report.changes[row]
            text = f"{risk.title_current}\n{risk.text_current}"
            assert _occurrences(theme.term, text, stem=True) >= 1, (theme.term, row)
    for theme in report.themes.fading:
        assert theme.count_previous >= 3
        assert _occurrences(theme.term, prev) >= 1, theme.term


@needs_corpus
def test_nvidia_2025_themes_and_changes() -> None:
    """Export controls: the AI Diffusion rule emerged; the notes and indebtedness faded."""
    report = _report("NVDA", 2025, 2024)
    emerging = {t.term: t for t in report.themes.emerging}
    assert "ai diffusion ifr" in emerging
    assert emerging["ai diffusion ifr"].count_previous == 0
    fading = {t.term for t in report.themes.fading}
    assert "indebtedness" in fading

    export = next(
        r for r in report.changes if r.title_current and r.title_current.startswith(
            "We are subject to complex laws, rules, regulations"
        )
    )  # fmt: skip
    assert export.status == "modified"
    assert export.changes is not None
    added = " ".join(s.text for s in export.changes.added)
    assert "AI Diffusion" in added
    assert "export" in added.lower()

    removed = next(r for r in report.changes if r.status == "removed")
    assert removed.title_previous is not None
    assert removed.title_previous.startswith("Our indebtedness could adversely affect")
    assert removed.changes is not None
    assert removed.changes.added == []
    assert removed.changes.removed
    assert removed.text_previous is not None
    body = " ".join(removed.text_previous.split())
    assert all(s.text in body for s in removed.changes.removed)
