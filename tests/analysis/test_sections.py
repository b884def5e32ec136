"""Locating Item 1A: table of contents and cross-references skipped, ends at the next item."""

from __future__ import annotations

import re

import pytest

from riskdrift.analysis.sections import extract_item1a, incorporation_target
from riskdrift.errors import (
    FilingParseError,
    Item1AIncorporatedByReference,
    Item1ANotFound,
    Item1AOmitted,
)
from tests.analysis.corpus_cache import EXPECTED_RISKS, html_path, item1a, text_filings
from tests.corpus import CORPUS, REAL10K, needs_corpus

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


# --- how the section was found -----------------------------------------------------------


def test_item_heading_and_plain_text_record_their_strategy() -> None:
    assert extract_item1a(SYNTHETIC.encode(), "synthetic.html").located_by == "item_heading"
    text = "ITEM 1A.\nRISK FACTORS\nOur business may suffer.\nITEM 2. PROPERTIES\n"
    assert extract_item1a(text.encode(), "old.txt").located_by == "plain_text"
    extract = "Risk Factors\nOur business may suffer.\nCompetition could hurt us.\n"
    assert extract_item1a(extract.encode(), "a.item1a.txt").located_by == "item1a_extract"


@needs_corpus
@pytest.mark.parametrize(("ticker", "year"), sorted(EXPECTED_RISKS))
def test_corpus_filings_are_found_by_their_item_heading(ticker: str, year: int) -> None:
    assert item1a(html_path(ticker, year)).located_by == "item_heading"


# --- "annual report" 10-Ks: titled sections, a cross-reference index -----------------------

_BOLD11 = "font-family:Arial;font-size:11pt;font-weight:700"
_BOLD9 = "font-family:Arial;font-size:9pt;font-weight:700"
_BODY = "font-family:Arial;font-size:9pt;font-weight:400"


def _lead(style: str, title: str, body: str) -> str:
    return f'<div><span style="{style}">{title}</span><span style="{_BODY}">{body}</span></div>'


def _risk(title: str) -> str:
    body = (
        f" {title.lower()} could adversely affect our results; such risks may grow, and we may "
        "not be able to predict or control them. " * 4
    )
    return _lead(_BOLD9, f"{title} - We may face risks related to {title.lower()}.", body)


def annual_report_10k(*, index: bool = True) -> str:
    """GE's markup, reduced: a page-numbered table of contents without item numbers,
    sections titled by an 11pt bold lead-in, category sub-heads in 9pt bold lead-ins,
    and (optionally) the Form 10-K cross-reference index at the back."""
    toc = "".join(
        f"<tr><td>{title}</td><td>{page}</td></tr>"
        for title, page in [
            ("Forward-Looking Statements", 3), ("About the Company", 4), ("Cybersecurity", 26),
            ("Risk Factors", 27), ("Legal Proceedings", 36), ("Signatures", 87),
        ]
    )  # fmt: skip
    cross_reference = (
        "<table><tr><td>FORM 10-K CROSS REFERENCE INDEX</td><td>Page(s)</td></tr>"
        "<tr><td>Item 1. Business</td><td>4-6</td></tr>"
        "<tr><td>Item 1A. Risk Factors</td><td>27-36</td></tr>"
        "<tr><td>Item 1B. Unresolved Staff Comments</td><td>Not applicable</td></tr>"
        "<tr><td>Item 3. Legal Proceedings</td><td>36</td></tr></table>"
        if index
        else ""
    )
    return (
        "<html><body><div><b>TABLE OF CONTENTS</b></div><table>" + toc + "</table>"
        + _lead(_BOLD11, "FORWARD-LOOKING STATEMENTS. ", "Our filings contain statements about "
                "the future, see the Risk Factors section for what may make them wrong.")
        + _lead(_BOLD11, "ABOUT THE COMPANY. ", "We make engines.")
        + _lead(_BOLD11, "CYBERSECURITY. ", "We manage cybersecurity risks.")
        + _lead(_BOLD11, "RISK FACTORS. ", "The following discussion of the material factors, "
                "events and uncertainties may make an investment in the Company risky.")
        + _lead(_BOLD9, "STRATEGIC RISKS. ", "Strategic risk relates to our plans.")
        + _risk("Strategic plan") + _risk("Competitive environment")
        + _lead(_BOLD9, "OPERATIONAL RISKS. ", "Operational risk relates to our processes.")
        + _risk("Supply chain") + _risk("Cybersecurity")
        + _lead(_BOLD11, "LEGAL PROCEEDINGS. ", "Refer to Legal Matters in Note 24.")
        + _lead(_BOLD11, "MANAGEMENT AND AUDITOR'S REPORTS. ", "Management is responsible.")
        + cross_reference
        + "</body></html>"
    )  # fmt: skip


