"""Category headings, all-capital risk headings and bullet glyphs (issue #22).

Synthetic filings in the markups the pattern was seen in: categories over
sub-categories over risk headings; bold ALL-CAPS risk headings, some without
final punctuation; list glyphs in front of risk headings. Each test asserts the
exact risks and the category each sits under.
"""

from __future__ import annotations

import pytest

from riskdrift.analysis.document import TextBlock
from riskdrift.analysis.pipeline import parse_filing
from riskdrift.analysis.risks import segment

BODY = (
    "Changes in the rules that govern our markets could reduce our revenue, raise our costs "
    "and delay our products, and the effects could last for several years. "
)
BOLD = "font-family:Arial;font-size:10pt;font-weight:700"
BOLD_ITALIC = "font-family:Arial;font-size:10pt;font-weight:700;font-style:italic"
ITALIC = "font-family:Arial;font-size:10pt;font-style:italic"
BOLD_UNDERLINE = "font-family:Arial;font-size:10pt;font-weight:700;text-decoration:underline"
PLAIN = "font-family:Arial;font-size:10pt;font-weight:400"


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


# --- categories over sub-categories over risks -----------------------------------------------

#: (category, sub-category or None, risk headings): a payments company's outline.
OUTLINE: list[tuple[str, str | None, list[str]]] = [
    (
        "Risks Related to Our Business",
        "Payments Industry Regulation",
        [
            "Regulation of interchange fees could reduce the revenue we earn on each payment.",
            "New rules on data localisation may force us to change how we process payments.",
        ],
    ),
    (
        "Risks Related to Our Business",
        "Competition and Technology",
        [
            "We face intense competition from networks, banks and new payment providers.",
            "If we do not keep pace with changes in technology, our products may lose appeal.",
            "Disruptions of our processing systems could harm our relationships with clients.",
        ],
    ),
    (
        "Risks Related to Our Common Stock",
        None,
        ["The market price of our common stock may be volatile."],
    ),
]


def _outline_html(
    category_style: str, sub_style: str, risk_style: str, *, banner: str, intro: bool = True
) -> str:
    html = (
        _div(PLAIN, "Investing in our stock involves the risks described below.") if intro else ""
    )
    html += _div(category_style, banner)
    seen: set[str] = set()
    for category, sub, risks in OUTLINE:
        if category not in seen:
            html += _div(category_style, category)
            seen.add(category)
        if sub is not None:
            html += _div(sub_style, sub)
        for risk in risks:
            html += _div(risk_style, risk) + _div(PLAIN, BODY * 2) + _div(PLAIN, BODY)
    return html


def _expected() -> tuple[list[str], list[str]]:
    titles = [r for _, _, risks in OUTLINE for r in risks]
    sections = [sub or cat for cat, sub, risks in OUTLINE for _ in risks]
    return titles, sections


@pytest.mark.parametrize(
    ("category_style", "sub_style", "risk_style"),
    [
        (BOLD, BOLD_ITALIC, ITALIC),  # bold categories, bold-italic sub-categories, italic risks
        (BOLD, BOLD, BOLD),  # one style for all: the sub-headings have no body of their own
        (BOLD_ITALIC, BOLD_ITALIC, BOLD_ITALIC),
    ],
    ids=["bold/bold-italic/italic", "all-bold", "all-bold-italic"],
)
def test_sub_category_headings_are_categories_not_risks(
    category_style: str, sub_style: str, risk_style: str
) -> None:
    html = _outline_html(category_style, sub_style, risk_style, banner="RISK HIGHLIGHTS")
    parsed = parse_filing(_filing(html), "payments.html")
    titles, sections = _expected()
    assert [r.title for r in parsed.risks] == titles
    # The nearest meaningful category: the sub-category, never the banner over them all.
    assert [r.section for r in parsed.risks] == sections
    assert all(r.body.startswith("Changes in the rules") for r in parsed.risks)


