"""Layouts of issue 22 that come down to how a filing's text is unwrapped and laid out.

Each test is a small synthetic filing in the pattern the failing real 10-Ks use
(written here, not copied): an HTML 10-K in an SGML ``<DOCUMENT>`` envelope whose
``<TYPE>``, ``<FILENAME>`` and ``<DESCRIPTION>`` are empty, and a 10-K whose body is
preformatted plain text with a few inline tags (``<b>Item 1A. Risk Factors.</b>``
inside running text, blank lines between paragraphs).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from riskdrift.analysis.document import parse_document
from riskdrift.analysis.pipeline import parse_filing
from riskdrift.errors import FilingParseError
from riskdrift.sources.local import LocalFilingSource
from riskdrift.sources.submission import annual_report, is_submission

WRAPPED_BODY = (
    "We operate in many markets and a change in any of them could reduce our\n"
    "revenue, raise our costs or delay our products, and the effects could last\n"
    "several years and spread to the markets next to them.\n"
)
HEADINGS = [
    "Demand for our widgets may fall.",
    "We depend on a few large customers.",
    "Our suppliers may fail to deliver parts on time.",
    "Changes in tax law could raise our costs.",
]


def _preformatted(*, heading_inline: bool = True) -> str:
    """Plain text with blank lines between paragraphs and bold item and risk headings."""
    text = (
        "                      ACME WIDGETS, INC.\n\n"
        "PART I\n\n"
        "<b>Item 1. Business.</b>\n\n"
        "We make widgets and sell them to manufacturers\n"
        "around the world."
    )
    text += " " if heading_inline else "\n\n"
    text += "<b>Item 1A. Risk Factors.</b> The risks below could harm our\nbusiness.\n\n"
    for heading in HEADINGS:
        text += f"<b>{heading}</b>\n{WRAPPED_BODY * 2}\n"
    text += "<b>Item 1B. Unresolved Staff Comments.</b>\n\nNone.\n"
    return text


@pytest.mark.parametrize(
    "wrap",
    [
        lambda body: f"<html><body><pre>\n{body}</pre></body></html>",
        lambda body: f"<html><body>\n{body}</body></html>",  # bare text in <body>
        lambda body: body,  # a text document with inline tags only
    ],
    ids=["pre", "bare-body", "text"],
)
@pytest.mark.parametrize("heading_inline", [True, False], ids=["inline", "own-line"])
def test_preformatted_body_with_inline_bold_headings(wrap: object, heading_inline: bool) -> None:
    document = wrap(_preformatted(heading_inline=heading_inline))  # type: ignore[operator]
    parsed = parse_filing(document.encode(), "preformatted.html")
    assert [r.title for r in parsed.risks] == HEADINGS
    assert parsed.extraction.heading_style == "bold"
    for risk in parsed.risks:
        assert risk.body == " ".join((WRAPPED_BODY * 2).split())
    assert parsed.item1a_text.startswith("The risks below could harm our business.")
    assert "Unresolved" not in parsed.item1a_text


def test_preformatted_paragraphs_are_blocks_and_lines_are_joined() -> None:
    html = "<html><body><pre>First line\nof one paragraph.\n\n<b>A heading</b>\nBody.</pre>"
    blocks = parse_document(html.encode(), "p.html").blocks
    assert [(b.text, b.bold) for b in blocks] == [
        ("First line of one paragraph.", 0.0),
        ("A heading", 1.0),
        ("Body.", 0.0),
    ]


def test_preformatted_text_without_blank_lines_is_one_block_per_line() -> None:
    html = "<html><body><pre>Item 1A. Risk Factors\nOur margins vary.\nThey may fall.</pre>"
    blocks = parse_document(html.encode(), "p.html").blocks
    assert [b.text for b in blocks] == [
        "Item 1A. Risk Factors",
        "Our margins vary.",
        "They may fall.",
    ]


# --- SGML envelope with empty tags ---------------------------------------------------------


def _html_10k() -> str:
    body = "".join(f"<p><b>{h}</b></p><p>{' '.join(WRAPPED_BODY.split())}</p>" for h in HEADINGS)
    return (
        "<HTML><BODY><P><B>Item 1A. Risk Factors</B></P>"
        f"{body}<P><B>Item 1B. Unresolved Staff Comments</B></P><P>None.</P></BODY></HTML>"
    )


def _envelope(*documents: tuple[str, str]) -> bytes:
    """An SGML envelope whose documents all have empty TYPE/FILENAME/DESCRIPTION tags."""
    parts = ["<SEC-DOCUMENT>0000000000-09-000001.txt : 20090227\n"]
    for sequence, (_, text) in enumerate(documents, 1):
        parts.append(
            f"<DOCUMENT>\n<TYPE>\n<SEQUENCE>{sequence}\n<FILENAME>\n<DESCRIPTION>\n"
            f"<TEXT>\n{text}\n</TEXT>\n</DOCUMENT>\n"
        )
    parts.append("</SEC-DOCUMENT>\n")
    return "".join(parts).encode()


def test_empty_envelope_tags_still_give_the_10k_body() -> None:
    exhibit = "<HTML><BODY><P>Subsidiaries: Acme Ohio LLC</P></BODY></HTML>"
    graphic = "begin 644 logo.jpg\n" + "M" * 200 + "\nend"
    content = _envelope(("exhibit", exhibit), ("10-K", _html_10k()), ("graphic", graphic))
    assert is_submission(content)
    document = annual_report(content, "2008.txt")
    assert document.type == ""
    assert b"Item 1A. Risk Factors" in document.content
    assert b"Acme Ohio" not in document.content
    parsed = parse_filing(document.content, "2008.txt")
    assert [r.title for r in parsed.risks] == HEADINGS


async def test_local_source_unwraps_an_envelope_with_empty_tags(tmp_path: Path) -> None:
    folder = tmp_path / "ACME"
    folder.mkdir()
    (folder / "2008.txt").write_bytes(_envelope(("10-K", _html_10k())))
    filing = await LocalFilingSource(tmp_path).fetch("ACME", 2008)
    assert filing.document == "2008.txt (untyped document)"
    assert filing.content.lstrip().startswith(b"<HTML>")
    assert len(parse_filing(filing.content, filing.name).risks) == len(HEADINGS)


def test_an_envelope_without_any_text_still_fails_clearly() -> None:
    content = b"<SEC-DOCUMENT>\n<DOCUMENT>\n<TYPE>\n<TEXT>\n</TEXT>\n</DOCUMENT>\n"
    with pytest.raises(FilingParseError, match="holds no <DOCUMENT>"):
        annual_report(content, "x.txt")


def test_an_emphasised_line_inside_a_sentence_is_not_a_heading() -> None:
    html = "<body>We face\n<b>significant</b>\ncompetition.\n<b>Next heading.</b>\nBody.</body>"
    assert [b.text for b in parse_document(html.encode(), "b.html").blocks] == [
        "We face significant competition.",
        "Next heading.",
        "Body.",
    ]


def test_plain_text_submission_pages_lose_their_running_headers_and_numbers() -> None:
    """``<PAGE>`` of an SGML plain-text document is a page break: the page number and the
    running header around it go, and the paragraph it cut is joined."""
    pages = []
    for n, heading in enumerate(HEADINGS):
        pages.append(
            f"{heading}\n\n{WRAPPED_BODY}\n"
            f"    The rest of paragraph {'ABCD'[n]} was cut by the end of the\n\n"
            f"                                  {n + 7}\n"
            "<PAGE>\n"
            "ACME WIDGETS, INC. - ANNUAL REPORT\n\n"
            "page, and it carries on here to its end.\n\n"
        )
    body = "".join(pages)
    text = f"ITEM 1A.  RISK FACTORS\n\n{body}ITEM 1B.  UNRESOLVED STAFF COMMENTS\n\nNone.\n"
    content = (
        "<SEC-DOCUMENT>\n<DOCUMENT>\n<TYPE>10-K\n<FILENAME>form10k.txt\n<TEXT>\n"
        f"{text}</TEXT>\n</DOCUMENT>\n"
    ).encode()
    document = annual_report(content, "2006.txt")
    parsed = parse_filing(document.content, "2006.txt")
    assert [r.title for r in parsed.risks] == HEADINGS
    for risk, letter in zip(parsed.risks, "ABCD", strict=True):
        assert risk.body.endswith(
            f"The rest of paragraph {letter} was cut by the end of the page, and it carries on "
            "here to its end."
        )
    assert "ACME" not in parsed.item1a_text


def test_page_tags_of_an_html_submission_are_page_breaks() -> None:
    pages = "".join(
        f"<P><B>{h}</B></P><P>{' '.join(WRAPPED_BODY.split())} It goes on</P>"
        f"<P>Acme Widgets {2008} Annual Report {n}</P>\n<PAGE>\n<P>past the page end.</P>"
        for n, h in enumerate(HEADINGS)
    )
    html = (
        "<HTML><BODY><P><B>Item 1A. Risk Factors</B></P>"
        f"{pages}<P><B>Item 1B. Unresolved Staff Comments</B></P><P>None.</P></BODY></HTML>"
    )
    content = (
        "<SEC-DOCUMENT>\n<DOCUMENT>\n<TYPE>10-K\n<FILENAME>d10k.htm\n<TEXT>\n"
        f"{html}\n</TEXT>\n</DOCUMENT>\n"
    ).encode()
    parsed = parse_filing(annual_report(content, "2008.txt").content, "2008.txt")
    assert [r.title for r in parsed.risks] == HEADINGS
    assert all(r.body.endswith("It goes on past the page end.") for r in parsed.risks)
    assert "Annual Report" not in parsed.item1a_text


def test_an_indented_first_line_starts_a_paragraph_of_wrapped_text() -> None:
    text = (
        "ITEM 1A.  RISK FACTORS\n\n"
        "     Demand may fall. If it does, our sales\n"
        "could decline.\n"
        "     We depend on a few\n"
        "   large customers.\n"
    )
    assert [b.text for b in parse_document(text.encode(), "t.txt").blocks] == [
        "ITEM 1A. RISK FACTORS",
        "Demand may fall. If it does, our sales could decline.",
        "We depend on a few large customers.",
    ]
