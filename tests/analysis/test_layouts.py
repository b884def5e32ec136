"""Risk headings in every typographic layout, and the self-checks that refuse a silent empty split.

Each pattern has a small synthetic filing in the markup the filer uses (inline
styles, as EDGAR's inline-XBRL documents carry them) and, where the shared
corpus has one, the real filing it was seen in.
"""

from __future__ import annotations

import re

import pytest

from riskdrift.analysis.document import html_blocks
from riskdrift.analysis.pipeline import cross_check, parse_filing
from riskdrift.analysis.risks import segment
from riskdrift.errors import FilingParseError, RisksNotFound
from tests.analysis.corpus_cache import EXPECTED_RISKS, content, html_path
from tests.corpus import LAYOUTS, needs_corpus

BODY = (
    "We operate in many markets and a change in any of them could reduce our revenue, "
    "raise our costs or delay our products, and the effects could last several years. "
)
UNDERLINE = "font-family:Arial;font-size:10pt;font-weight:400;text-decoration:underline"
PLAIN = "font-family:Arial;font-size:10pt;font-weight:400"
BOLD = "font-family:Arial;font-size:10pt;font-weight:700"
ITALIC = "font-family:Arial;font-size:10pt;font-style:italic"


def _filing(body: str) -> bytes:
    return (
        "<html><body>"
        '<div><span style="font-weight:700">ITEM 1A. Risk factors</span></div>'
        f"{body}"
        '<div><span style="font-weight:700">ITEM 1B. Unresolved staff comments</span></div>'
        "<div>None.</div></body></html>"
    ).encode()


def _div(style: str, text: str) -> str:
    return f'<div><span style="{style}">{text}</span></div>'


UNDERLINED_HEADINGS = [
    "Our global operations subject us to risks associated with political conditions.",
    "We face substantial competition that requires us to respond rapidly.",
    "Our margins vary.",
    "Our debt could affect our operations and financial condition.",
]


def test_underlined_headings_are_the_risks() -> None:
    """Texas Instruments: underlined sentences, bold category headings, page numbers."""
    body = _div(BOLD, "Risks related to our business and industry")
    for i, heading in enumerate(UNDERLINED_HEADINGS):
        if i == 3:
            body += _div(BOLD, "Risks related to our financing activities and other risks")
        body += _div(UNDERLINE, heading) + _div(PLAIN, BODY * 3) + _div(PLAIN, str(9 + i))
    parsed = parse_filing(_filing(body), "underlined.html")
    assert [r.title for r in parsed.risks] == UNDERLINED_HEADINGS
    assert parsed.risks[3].section == "Risks related to our financing activities and other risks"
    assert parsed.extraction.heading_style == "underline"
    assert parsed.extraction.warnings == []


LEAD_INS = [
    "We Must Manage Fluctuating Demand for Our Services and Network Capacity",
    "We Transport Hazardous Materials",
    "Strikes or Work Stoppages Could Adversely Affect Our Operations",
    "We Rely on Capital Markets",
]


def test_italic_title_case_lead_ins_ended_by_an_en_dash() -> None:
    """Union Pacific: ``<i>Title</i> – body`` in one paragraph; the dash is not italic."""
    body = _div(BOLD, "Strategic and Operational Risks")
    for lead in LEAD_INS:
        body += (
            f'<div><span style="{ITALIC}">{lead}</span>'
            f'<span style="{PLAIN}"> &#8211; {BODY * 3}</span></div>'
        )
    parsed = parse_filing(_filing(body), "lead-ins.html")
    assert [r.title for r in parsed.risks] == LEAD_INS
    assert all(r.body.startswith("We operate in many markets") for r in parsed.risks)
    assert parsed.extraction.heading_style == "italic lead-in"