def test_annual_report_layout_is_found_through_the_cross_reference_index() -> None:
    item = extract_item1a(annual_report_10k().encode(), "annual.html")
    assert item.located_by == "cross_reference_index"
    assert item.heading == "RISK FACTORS."
    assert item.text.startswith("The following discussion of the material factors")
    # Category sub-heads in the same weight stay inside the section; it ends at the next title.
    assert "STRATEGIC RISKS." in item.text
    assert "OPERATIONAL RISKS." in item.text
    assert "Cybersecurity - We may face risks" in item.text
    assert item.ended_by is not None
    assert item.ended_by.startswith("LEGAL PROCEEDINGS.")
    assert "Refer to Legal Matters" not in item.text


def test_annual_report_layout_without_an_index_is_found_by_its_title() -> None:
    item = extract_item1a(annual_report_10k(index=False).encode(), "annual.html")
    assert item.located_by == "section_title"
    assert item.ended_by is not None
    assert item.ended_by.startswith("LEGAL PROCEEDINGS.")
    assert "Supply chain - We may face risks" in item.text


def test_titled_heading_block_ends_at_the_next_standard_item_title() -> None:
    risks = "".join(
        f"<p><i>{n}. We may lose customers.</i></p>"
        f"<p>{'Customers could leave and we may suffer. ' * 12}</p>"
        for n in range(1, 6)
    )
    html = (
        "<html><body><p><b>ANNUAL REPORT 2023</b></p><p><b>Business</b></p>"
        "<p>We make valves, see Risk Factors.</p><p>We sell them in Ohio.</p>"
        "<p><b>Risk Factors</b></p>" + risks
        + "<p><b>Properties</b></p><p>We own a plant in Ohio.</p></body></html>"
    )  # fmt: skip
    item = extract_item1a(html.encode(), "titled.html")
    assert item.located_by == "section_title"
    assert item.ended_by == "Properties"
    assert "Ohio" not in item.text


def test_a_risk_factors_title_with_no_real_section_behind_it_is_not_taken() -> None:
    html = (
        "<html><body><p><b>ANNUAL REPORT 2023</b></p><p><b>Business</b></p><p>We make valves.</p>"
        "<p><b>Risk Factors</b></p><p>See our annual report.</p>"
        "<p><b>Properties</b></p><p>We own a plant in Ohio.</p></body></html>"
    )
    with pytest.raises(Item1ANotFound, match="no Item 1A"):
        extract_item1a(html.encode(), "stub.html")


# --- omitted, or incorporated by reference -------------------------------------------------

_SRC_TOC = (
    "<table><tr><td>Item 1A.</td><td>Risk Factors</td><td>12</td></tr>"
    "<tr><td>Item 1B.</td><td>Unresolved Staff Comments</td><td>12</td></tr></table>"
)


