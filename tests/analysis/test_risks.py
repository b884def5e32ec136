"""Risk factor segmentation: counts per filing, categories, summaries skipped, plain text."""

from __future__ import annotations

import pytest

from riskdrift.analysis.document import TextBlock
from riskdrift.analysis.risks import segment_blocks
from tests.analysis.corpus_cache import EXPECTED_RISKS, html_path, parsed, text_filings
from tests.corpus import needs_corpus


def _b(text: str, bold: float = 0.0, italic: float = 0.0, lead: str = "") -> TextBlock:
    return TextBlock(text, bold=bold, italic=italic, lead=lead)


def test_headings_categories_and_summary() -> None:
    blocks = [
        _b("Intro paragraph in italics that is not a risk at all, just an introduction.", italic=1),
        _b("Summary of Risk Factors", bold=1),
        _b("Risks Related to Operations", bold=1, italic=1),
        _b("our supply may be disrupted;"),
        _b("Risks Related to Operations", bold=1),
        _b("Our suppliers may fail to deliver components on time.", bold=1, italic=1),
        _b("Body of the supplier risk."),
        _b("Table of Contents"),
        _b("12"),
        _b("More body of the supplier risk."),
        _b("We face intense competition.", bold=1, italic=1),
        _b("Competition body."),
        _b("General Risks", bold=1),
        _b("Our stock price may be volatile.", bold=1, italic=1),
        _b("Stock body."),
    ]
    risks = segment_blocks(blocks)
    assert [r.title for r in risks] == [
        "Our suppliers may fail to deliver components on time.",
        "We face intense competition.",
        "Our stock price may be volatile.",
    ]
    assert risks[0].body == "Body of the supplier risk.\nMore body of the supplier risk."
    assert [r.section for r in risks] == [
        "Risks Related to Operations",
        "Risks Related to Operations",
        "General Risks",
    ]


def test_lead_in_headings() -> None:
    lead = "Downturns Could Impact the Company’s Business:"
    blocks = [
        _b("Risks Related to Our Business", bold=1),
        *[_b(f"{lead} body {i} text that goes on.", italic=0.4, lead=lead) for i in range(4)],
    ]
    risks = segment_blocks(blocks)
    assert len(risks) == 4
    assert risks[0].title == "Downturns Could Impact the Company’s Business"
    assert risks[0].body == "body 0 text that goes on."


def test_plain_text_heuristic() -> None:
    body = "The body paragraph explains the risk at length, " * 5
    lines = [
        "Risks Related to Our Business",
        "Our results may fluctuate significantly.",
        body,
        "We depend on key suppliers, and their failure could harm us.",
        body,
        "competitive pricing pressures;",
    ]
    risks = segment_blocks([TextBlock(line) for line in lines], styled=False)
    assert [r.title for r in risks] == [
        "Our results may fluctuate significantly.",
        "We depend on key suppliers, and their failure could harm us.",
    ]
    assert risks[0].section == "Risks Related to Our Business"


@needs_corpus
@pytest.mark.parametrize(("ticker", "year"), sorted(EXPECTED_RISKS))
def test_corpus_risk_counts(ticker: str, year: int) -> None:
    filing = parsed(html_path(ticker, year))
    assert len(filing.risks) == EXPECTED_RISKS[(ticker, year)]
    assert all(r.section for r in filing.risks), "every corpus filer uses category headings"
    assert all(20 <= len(r.title) <= 650 for r in filing.risks)
    assert all(not r.title.lower().startswith("risks related") for r in filing.risks)


@needs_corpus
@pytest.mark.parametrize(("ticker", "year"), [("META", 2023), ("NVDA", 2024)])
def test_summary_bullets_are_not_risks(ticker: str, year: int) -> None:
    filing = parsed(html_path(ticker, year))
    first = filing.risks[0]
    # The first risk is the first real heading, with a full body, not a summary bullet.
    assert len(first.body) > 1000
    assert first.section is not None
    assert first.section.startswith("Risks Related to")


@needs_corpus
@pytest.mark.parametrize("path", text_filings(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_item1a_only_text_segments(path) -> None:  # type: ignore[no-untyped-def]
    from riskdrift.analysis.pipeline import parse_filing

    filing = parse_filing(path.read_bytes(), str(path))
    chars = len(filing.item1a_text)
    # Risk factors in these filings run 1,000-5,000 characters each.
    assert chars / 8000 <= len(filing.risks) <= chars / 500


def _corpus_rows() -> list[object]:
    from tests.analysis.test_corpus_counts import rows

    return [
        pytest.param(r["corpus"], r["filing"], id=f"{r['corpus']}/{r['filing']}") for r in rows()
    ]


@needs_corpus
@pytest.mark.parametrize(("corpus", "filing"), _corpus_rows())
def test_no_corpus_risk_is_a_bare_heading_or_starts_with_a_glyph(corpus: str, filing: str) -> None:
    """Every risk has a body of its own (a heading followed only by headings is a category),
    and no title or category keeps a list glyph or is the section's banner."""
    from riskdrift.analysis.pipeline import parse_filing
    from tests.corpus import CORPUS

    path = CORPUS / corpus / filing
    risks = parse_filing(path.read_bytes(), str(path)).risks
    assert all(r.body.strip() for r in risks), [r.title for r in risks if not r.body.strip()]
    assert all(r.title[:1].isalnum() or r.title[:1] in "“\"'(" for r in risks)
    sections = {r.section for r in risks if r.section}
    assert not {s for s in sections if s.casefold() in {"risk factors", "risk highlights"}}