def test_sub_categories_that_do_not_read_like_categories_are_found_by_their_empty_body() -> None:
    """Categories without the word "risk" in the risks' own style: only the missing body
    tells them apart."""
    html = _div(BOLD, "Business and Operations") + _div(BOLD, "Payments Industry Regulation")
    for risk in OUTLINE[0][2]:
        html += _div(BOLD, risk) + _div(PLAIN, BODY * 2)
    html += _div(BOLD, "Competition and Technology")
    for risk in OUTLINE[1][2]:
        html += _div(BOLD, risk) + _div(PLAIN, BODY * 2)
    parsed = parse_filing(_filing(html), "same-style.html")
    assert [r.title for r in parsed.risks] == OUTLINE[0][2] + OUTLINE[1][2]
    assert [r.section for r in parsed.risks] == ["Payments Industry Regulation"] * 2 + [
        "Competition and Technology"
    ] * 3


def test_plain_text_sub_categories_are_not_risks() -> None:
    lines = ["Risks Related to Our Business"]
    for _, sub, risks in OUTLINE[:2]:
        assert sub is not None
        lines.append(sub)
        for risk in risks:
            lines += [risk, BODY * 3]
    split = segment([TextBlock(line) for line in lines], styled=False)
    assert [r.title for r in split.risks] == OUTLINE[0][2] + OUTLINE[1][2]
    assert [r.section for r in split.risks] == ["Payments Industry Regulation"] * 2 + [
        "Competition and Technology"
    ] * 3


@pytest.mark.parametrize("styled", [True, False], ids=["styled", "plain-text"])
def test_no_strategy_emits_a_risk_whose_only_body_is_another_heading(styled: bool) -> None:
    bold = 1.0 if styled else 0.0
    blocks = [
        TextBlock("Our supply may fail.", bold=bold),
        TextBlock("We depend on a small number of suppliers for key components.", bold=bold),
        TextBlock(BODY * 3),
        TextBlock("Our stock price may be volatile and could decline sharply.", bold=bold),
        TextBlock(BODY * 3),
        TextBlock("General Market Conditions", bold=bold),
    ]
    split = segment(blocks, styled=styled)
    assert split.risks
    assert all(r.body.strip() for r in split.risks), [r.title for r in split.risks]
    assert split.risks[-1].title == "Our stock price may be volatile and could decline sharply."


def test_plain_text_closing_line_after_a_list_stays_with_its_risk() -> None:
    """ "Any of the foregoing could …" after a risk's list is the end of that risk."""
    lines = [
        "We are subject to risks associated with our international operations.",
        BODY * 3,
        "Any of the foregoing could adversely affect our business.",
        "Our results of operations may be adversely affected by changes in foreign exchange rates.",
        BODY * 3,
    ]
    risks = segment([TextBlock(line) for line in lines], styled=False).risks
    assert [r.title for r in risks] == [lines[0], lines[3]]
    assert risks[0].body.endswith(lines[2])


# --- bold ALL-CAPS risk headings -------------------------------------------------------------

CAPS_RISKS = [
    "WE FACE INTENSE COMPETITION, WHICH COULD REDUCE OUR MARKET SHARE.",
    "OUR QUARTERLY RESULTS MAY FLUCTUATE SIGNIFICANTLY",  # no final punctuation
    "THE LOSS OF KEY PERSONNEL COULD HARM OUR BUSINESS.",
    "DEPENDENCE ON A LIMITED NUMBER OF SUPPLIERS",  # no final punctuation, no verb
    "PRODUCT DEFECTS COULD EXPOSE US TO LIABILITY CLAIMS.",
    "CHANGES IN TAX LAWS MAY INCREASE OUR EFFECTIVE TAX RATE.",
]