@pytest.mark.parametrize(
    "section",
    [
        # a partnership's heading, all on one line
        "<p><b>ITEM 1A: RISK FACTORS &#8212; NOT APPLICABLE</b></p>",
        "<p><b>Item 1A.</b></p><p><b>Risk Factors</b></p>"
        "<p>Not required for smaller reporting companies.</p>",
        "<p><b>Item 1A. Risk Factors</b></p><p>As a smaller reporting company, the registrant "
        "has elected to omit the risk factors otherwise required by this Item.</p>",
    ],
    ids=["heading-not-applicable", "not-required", "omitted"],
)
def test_omitted_risk_factors_raise_a_clear_error(section: str) -> None:
    html = (
        f"<html><body>{_SRC_TOC}<p><b>Item 1. Business</b></p><p>We drill wells.</p>"
        f"{section}<p><b>Item 1B. Unresolved Staff Comments</b></p><p>None.</p></body></html>"
    )
    with pytest.raises(Item1AOmitted, match="smaller reporting company") as info:
        extract_item1a(html.encode(), "small.html")
    assert "small.html" in str(info.value)
    assert isinstance(info.value, Item1ANotFound)


WFC_STYLE = (
    "<html><body><p>ITEM 1. BUSINESS</p><p>We are a bank.</p>"
    "<p><b>ITEM 1A. RISK FACTORS</b></p>"
    "<p>Information in response to this Item 1A can be found in this report under Item 1 and "
    "in the 2024 Annual Report to Shareholders under &#8220;Financial Review &#8211; Risk "
    "Factors.&#8221; That information is incorporated into this item by reference.</p>"
    "<p><b>ITEM 1B. UNRESOLVED STAFF COMMENTS</b></p><p>Not applicable.</p></body></html>"
)


def test_incorporated_by_reference_says_where_the_risks_are() -> None:
    with pytest.raises(Item1AIncorporatedByReference) as info:
        extract_item1a(WFC_STYLE.encode(), "wfc.html")
    err = info.value
    assert err.exhibit == "EX-13"
    assert err.section == "Financial Review – Risk Factors"
    assert "Annual Report to Shareholders" in str(err)
    assert "EX-13" in str(err)
    assert "wfc.html" in str(err)


def test_incorporation_target_reads_an_explicit_exhibit_number() -> None:
    target = incorporation_target(
        'The information under "Risk Factors" in Exhibit 13.1, the Annual Report to '
        "Shareholders, is incorporated herein by reference."
    )
    assert target is not None
    assert (target.exhibit, target.section) == ("EX-13.1", "Risk Factors")
    assert incorporation_target("Risk factors are described below.") is None
    # Part III's proxy incorporation is not Item 1A's.
    assert incorporation_target("Incorporated by reference to the 2024 Proxy Statement.") is None


# --- the layouts corpus ----------------------------------------------------------------------

LAYOUTS = CORPUS / "layouts"
needs_layouts = pytest.mark.skipif(
    not LAYOUTS.is_dir(), reason=f"layouts corpus not found at {LAYOUTS}"
)


@needs_layouts
def test_ge_annual_report_risk_factors_are_found() -> None:
    path = LAYOUTS / "GE" / "2023.html"
    item = extract_item1a(path.read_bytes(), str(path))
    assert item.located_by == "cross_reference_index"
    assert item.heading == "RISK FACTORS."
    assert 40_000 < len(item.text) < 150_000
    assert item.text.startswith("The following discussion of the material factors")
    # The section's own categories and first and last risks are inside; the next section is not.
    for words in ("STRATEGIC RISKS.", "FINANCIAL RISKS.", "Strategic plan - ", "Legal proceedings"):
        assert words in item.text
    assert item.ended_by is not None
    assert item.ended_by.startswith("LEGAL PROCEEDINGS.")
    assert "REPORT OF INDEPENDENT REGISTERED PUBLIC ACCOUNTING FIRM" not in item.text


