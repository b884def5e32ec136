"""Locating Item 1A: table of contents and cross-references skipped, ends at the next item."""

from __future__ import annotations

import re

import pytest

from riskdrift.analysis.sections import extract_item1a
from riskdrift.errors import FilingParseError, Item1ANotFound
from tests.analysis.corpus_cache import EXPECTED_RISKS, html_path, item1a, text_filings
from tests.corpus import REAL10K, needs_corpus

SYNTHETIC = """<html><body>
<table><tr><td>Item 1A.</td><td>Risk Factors</td><td>5</td></tr>
<tr><td>Item 1B.</td><td>Unresolved Staff Comments</td><td>9</td></tr></table>
<div>Item 1. Business</div><div>We make things. See Item 1A. Risk Factors for more.</div>
<div><b>Item 1A.</b></div><div><b>Risk Factors</b></div>
<div>The body of the risk factors section, long enough to be a real section.</div>
<div>Item 1B. Unresolved Staff Comments</div><div>None.</div>
</body></html>"""


def test_body_heading_is_chosen_over_toc_and_cross_reference() -> None:
    item = extract_item1a(SYNTHETIC.encode(), "synthetic.html")
    assert item.heading == "Item 1A. Risk Factors"
    assert item.text.startswith("The body of the risk factors section")
    assert item.ended_by == "Item 1B. Unresolved Staff Comments"


def test_no_item_1a_raises_naming_the_filing() -> None:
    html = b"<html><body><div>Item 1. Business</div><div>We sell.</div></body></html>"
    with pytest.raises(Item1ANotFound, match=r"nothing\.html"):
        extract_item1a(html, "nothing.html")


def test_plain_text_item_1a() -> None:
    text = (
        "ITEM 1A.\nRISK FACTORS\nOur business may suffer.\nLong body text here.\n"
        "ITEM 2. PROPERTIES\n"
    )
    item = extract_item1a(text.encode(), "old.txt")
    assert item.text == "Our business may suffer.\nLong body text here."


@needs_corpus
@pytest.mark.parametrize(("ticker", "year"), sorted(EXPECTED_RISKS))
def test_corpus_item_1a_spans_heading_to_next_item(ticker: str, year: int) -> None:
    item = item1a(html_path(ticker, year))
    assert re.fullmatch(r"item\s*1a\.?\s*risk factors[.:]?", item.heading, re.IGNORECASE)
    assert item.ended_by is not None
    assert re.match(r"item\s*1b", item.ended_by, re.IGNORECASE)
    # The body, not the table of contents: tens of thousands of characters.
    assert len(item.text) > 30_000
    assert "Unresolved Staff Comments" not in item.text[:2000]
    assert item.metadata.fiscal_year == year


@needs_corpus
def test_tesla_10ka_has_no_item_1a() -> None:
    path = REAL10K / "TSLA" / "2024.10-KA.html"
    with pytest.raises(Item1ANotFound) as info:
        extract_item1a(path.read_bytes(), str(path))
    assert "2024.10-KA.html" in str(info.value)
    assert isinstance(info.value, FilingParseError)


@needs_corpus
@pytest.mark.parametrize("path", text_filings(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_item1a_only_text_is_read_whole(path) -> None:  # type: ignore[no-untyped-def]
    item = extract_item1a(path.read_bytes(), str(path))
    assert len(item.text) > 0.9 * len(path.read_text(encoding="utf-8")) - 200
