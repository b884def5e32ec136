"""Page furniture and extraction artefacts never reach the analysis (issue 22).

Synthetic documents show each rule of :func:`riskdrift.analysis.document.remove_furniture`
and of the way a block's text is built; the corpus tests inject running headers,
footers and page numbers into real filings of both years (different page numbers
each year, one paragraph cut by a page break) and require the very result the
filings give without them.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.document import html_blocks, parse_document, text_blocks
from riskdrift.analysis.pipeline import analyse_documents, parse_filing
from riskdrift.analysis.sentiment import Lexicon
from riskdrift.models import AnalysisResult, FilingDocument
from tests.analysis.corpus_cache import consecutive_pairs, html_path
from tests.corpus import ITEM1A_ONLY, LAYOUTS, needs_corpus

BODY = (
    "We operate in many markets and a change in any of them could reduce our revenue, "
    "raise our costs or delay our products, and the effects could last several years. "
)
BOLD = "font-weight:700"
#: Distinct openings of body paragraphs (real paragraphs do not repeat).
OPENINGS = ["Our widgets", "Several customers", "Suppliers abroad", "New tax rules", "Rivals"]
HEADINGS = [
    "Demand for our widgets may fall.",
    "We depend on a few large customers for most of our sales.",
    "Our suppliers may fail to deliver parts on time.",
    "Changes in tax law could raise our costs.",
]


def _page_end(year: int, page: int) -> str:
    """A Workiva-style page end: footer, page-break rule, "Table of Contents" back-link."""
    return (
        f'<div style="text-align:center"><span>Acme Holdings, Inc. | {year} Form 10-K | '
        f"{page}</span></div>"
        '<hr style="page-break-after:always"/>'
        '<div><a href="#toc">Table of Contents</a></div>'
    )


def _filing(year: int, first_page: int, *, cut: bool = False) -> bytes:
    """Item 1A with a page end after every risk; ``cut`` breaks the second risk's
    paragraph in the middle of a sentence."""
    html = (
        '<html><body><div id="toc">Table of Contents</div>'
        f'<div><span style="{BOLD}">Item 1A. Risk Factors</span></div>'
    )
    for i, heading in enumerate(HEADINGS):
        body = BODY * 3
        if cut and i == 1:
            half = body.index(" raise our costs")
            body = f"{body[:half]}</div>{_page_end(year, first_page + 40)}<div>{body[half + 1 :]}"
        html += f'<div><span style="{BOLD}">{heading}</span></div><div>{body}</div>'
        html += _page_end(year, first_page + i)
    html += (
        f'<div><span style="{BOLD}">Item 1B. Unresolved Staff Comments</span></div>'
        "<div>None.</div></body></html>"
    )
    return html.encode()


def test_footers_page_numbers_and_back_links_are_dropped() -> None:
    parsed = parse_filing(_filing(2025, 14), "furnished.html")
    assert [r.title for r in parsed.risks] == HEADINGS
    for risk in parsed.risks:
        assert risk.body == BODY.strip() + " " + (BODY * 2).strip()
    assert "Form 10-K" not in parsed.item1a_text
    assert "Table of Contents" not in parsed.item1a_text


def test_a_paragraph_cut_by_a_page_break_is_joined() -> None:
    parsed = parse_filing(_filing(2025, 14, cut=True), "cut.html")
    assert parsed.risks[1].body == (BODY * 3).strip()
    assert "Acme" not in parsed.item1a_text


def test_a_paragraph_ended_before_a_page_break_stays_apart() -> None:
    html = (
        "<body><p>We sell widgets.</p><hr/><p>Acme 1</p>"
        "<p>the word starts lower-case but the paragraph before it ended.</p>"
        "<p>We also sell</p><hr/><p>Acme 2</p><p>Gadgets are our other line.</p>"
        "<p>Bold next.</p><hr/><p>Acme 3</p><p>The end.</p></body>"
    )
    texts = [b.text for b in html_blocks(html).blocks]
    assert texts == [
        "We sell widgets.",
        "the word starts lower-case but the paragraph before it ended.",
        "We also sell",
        "Gadgets are our other line.",
        "Bold next.",
        "The end.",
    ]


@pytest.mark.parametrize(
    "rule",
    [
        '<div style="page-break-before:always"></div>',
        '<div style="page-break-after: always"></div>',
        '<div style="break-before: page"></div>',
        "<hr/>",
        "",  # the page number alone marks the page end
    ],
)
def test_every_page_break_markup_is_recognised(rule: str) -> None:
    html = "<body>"
    for page in range(1, 5):
        html += (
            f"<p>{OPENINGS[page]} of the business section run on</p>"
            f"<p>Widget Report {2020 + page}</p><p>{page}</p>{rule}"
            f"<p>and continue here on the next page.</p>"
        )
    texts = [b.text for b in html_blocks(html + "</body>").blocks]
    assert texts == [
        f"{OPENINGS[p]} of the business section run on and continue here on the next page."
        for p in range(1, 5)
    ]


@pytest.mark.parametrize(
    ("footer", "header"),
    [
        ("2025 FORM 10-K {n}", ""),
        ("WIDGET CORP 2024 FORM 10-K {n}", ""),
        ("The Widget Company {n}", ""),
        ("{n}.", "Table of Contents Widget Inc."),
        ("Page {n} of 120", "RISK FACTORS"),
        ("Widget Corp. | 2025 Annual Report", "- {n} -"),
    ],
)
def test_running_headers_and_footers_of_any_wording_are_dropped(footer: str, header: str) -> None:
    html = "<body><p>Item 1A. Risk Factors</p>"
    for page in range(1, 6):
        n = 10 + page
        html += (
            f"<p>{OPENINGS[page - 1]} may cause us to lose sales because of patent</p>"
            f"<p>{footer.format(n=n)}</p><hr/>"
            + (f"<p>{header.format(n=n)}</p>" if header else "")
            + "<p>infringement or other claims against us.</p>"
        )
    texts = [b.text for b in html_blocks(html + "</body>").blocks]
    assert texts == ["Item 1A. Risk Factors"] + [
        f"{OPENINGS[p]} may cause us to lose sales because of patent infringement or other "
        "claims against us."
        for p in range(5)
    ]


def test_a_word_hyphenated_across_a_page_break_is_whole_again() -> None:
    html = "<body>"
    for page in range(1, 5):
        html += (
            f"<p>{OPENINGS[page]} rely on third-</p><p>Widget Report {page}</p><hr/>"
            "<p>party suppliers.</p>"
        )
    texts = [b.text for b in html_blocks(html + "</body>").blocks]
    assert texts == [f"{OPENINGS[p]} rely on third-party suppliers." for p in range(1, 5)]


def test_break_after_an_element_with_content_falls_after_its_content() -> None:
    html = "<body>"
    for page in range(1, 5):
        html += (
            f"<p>{OPENINGS[page]} end without a stop</p>"
            f'<div style="page-break-after:always"><p>Widget Report {page}</p></div>'
            "<p>and go on after the break.</p>"
        )
    texts = [b.text for b in html_blocks(html + "</body>").blocks]
    assert texts == [
        f"{OPENINGS[p]} end without a stop and go on after the break." for p in range(1, 5)
    ]


def test_short_text_that_does_not_recur_is_not_furniture() -> None:
    html = (
        "<body><p>Item 1A. Risk Factors</p><hr/><p>Competition</p><p>We compete.</p>"
        "<hr/><p>Regulation</p><p>We are regulated.</p><hr/><p>Item 1B.</p></body>"
    )
    assert [b.text for b in html_blocks(html).blocks] == [
        "Item 1A. Risk Factors",
        "Competition",
        "We compete.",
        "Regulation",
        "We are regulated.",
        "Item 1B.",
    ]


def test_item_headings_and_sentences_are_never_furniture() -> None:
    html = "<body>"
    for page in range(1, 6):
        html += (
            f"<p>Body text of page {page}.</p><p>Not applicable.</p><hr/>"
            f"<p>Item 1A. Risk Factors</p><p>More body text {page}.</p>"
        )
    texts = [b.text for b in html_blocks(html + "</body>").blocks]
    assert texts.count("Not applicable.") == 5
    assert texts.count("Item 1A. Risk Factors") == 5


def test_table_cells_that_are_numbers_are_not_page_numbers() -> None:
    html = (
        "<body><p>Our segments</p><table><tr><td>Widgets</td></tr><tr><td>12</td></tr>"
        "</table><p>and their results</p></body>"
    )
    assert [b.text for b in html_blocks(html).blocks] == [
        "Our segments",
        "Widgets",
        "12",
        "and their results",
    ]


def test_plain_text_form_feeds_and_repeated_lines_are_furniture() -> None:
    lines = []
    for page in range(1, 5):
        lines += [
            f"{OPENINGS[page]} make up the body of this page and it goes on",
            f"Acme Holdings {2020 + page} Annual Report",
            f"- {page} -",
            "\f",
            "ACME HOLDINGS, INC.",
            "into the next page.",
        ]
    text = "\n".join(lines)
    assert [b.text for b in text_blocks(text).blocks] == [
        f"{OPENINGS[p]} make up the body of this page and it goes on into the next page."
        for p in range(1, 5)
    ]


# --- extraction artefacts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        # A drop cap: the first letter styled apart from the rest of the word.
        ('<p><span style="font-size:18pt">F</span><span>or many years we grew.</span></p>',
         "For many years we grew."),
        # Punctuation in a run of its own (another colour or font).
        ('<p><span>harm our reputation</span><span style="color:#333">.</span>'
         "<span> We also</span></p>", "harm our reputation. We also"),
        ("<p><span>espionage</span><span>, </span><span>monetary gain</span></p>",
         "espionage, monetary gain"),
        # A hyphenated word whose halves are separate elements.
        ("<p><span>third-</span><span>party suppliers</span></p>", "third-party suppliers"),
        # A word split across inline elements.
        ("<p>I<span>tem 1A</span></p>", "Item 1A"),
        # Real whitespace between inline elements stays one space.
        ("<p><b>Bold</b> <i>italic</i>\n<u>under</u></p>", "Bold italic under"),
        # <br> and table cells are word boundaries even without a space.
        ("<p>first line<br/>second line</p>", "first line second line"),
        ("<table><tr><td>Item 1A.</td><td>Risk Factors</td></tr></table>",
         "Item 1A. Risk Factors"),
        # A bullet set off by padding, not by a space.
        ('<div><span>&#8226;</span><span style="padding-left:14.5pt">local conditions;</span>'
         "</div>", "• local conditions;"),
        ('<p><span style="display:block">Widgets</span><span style="display:block">'
         "Gadgets</span></p>", "Widgets Gadgets"),
    ],
)  # fmt: skip
def test_inline_elements_are_joined_without_invented_spaces(html: str, text: str) -> None:
    assert [b.text for b in html_blocks(f"<body>{html}</body>").blocks] == [text]


# --- the corpus with furniture injected ----------------------------------------------------

#: Block boundaries outside tables, where a page may end.
_BOUNDARY = re.compile(r"</div>\s*<div\b|<(/?)table\b", re.IGNORECASE)
#: Inject a page end at every this many block boundaries (~every page of a Workiva 10-K).
EVERY = 20
_PHRASE = re.compile(r"[A-Za-z ,]{30,}? [a-z][A-Za-z ,]{30,}")


def _html_page_end(year: int, page: int) -> str:
    return (
        f'<div style="text-align:center"><span>Acme Holdings, Inc. | {year} Form 10-K | '
        f"{page}</span></div>"
        '<div style="break-after:page"></div>'
        '<div><a href="#top">Table of Contents</a></div>'
        f'<div style="text-align:right"><span>ACME HOLDINGS {year}</span></div>'
    )


def _furnish_html(html: str, year: int, first_page: int) -> str:
    """Page ends at every :data:`EVERY`-th block boundary outside tables."""
    out: list[str] = []
    position = depth = seen = 0
    page = first_page
    for match in _BOUNDARY.finditer(html, html.lower().find("<body")):
        if "table" in match.group(0).lower():
            depth += -1 if match.group(1) else 1
            continue
        seen += 1
        if depth or seen % EVERY:
            continue
        end = match.start() + len("</div>")
        out += [html[position:end], _html_page_end(year, page)]
        page += 1
        position = end
    out.append(html[position:])
    return "".join(out)


def _cut_html(html: str, body: str, year: int) -> str:
    """Cut a paragraph of ``body`` mid-sentence (before a lower-case word) with a page end."""
    for match in _PHRASE.finditer(body):
        phrase = match.group(0)
        if html.count(phrase) != 1:
            continue
        space = next(m.start() for m in re.finditer(r" (?=[a-z])", phrase) if m.start() >= 30)
        left, right = phrase[:space], phrase[space + 1 :]
        page_end = _html_page_end(year, 99)
        return html.replace(phrase, f"{left}</span></div>{page_end}<div><span>{right}")
    raise AssertionError("no phrase of the risk occurs once in the filing to cut")


@cache
def _lexicon() -> Lexicon:
    return load_lexicon(None)


def _analyse(ticker: str, documents: dict[int, bytes], suffix: str) -> AnalysisResult:
    current, previous = sorted(documents, reverse=True)
    filings = [
        FilingDocument(ticker, y, documents[y], f"{ticker}/{y}{suffix}", "local")
        for y in (current, previous)
    ]
    return analyse_documents(filings[0], filings[1], _lexicon())


def _claims(result: AnalysisResult) -> list[object]:
    """What the result says changed, risk by risk."""
    claims: list[object] = []
    for risk in result.risks:
        changes = risk.changes
        claims.append(
            (
                risk.status,
                risk.title_current,
                risk.title_previous,
                risk.section,
                None
                if changes is None
                else (
                    sorted(s.text for s in changes.added),
                    sorted(s.text for s in changes.removed),
                    sorted((e.previous, e.current) for e in changes.edited),
                ),
            )
        )
    return claims


def _assert_same_result(plain: AnalysisResult, furnished: AnalysisResult) -> None:
    assert _claims(furnished) == _claims(plain)
    for change in furnished.risks:
        for text in (change.text_current or "", change.text_previous or ""):
            assert "Acme Holdings" not in text
            assert "ACME HOLDINGS" not in text


@needs_corpus
@pytest.mark.parametrize(("ticker", "current", "previous"), consecutive_pairs())
def test_injected_html_furniture_changes_nothing(ticker: str, current: int, previous: int) -> None:
    documents = {y: html_path(ticker, y).read_text("utf-8") for y in (current, previous)}
    plain = _analyse(ticker, {y: d.encode() for y, d in documents.items()}, ".html")
    unchanged = [r for r in plain.risks if r.status == "unchanged" and r.text_current]
    assert unchanged, "the pair needs an unchanged risk to cut"
    furnished = {
        current: _furnish_html(
            _cut_html(documents[current], unchanged[0].text_current or "", current), current, 3
        ),
        previous: _furnish_html(documents[previous], previous, 11),
    }
    assert furnished[current].count("break-after:page") > 10
    result = _analyse(ticker, {y: d.encode() for y, d in furnished.items()}, ".html")
    _assert_same_result(plain, result)


def _text_pairs() -> list[tuple[str, int, int]]:
    if not ITEM1A_ONLY.is_dir():
        return []
    years: dict[str, list[int]] = {}
    for path in sorted(ITEM1A_ONLY.glob("*/*.item1a.txt")):
        years.setdefault(path.parent.name, []).append(int(path.name.split(".")[0]))
    return [
        (ticker, ys[i + 1], ys[i])
        for ticker, ys in years.items()
        for i in range(len(ys) - 1)
        if ys[i + 1] == ys[i] + 1
    ][::3]


def _text_path(ticker: str, year: int) -> Path:
    return ITEM1A_ONLY / ticker / f"{year}.item1a.txt"


def _furnish_text(text: str, year: int, first_page: int, cut: str | None) -> str:
    """A form feed with footer, page number and header about every 6 lines; ``cut`` (a
    paragraph of the text) is broken mid-sentence across a page end. The other page
    ends fall between paragraphs: where the extract already has a paragraph cut (no
    closing punctuation, a lower-case line after), a break would rightly mend it."""

    def page_end(page: int) -> list[str]:
        return [f"Acme Holdings, Inc. {year} Annual Report", str(page), "\f", "ACME HOLDINGS"]

    out: list[str] = []
    page = first_page
    lines = text.split("\n")
    for n, line in enumerate(lines):
        if cut is not None and line == cut:
            space = next(m.start() for m in re.finditer(r" (?=[a-z])", line) if m.start() > 80)
            out += [line[:space], *page_end(99), line[space + 1 :]]
        else:
            out.append(line)
        following = lines[n + 1] if n + 1 < len(lines) else ""
        cut_here = not re.search(r"[.!?:;]\W*$", line) and following[:1].islower()
        if n % 6 == 5 and not cut_here:
            out += page_end(page)
            page += 1
    return "\n".join(out)


@needs_corpus
@pytest.mark.parametrize(("ticker", "current", "previous"), _text_pairs())
def test_injected_plain_text_furniture_changes_nothing(
    ticker: str, current: int, previous: int
) -> None:
    texts = {y: _text_path(ticker, y).read_text("utf-8") for y in (current, previous)}
    plain = _analyse(ticker, {y: t.encode() for y, t in texts.items()}, ".txt")
    lines = set(texts[current].split("\n"))
    cut = next(
        (
            line
            for r in plain.risks
            if r.status == "unchanged"
            for line in (r.text_current or "").split("\n")
            if len(line) > 200 and line in lines and re.search(r" [a-z]", line[80:])
        ),
        None,
    )
    assert cut is not None, "the pair needs an unchanged risk with a long paragraph to cut"
    furnished = {
        current: _furnish_text(texts[current], current, 2, cut),
        previous: _furnish_text(texts[previous], previous, 30, None),
    }
    assert furnished[current].count("\f") > 3
    result = _analyse(ticker, {y: t.encode() for y, t in furnished.items()}, ".txt")
    _assert_same_result(plain, result)


def test_parse_document_removes_furniture_of_text_documents() -> None:
    text = "\n".join(f"{OPENINGS[n]} say something.\nAcme Report\n{n}\n\f" for n in range(1, 5))
    assert [b.text for b in parse_document(text.encode(), "x.txt").blocks] == [
        f"{OPENINGS[n]} say something." for n in range(1, 5)
    ]


@needs_corpus
@pytest.mark.parametrize("filing", ["GE/2023.html", "TXN/2023.html", "UNP/2024.html"])
def test_injected_furniture_leaves_a_layout_filing_as_it_was(filing: str) -> None:
    """The layouts corpus (titled sections, underlined and lead-in headings): the same
    Item 1A text and risks with page ends injected throughout."""
    html = (LAYOUTS / filing).read_text("utf-8")
    plain = parse_filing(html.encode(), filing)
    furnished = _furnish_html(html, 2024, 5)
    assert furnished.count("break-after:page") > 10
    result = parse_filing(furnished.encode(), filing)
    assert result.item1a_text == plain.item1a_text
    assert result.risks == plain.risks
    assert result.extraction == plain.extraction


def test_a_bullet_glyph_on_its_own_line_joins_its_item() -> None:
    text = "Risks include:\n•\nlower demand;\n•\nhigher costs.\n"
    assert [b.text for b in text_blocks(text).blocks] == [
        "Risks include:",
        "• lower demand;",
        "• higher costs.",
    ]


def test_sgml_page_markers_left_in_a_text_document_are_page_breaks() -> None:
    text = "".join(
        f"{OPENINGS[n]} are the subject of this page\n\n{n + 3}\n<PAGE>\nACME INC.\n\n"
        "and of the next.\n\n"
        for n in range(4)
    )
    assert [b.text for b in text_blocks(text).blocks] == [
        f"{OPENINGS[n]} are the subject of this page and of the next." for n in range(4)
    ]


def test_a_text_written_a_paragraph_per_line_mends_an_evident_cut() -> None:
    text = (
        "We obtain insurance against some of these events, including\n"
        "damage to our property. Insurance has limits.\n"
        "Changes in tax law could raise our costs.\n"
        "our rates may rise as well.\n"
    )
    assert [b.text for b in text_blocks(text).blocks] == [
        "We obtain insurance against some of these events, including damage to our "
        "property. Insurance has limits.",
        "Changes in tax law could raise our costs.",
        "our rates may rise as well.",
    ]