@needs_layouts
def test_wfc_local_filing_raises_incorporated_by_reference() -> None:
    path = LAYOUTS / "WFC" / "2024.html"
    with pytest.raises(Item1AIncorporatedByReference, match="Annual Report to Share") as info:
        extract_item1a(path.read_bytes(), str(path))
    assert info.value.exhibit == "EX-13"
    assert "Risk Factors" in info.value.section


@needs_layouts
@pytest.mark.parametrize("ticker", ["TXN", "UNP"])
def test_other_layouts_keep_their_item_heading(ticker: str) -> None:
    path = next((LAYOUTS / ticker).glob("*.html"))
    item = extract_item1a(path.read_bytes(), str(path))
    assert item.located_by == "item_heading"
    assert len(item.text) > 20_000


# --- before Item 1A: "RISK FACTORS" inside MD&A (fiscal years before 2005) ---------------------

_RISK_BODY = (
    "Our revenue could decline and our costs may rise; such risks could adversely affect our "
    "results, and we may not be able to predict or control them. "
)
_MDNA_BODY = "Net sales rose 4% on higher volume, and gross margin was steady at 31% of sales. "


def _mdna_10k(heading: str, *, risk_tag: str = "b><i", sub: str = "b") -> str:
    """A 2003 10-K: Item 7 with bold capital sub-headings, one of them "RISK FACTORS"
    with bold-italic risk headings under two bold capital groups, then more of MD&A."""
    close = "/".join(reversed(risk_tag.split("><"))).replace("/", "></")
    risks = "".join(
        f"<p><{risk_tag}>{t}</{close}></p><p>{_RISK_BODY * 4}</p>"
        for t in (
            "We face intense competition, which could reduce our margins.",
            "Our quarterly results may fluctuate significantly.",
            "We depend on a few suppliers for our key components.",
        )
    )
    return (
        "<html><body>"
        "<table><tr><td>Item 1.</td><td>Business</td><td>3</td></tr>"
        "<tr><td>Item 7.</td><td>Management's Discussion and Analysis</td><td>12</td></tr>"
        "<tr><td>Item 7A.</td><td>Quantitative and Qualitative Disclosures</td><td>30</td></tr>"
        "</table>"
        "<p><b>Item 1. Business</b></p><p>We make pumps. See Risk Factors in Item 7.</p>"
        "<p><b>Item 7. Management's Discussion and Analysis of Financial Condition</b></p>"
        f"<p><{sub}>OVERVIEW</{sub}></p><p>{_MDNA_BODY * 3}</p>"
        f"<p><{sub}>RESULTS OF OPERATIONS</{sub}></p><p>{_MDNA_BODY * 6}</p>"
        f"<p><{sub}>{heading}</{sub}></p>"
        "<p>The following factors could affect our future results.</p>"
        f"<p><{sub}>RISKS RELATED TO OUR BUSINESS</{sub}></p>"
        f"{risks}"
        f"<p><{sub}>RISKS RELATED TO OUR INDUSTRY</{sub}></p>"
        f"{risks}"
        f"<p><{sub}>CRITICAL ACCOUNTING POLICIES</{sub}></p><p>{_MDNA_BODY * 5}</p>"
        f"<p><{sub}>LIQUIDITY AND CAPITAL RESOURCES</{sub}></p><p>{_MDNA_BODY * 40}</p>"
        "<p><b>Item 7A. Quantitative and Qualitative Disclosures About Market Risk</b></p>"
        "<p>We are exposed to interest rate risk.</p></body></html>"
    )