@pytest.mark.parametrize(
    ("category_style", "categories"),
    [
        (BOLD, ("Risks Related to Our Business", "Risks Related to Our Finances")),
        (BOLD_UNDERLINE, ("OPERATIONS", "FINANCES")),  # capitals one level up: underlined
        (BOLD, ("OPERATIONS", "FINANCES")),  # capitals in the same style: no body of their own
    ],
    ids=["title-case-categories", "underlined-caps-categories", "same-style-caps-categories"],
)
def test_bold_all_caps_risk_headings_without_final_punctuation(
    category_style: str, categories: tuple[str, str]
) -> None:
    html = _div(category_style, categories[0])
    for i, risk in enumerate(CAPS_RISKS):
        if i == 4:
            html += _div(category_style, categories[1])
        html += _div(BOLD, risk) + _div(PLAIN, BODY * 2) + _div(PLAIN, BODY)
    parsed = parse_filing(_filing(html), "caps.html")
    assert [r.title for r in parsed.risks] == CAPS_RISKS
    assert [r.section for r in parsed.risks] == [categories[0]] * 4 + [categories[1]] * 2
    assert parsed.extraction.heading_style == "bold all-caps"
    assert all(len(r.body) > 2 * len(BODY) for r in parsed.risks)


def test_all_caps_categories_over_mixed_case_risk_headings_stay_categories() -> None:
    """Home Depot's layout: bold capitals are the categories, bold sentences the risks."""
    html = ""
    for category, risks in [("STRATEGIC RISKS", OUTLINE[0][2]), ("OPERATIONAL", OUTLINE[1][2])]:
        html += _div(BOLD, category)
        html += "".join(_div(BOLD, r) + _div(PLAIN, BODY * 2) for r in risks)
    parsed = parse_filing(_filing(html), "hd.html")
    assert [r.title for r in parsed.risks] == OUTLINE[0][2] + OUTLINE[1][2]
    assert [r.section for r in parsed.risks] == ["STRATEGIC RISKS"] * 2 + ["OPERATIONAL"] * 3
    assert parsed.extraction.heading_style == "bold"


# --- bullet glyphs ---------------------------------------------------------------------------

GLYPHS = ["•", "●", "▪", "-", "o", "◦", "\uf0b7"]
GLYPH_RISKS = [
    "Declining general economic conditions could reduce demand for our products.",
    "Our suppliers may fail to deliver the components we need on time.",
    "Cyberattacks on our systems could disrupt our operations.",
    "We may be unable to protect our intellectual property.",
    "Changes in trade policy, including tariffs, could raise our costs.",
    "Our indebtedness could limit our flexibility.",
    "Our stock price may be volatile.",
]


@pytest.mark.parametrize(
    "markup",
    ["same-paragraph", "own-cell", "own-paragraph"],
)
def test_bullet_glyphs_are_not_part_of_risk_titles(markup: str) -> None:
    html = _div(BOLD_UNDERLINE, "Risks Related to Our Business")
    for glyph, risk in zip(GLYPHS, GLYPH_RISKS, strict=True):
        if markup == "same-paragraph":
            html += _div(BOLD, f"{glyph} {risk}")
        elif markup == "own-cell":
            html += (
                f'<table><tr><td style="{PLAIN}">{glyph}</td>'
                f'<td><span style="{BOLD}">{risk}</span></td></tr></table>'
            )
        else:
            html += _div(PLAIN, glyph) + _div(BOLD, risk)
        html += _div(PLAIN, BODY * 2)
    parsed = parse_filing(_filing(html), "bullets.html")
    assert [r.title for r in parsed.risks] == GLYPH_RISKS
    # The glyph is in neither the title nor the body of the risk before it.
    assert all(r.body == (BODY * 2).strip() for r in parsed.risks)


def test_short_list_points_in_the_risk_style_stay_in_the_risk() -> None:
    """Short bold points of a list ("cells;") are followed by another bold line, as a
    category is, but continue the list: they stay in the risk's body."""
    html = _div(BOLD, "Risks Related to Our Supply Chain")
    html += _div(BOLD, "We depend on a few suppliers for the components we need:")
    html += _div(BOLD, "battery cells;") + _div(BOLD, "memory chips;") + _div(BOLD, "and displays.")
    html += _div(PLAIN, BODY * 2)
    html += _div(BOLD, "Our stock price may be volatile.") + _div(PLAIN, BODY * 2)
    risks = parse_filing(_filing(html), "points.html").risks
    assert [r.title for r in risks] == [
        "We depend on a few suppliers for the components we need",
        "Our stock price may be volatile.",
    ]
    assert risks[0].body.startswith("battery cells;\nmemory chips;\nand displays.")
    assert {r.section for r in risks} == {"Risks Related to Our Supply Chain"}


