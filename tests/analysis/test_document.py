"""Blocks, styles, dei metadata and unreadable input."""

from __future__ import annotations

import datetime as dt

import pytest

from riskdrift.analysis.document import html_blocks, parse_document, text_blocks
from riskdrift.errors import FilingParseError


def test_blocks_carry_style_shares_and_lead_ins() -> None:
    parsed = html_blocks(
        "<html><body>"
        '<div><span style="font-weight:700">Bold heading.</span></div>'
        '<div><span style="font-style:italic">Lead:</span><span> plain body text</span></div>'
        "<p><b>B</b> and <i>i</i> words</p>"
        "</body></html>"
    )
    texts = [b.text for b in parsed.blocks]
    assert texts == ["Bold heading.", "Lead: plain body text", "B and i words"]
    assert parsed.blocks[0].bold == 1.0
    assert parsed.blocks[1].lead == "Lead:"
    assert 0 < parsed.blocks[1].italic < 0.5
    assert parsed.blocks[2].bold < 0.2


def test_table_row_is_one_block_and_hidden_content_is_skipped() -> None:
    parsed = html_blocks(
        '<body><div style="display:none">hidden XBRL</div>'
        "<table><tr><td><div>Item 1A.</div></td><td><div>Risk Factors</div></td></tr></table>"
        "<script>var x = 1;</script></body>"
    )
    assert [b.text for b in parsed.blocks] == ["Item 1A. Risk Factors"]


def test_dei_metadata_is_read() -> None:
    parsed = html_blocks(
        '<body><div style="display:none"><ix:header>'
        '<ix:nonNumeric name="dei:EntityRegistrantName">Example Corp</ix:nonNumeric>'
        '<ix:nonNumeric name="dei:EntityCentralIndexKey">12345</ix:nonNumeric>'
        '<ix:nonNumeric name="dei:DocumentFiscalYearFocus">2024</ix:nonNumeric>'
        '<ix:nonNumeric name="dei:DocumentType">10-K</ix:nonNumeric>'
        "</ix:header></div>"
        '<div>Period <ix:nonNumeric name="dei:DocumentPeriodEndDate">September 28, 2024'
        "</ix:nonNumeric></div></body>"
    )
    meta = parsed.metadata
    assert meta.company == "Example Corp"
    assert meta.cik == "0000012345"
    assert meta.fiscal_year == 2024
    assert meta.period_end == dt.date(2024, 9, 28)
    assert meta.document_type == "10-K"


def test_text_blocks_are_lines() -> None:
    assert [b.text for b in text_blocks("a  b\n\n  c\n").blocks] == ["a b", "c"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"   \n\t ", "empty"),
        (bytes(range(256)) * 50, "binary"),
        (b"\x00\x01\x02PK\x03\x04" * 100, "binary"),
        (b"<html><body></body></html>", "no readable text"),
    ],
)
def test_unreadable_documents_raise_filing_parse_error(content: bytes, message: str) -> None:
    with pytest.raises(FilingParseError, match=message) as info:
        parse_document(content, "bad.html")
    assert info.value.filing == "bad.html"