@pytest.mark.parametrize(
    "heading", ["RISK FACTORS", "CAUTIONARY STATEMENTS AND RISK FACTORS", "RISK FACTORS."]
)
def test_pre_2005_risk_factors_inside_mdna_end_at_the_next_heading_of_their_level(
    heading: str,
) -> None:
    from riskdrift.analysis.pipeline import parse_filing

    content = _mdna_10k(heading).encode()
    if heading.endswith("."):  # the item's other headings end with a full stop as well
        for other in ("OVERVIEW", "RESULTS OF OPERATIONS", "CRITICAL ACCOUNTING POLICIES"):
            content = content.replace(f"{other}<".encode(), f"{other}.<".encode())
    item = extract_item1a(content, "2003.html")
    assert item.located_by == "risk_factors_heading"
    assert item.heading == heading
    stop = "." if heading.endswith(".") else ""
    assert item.ended_by == f"CRITICAL ACCOUNTING POLICIES{stop}"
    assert item.text.startswith("The following factors could affect our future results.")
    assert "RISKS RELATED TO OUR INDUSTRY" in item.text  # its own groups do not end it
    assert "Net sales rose" not in item.text
    assert any("no Item 1A" in w and "Item 7." in w for w in item.warnings)

    parsed = parse_filing(content, "2003.html")
    assert parsed.extraction.strategy == "risk_factors_heading"
    assert any("1 December 2005" in w for w in parsed.extraction.warnings)
    assert len(parsed.risks) == 6
    assert parsed.risks[3].section == "RISKS RELATED TO OUR INDUSTRY"


def test_pre_2005_factors_heading_in_a_plain_text_filing() -> None:
    lines = [
        "ITEM 1. BUSINESS", "We make pumps.",
        "ITEM 7. MANAGEMENT'S DISCUSSION AND ANALYSIS", "OVERVIEW", _MDNA_BODY * 3,
        "FACTORS THAT MAY AFFECT FUTURE RESULTS",
        *[line for n in range(6) for line in (f"Our market {n} may decline.", _RISK_BODY * 4)],
        "CRITICAL ACCOUNTING POLICIES", _MDNA_BODY * 5,
        "ITEM 7A. QUANTITATIVE AND QUALITATIVE DISCLOSURES ABOUT MARKET RISK", "None.",
    ]  # fmt: skip
    item = extract_item1a("\n".join(lines).encode(), "2002.txt")
    assert item.located_by == "risk_factors_heading"
    assert item.ended_by == "CRITICAL ACCOUNTING POLICIES"
    assert not item.is_html


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        # A plain-text filing whose heading is an ordinary line: nothing marks its level.
        (
            "ITEM 1. BUSINESS\nWe make pumps.\nITEM 7. MD&A\nRisk factors\n"
            + f"Our market may decline.\n{_RISK_BODY * 30}\n"
            + "ITEM 7A. MARKET RISK\nNone.\n",
            "neither bold, italic, underlined nor in capitals",
        ),
        # Bold title-case MD&A headings, and risk headings in the very same style.
        (
            _mdna_10k("Risk Factors", risk_tag="b", sub="b")
            .replace("RISKS RELATED TO OUR BUSINESS", "Competition")
            .replace("We face intense competition, which could reduce our margins.", "Pricing"),
            "followed after only",
        ),
    ],
    ids=["unstyled-heading", "same-style-risk-headings"],
)
def test_pre_2005_risk_factors_whose_end_cannot_be_told_fail_clearly(
    content: str, reason: str
) -> None:
    from riskdrift.errors import Item1AEndNotFound

    with pytest.raises(Item1AEndNotFound, match=reason) as info:
        extract_item1a(content.encode(), "old.html")
    assert "no Item 1A" in str(info.value)
    assert isinstance(info.value, Item1ANotFound)


# --- title-only sections: Item 1A named only by the contents and the cross-reference index ------

_BIG = "font-family:Georgia;font-size:16pt;color:#00467f"