def test_sub_headings_inside_a_risk_are_not_risks() -> None:
    """An automaker's italic sub-points under bold-italic risks stay in the risk's body."""
    bold_italic = "font-weight:700;font-style:italic"
    body = _div(BOLD, "Risks Related to Our Operations")
    body += _div(bold_italic, "We may be unable to manage the growth of our manufacturing.")
    body += _div(PLAIN, BODY)
    body += _div(ITALIC, "Battery cell supply") + _div(PLAIN, BODY)
    body += _div(ITALIC, "Vehicle production ramps") + _div(PLAIN, BODY)
    body += _div(bold_italic, "Our products could be subject to recalls, which may harm us.")
    body += _div(PLAIN, BODY)
    body += _div(bold_italic, "We depend on suppliers for the components of our vehicles:")
    body += _div(bold_italic, "cells and battery modules from a few sources;")
    body += _div(bold_italic, "semiconductor chips for vehicle electronics.")
    body += _div(PLAIN, BODY)
    parsed = parse_filing(_filing(body), "sub-headings.html")
    titles = [r.title for r in parsed.risks]
    assert titles == [
        "We may be unable to manage the growth of our manufacturing.",
        "Our products could be subject to recalls, which may harm us.",
        "We depend on suppliers for the components of our vehicles",
    ]
    first = parsed.risks[0]
    assert "Battery cell supply" in first.body
    assert "Vehicle production ramps" in first.body
    assert all(r.section == "Risks Related to Our Operations" for r in parsed.risks)


def test_no_emphasis_falls_back_to_heading_lines_with_a_warning() -> None:
    body = "".join(_div(PLAIN, h) + _div(PLAIN, BODY * 3) for h in UNDERLINED_HEADINGS)
    parsed = parse_filing(_filing(body), "plain.html")
    assert len(parsed.risks) >= 3
    assert parsed.extraction.heading_style == "plain-text line"
    assert any("less certain" in w for w in parsed.extraction.warnings)


def test_a_section_with_no_split_fails_with_a_reason() -> None:
    # Prose without any heading line: no strategy can tell risks apart.
    prose = "in addition, the prices we pay are set by others and change every quarter, " * 80
    with pytest.raises(RisksNotFound, match=r"no risk-factor headings could be told apart"):
        parse_filing(_filing(_div(PLAIN, prose)), "prose.html")


def test_a_pointer_section_fails_quoting_what_it_says() -> None:
    pointer = "Information in response to this Item is found under Risk Factors in our report."
    with pytest.raises(RisksNotFound, match=r"only \d+ characters .*it reads: \"Information"):
        parse_filing(_filing(_div(PLAIN, pointer)), "pointer.html")


def test_far_shorter_section_than_the_other_year_fails() -> None:
    long = "".join(_div(UNDERLINE, h) + _div(PLAIN, BODY * 12) for h in UNDERLINED_HEADINGS)
    short = _div(UNDERLINE, UNDERLINED_HEADINGS[0]) + _div(PLAIN, BODY)
    current = parse_filing(_filing(short), "2024.html")
    previous = parse_filing(_filing(long), "2023.html")
    with pytest.raises(RisksNotFound, match=r"2024\.html: Item 1A is .*% of the"):
        cross_check(current, previous)
    records = cross_check(previous, previous)
    assert records[0].warnings == []
    assert records[1].warnings == []


def test_one_huge_paragraph_is_blamed_on_its_own_filing_not_the_other_year() -> None:
    """A valid year beside a filing whose one risk swallowed a huge paragraph: the error
    names the filing with the huge paragraph, not the valid year as "cut short"."""
    normal = "".join(_div(UNDERLINE, h) + _div(PLAIN, BODY * 2) for h in UNDERLINED_HEADINGS)
    huge = _div(UNDERLINE, UNDERLINED_HEADINGS[0]) + _div(PLAIN, BODY * 2000)
    swollen = huge + "".join(
        _div(UNDERLINE, h) + _div(PLAIN, BODY * 2) for h in UNDERLINED_HEADINGS[1:]
    )
    valid = parse_filing(_filing(normal), "2024.html")
    odd = parse_filing(_filing(swollen), "2023.html")
    assert len(valid.item1a_text) * 4 < len(odd.item1a_text)
    for current, previous in ((valid, odd), (odd, valid)):
        with pytest.raises(RisksNotFound, match=r"one risk factor holds") as caught:
            cross_check(current, previous)
        assert caught.value.filing == "2023.html"
        assert "2024.html" in str(caught.value)  # named as the one it was compared with
        assert "cut short" not in str(caught.value)