def test_plain_text_all_caps_risk_headings() -> None:
    """The same layout with its styles gone (a plain-text filing): the capitals lines
    followed by a paragraph are the risks, the one naming risks is the category."""
    lines = ["RISKS RELATED TO OUR BUSINESS"]
    for risk in CAPS_RISKS:
        lines += [risk, BODY * 3]
    risks = segment([TextBlock(line) for line in lines], styled=False).risks
    assert [r.title for r in risks] == CAPS_RISKS
    assert {r.section for r in risks} == {"RISKS RELATED TO OUR BUSINESS"}


@pytest.mark.parametrize(
    "lines",
    [
        ("We may not be able to compete with", "larger rivals, which could reduce our sales."),
        ("We May Not Be Able to Compete With", "Larger Rivals, Which Could Reduce Our Sales."),
    ],
    ids=["lower-case-continuation", "title-case-continuation"],
)
def test_a_heading_split_over_two_paragraphs_is_one_risk(lines: tuple[str, str]) -> None:
    """Neither half is a category or a risk of its own: the heading goes on."""
    html = _div(BOLD_UNDERLINE, "Risks Related to Our Business")
    html += _div(BOLD, lines[0]) + _div(BOLD, lines[1]) + _div(PLAIN, BODY * 2)
    html += _div(BOLD, GLYPH_RISKS[0]) + _div(PLAIN, BODY * 2)
    html += _div(BOLD, GLYPH_RISKS[1]) + _div(PLAIN, BODY * 2)
    risks = parse_filing(_filing(html), "split.html").risks
    assert [r.title for r in risks] == [f"{lines[0]} {lines[1]}", *GLYPH_RISKS[:2]]
    assert {r.section for r in risks} == {"Risks Related to Our Business"}


def test_a_highlights_list_of_bare_headings_before_the_categories_gives_no_risks() -> None:
    """A "RISK HIGHLIGHTS" banner over a list of headings without bodies (a summary under
    another name): neither the banner nor the list is a risk, nor anyone's category."""
    html = _div(BOLD, "RISK HIGHLIGHTS")
    html += "".join(_div(BOLD, f"• {r}") for r in GLYPH_RISKS[:3])
    html += _outline_html(BOLD, BOLD, BOLD, banner="Risk Factors", intro=False)
    parsed = parse_filing(_filing(html), "highlights.html")
    titles, sections = _expected()
    assert [r.title for r in parsed.risks] == titles
    assert [r.section for r in parsed.risks] == sections


def test_a_bare_heading_before_a_category_neither_is_a_risk_nor_absorbs_the_category() -> None:
    html = _div(BOLD, "Our products may contain defects") + _div(BOLD, "Risks Related to Our Stock")
    html += _div(BOLD, "Our stock price may be volatile.") + _div(PLAIN, BODY * 2)
    html += _div(BOLD, "We may not pay dividends.") + _div(PLAIN, BODY * 2)
    risks = parse_filing(_filing(html), "bare.html").risks
    assert [r.title for r in risks] == [
        "Our stock price may be volatile.",
        "We may not pay dividends.",
    ]
    assert {r.section for r in risks} == {"Risks Related to Our Stock"}


def test_a_banner_repeated_inside_a_risk_neither_ends_it_nor_becomes_its_category() -> None:
    html = _div(BOLD, "Risks Related to Our Stock")
    html += _div(BOLD, "Our stock price may be volatile.") + _div(PLAIN, BODY)
    html += _div(BOLD, "RISK FACTORS (CONTINUED)") + _div(PLAIN, "The price also moves with rates.")
    html += _div(BOLD, "We may not pay dividends.") + _div(PLAIN, BODY)
    risks = parse_filing(_filing(html), "continued.html").risks
    assert [r.title for r in risks] == [
        "Our stock price may be volatile.",
        "We may not pay dividends.",
    ]
    assert risks[0].body.endswith("The price also moves with rates.")
    assert {r.section for r in risks} == {"Risks Related to Our Stock"}