def _index_10k(heading: str, index_row: tuple[str, ...], *, section_style: str = "b") -> str:
    """Item numbers only in the table of contents and the cross-reference index at the back;
    the body's sections carry titles alone (bold, or set off by size and colour only)."""

    def title(text: str) -> str:
        if section_style == "b":
            return f"<p><b>{text}</b></p>"
        return f'<p style="{_BIG}">{text}</p>'

    risks = "".join(
        f"<p><b><i>Our {topic} could be disrupted, which may harm us.</i></b></p>"
        f"<p>{_RISK_BODY * 4}</p>"
        for topic in ("supply chain", "payment network", "data centres", "brand", "funding")
    )
    toc = "".join(
        f"<tr><td>Item {n}.</td><td>{name}</td><td>{page}</td></tr>"
        for n, name, page in [
            ("1", "Business", 3), ("1A", "Risk Factors", 12),
            ("1B", "Unresolved Staff Comments", 20), ("3", "Legal Proceedings", 20),
            ("7", "Management's Discussion and Analysis", 22),
        ]
    )  # fmt: skip
    index = "".join(f"<tr>{''.join(f'<td>{c}</td>' for c in row)}</tr>" for row in [
        ("Item 1.", "Business", "3-11"), index_row,
        ("Item 1B.", "Unresolved Staff Comments", "None"), ("Item 3.", "Legal Proceedings", "20"),
    ])  # fmt: skip
    return (
        f"<html><body><table>{toc}</table>"
        + title("Business") + "<p>We run a payments network. See Risk Factors.</p>"
        + title(heading) + "<p>The following risks could affect our results.</p>" + risks
        + title("Legal Proceedings") + "<p>We are party to suits in the ordinary course.</p>"
        + title("Management's Discussion and Analysis") + f"<p>{_MDNA_BODY * 60}</p>"
        + "<p><b>FORM 10-K CROSS-REFERENCE INDEX</b></p>"
        + f"<table>{index}</table></body></html>"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("heading", "index_row", "section_style"),
    [
        # The index names the filer's own title for Item 1A, in a column of its own.
        ("Principal Risks", ("Item 1A.", "Risk Factors", "Principal Risks", "12-19"), "b"),
        # ... or quotes it instead of giving pages.
        ("Risk Management", ("Item 1A.", "Risk Factors", "See “Risk Management”"), "b"),
        # The standard title and a page, with headings set off by size and colour only.
        ("Risk Factors", ("Item 1A.", "Risk Factors", "Pages 12 - 19"), "big"),
    ],
    ids=["own-title-column", "quoted-title", "unbolded-headings"],
)
def test_item_1a_named_only_in_the_contents_and_the_index_is_found_by_its_title(
    heading: str, index_row: tuple[str, ...], section_style: str
) -> None:
    from riskdrift.analysis.pipeline import parse_filing

    content = _index_10k(heading, index_row, section_style=section_style).encode()
    item = extract_item1a(content, "index.html")
    assert item.located_by == "cross_reference_index"
    assert item.heading == heading
    assert item.text.startswith("The following risks could affect our results.")
    assert item.ended_by == "Legal Proceedings"
    assert "ordinary course" not in item.text
    parsed = parse_filing(content, "index.html")
    assert len(parsed.risks) == 5


def test_pre_2005_risk_factors_styled_unlike_the_rest_of_the_item_say_where_they_were_cut() -> None:
    """The only capitals heading of MD&A: it runs to the next item, and the warning says
    that nothing in the item shared its style."""
    content = (
        _mdna_10k("RISK FACTORS")
        .replace("OVERVIEW", "Overview")
        .replace("RESULTS OF OPERATIONS", "Results of operations")
        .replace("CRITICAL ACCOUNTING POLICIES", "Critical accounting policies")
        .replace("LIQUIDITY AND CAPITAL RESOURCES", "Liquidity and capital resources")
    )
    item = extract_item1a(content.encode(), "2003.html")
    assert item.located_by == "risk_factors_heading"
    assert item.ended_by is not None
    assert item.ended_by.startswith("Item 7A.")
    assert any("no other heading of the item shares its style" in w for w in item.warnings)
    # Where the style is shared, the warning is not given.
    shared = extract_item1a(_mdna_10k("RISK FACTORS").encode(), "2003.html")
    assert not any("shares its style" in w for w in shared.warnings)