STYLE = re.compile(
    rb"font-weight:\s*(?:bold|bolder|[6-9]00)|font-style:\s*(?:italic|oblique)"
    rb"|text-decoration:[^;\"']*underline",
    re.IGNORECASE,
)
EMPHASIS_TAGS = re.compile(rb"</?(?:b|strong|i|em|u|cite)(?=[\s>])[^>]*>", re.IGNORECASE)


def _strip_emphasis(html: bytes) -> bytes:
    return EMPHASIS_TAGS.sub(b"", STYLE.sub(b"", html))


@needs_corpus
@pytest.mark.parametrize(("ticker", "year"), [("AAPL", 2024), ("TSLA", 2023), ("HD", 2024)])
def test_real_filing_stripped_of_all_emphasis_still_splits(ticker: str, year: int) -> None:
    """The self-check: with no typography left, the heading-line rule finds the risks."""
    parsed = parse_filing(_strip_emphasis(content(html_path(ticker, year))), f"{ticker}.html")
    expected = EXPECTED_RISKS[ticker, year]
    assert abs(len(parsed.risks) - expected) <= 0.15 * expected
    assert parsed.extraction.heading_style == "plain-text line"
    assert parsed.extraction.warnings


@needs_corpus
def test_stripped_lead_in_filing_is_split_by_paragraphs_and_says_so() -> None:
    parsed = parse_filing(_strip_emphasis(content(html_path("IBM", 2024))), "IBM.html")
    assert parsed.risks
    assert parsed.extraction.heading_style == "paragraph first sentence"
    assert any("less certain" in w for w in parsed.extraction.warnings)


needs_layouts = pytest.mark.skipif(
    not LAYOUTS.is_dir(), reason=f"layouts corpus not found at {LAYOUTS}"
)


@needs_layouts
@pytest.mark.parametrize(
    ("filing", "risks", "style", "first"),
    [
        (
            "TXN/2023.html",
            18,
            "underline",
            "Our global operations subject us to risks associated with domestic or international",
        ),
        (
            "UNP/2024.html",
            19,
            "italic lead-in",
            "We Must Manage Fluctuating Demand for Our Services and Network Capacity",
        ),
    ],
)
def test_layout_filings_split_by_their_headings(
    filing: str, risks: int, style: str, first: str
) -> None:
    path = LAYOUTS / filing
    parsed = parse_filing(path.read_bytes(), str(path))
    assert len(parsed.risks) == risks
    assert parsed.extraction.heading_style == style
    assert parsed.risks[0].title.startswith(first)
    assert all(r.section for r in parsed.risks)
    assert all(len(r.body) > 150 for r in parsed.risks)


def test_segment_reports_the_style_it_used() -> None:
    blocks = html_blocks(
        _filing("".join(_div(BOLD, h) + _div(PLAIN, BODY) for h in UNDERLINED_HEADINGS)).decode()
    ).blocks[1:-2]
    split = segment(blocks)
    assert split.heading_style == "bold"
    assert len(split.risks) == 4


@needs_layouts
def test_incorporated_by_reference_from_a_local_file_fails_saying_where_the_risks_are() -> None:
    path = LAYOUTS / "WFC" / "2024.html"
    with pytest.raises(FilingParseError, match=r"(?i)annual report|another document|exhibit 13"):
        parse_filing(path.read_bytes(), str(path))
