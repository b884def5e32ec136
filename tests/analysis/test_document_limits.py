"""Bounded work per filing: linear block building on deep nesting, and the early budget."""

from __future__ import annotations

import pytest

from riskdrift.analysis.document import DocumentLimits, html_blocks, parse_document
from riskdrift.errors import FilingParseError, FilingTooComplex

LIMITS = DocumentLimits(max_text_chars=10_000, max_elements=1_000, max_depth=50)


def nested(depth: int, tag: str = "div") -> str:
    return f"<html><body>{f'<{tag}>risk ' * depth}{f'</{tag}>' * depth}</body></html>"


def test_deep_nesting_keeps_one_block_per_level_and_the_inherited_style() -> None:
    depth = 3_000  # the old upward walk made this ~2 s; it must simply work
    html = "<html><body><b>" + "<div>risk " * depth + "</div>" * depth + "</b></body></html>"
    blocks = html_blocks(html).blocks
    assert len(blocks) == depth
    assert all(block.text == "risk" and block.bold == 1.0 for block in blocks)


def test_hidden_ancestor_above_deep_nesting_hides_everything() -> None:
    html = '<body><p>shown</p><div style="display:none">' + "<div>x " * 500 + "</div>" * 500
    assert [b.text for b in html_blocks(html + "</div></body>").blocks] == ["shown"]


@pytest.mark.parametrize(
    ("html", "measure"),
    [
        (nested(60), "nesting depth"),  # caught before parsing
        (nested(60, "span"), "nesting depth"),  # not p-closing: caught while building blocks
        ("<div>a</x>" * 60, "nesting depth"),  # stray end tags do not hide the depth
        ("<body>" + "<p>a</p>" * 1_100 + "</body>", "elements"),
        ("<body><p>" + "word " * 3_000 + "</p></body>", "characters of text"),
    ],
    ids=["div", "span", "stray-end-tags", "elements", "text"],
)
def test_a_document_over_budget_fails_naming_the_measure_limit_and_filing(
    html: str, measure: str
) -> None:
    with pytest.raises(FilingTooComplex) as caught:
        parse_document(html.encode(), "HOSTILE 2024 10-K", LIMITS)
    err = caught.value
    assert isinstance(err, FilingParseError)  # a permanent error: the job fails at once
    assert (err.measure, err.limit, err.filing) == (measure, LIMITS.__getattribute__(
        {"nesting depth": "max_depth", "elements": "max_elements",
         "characters of text": "max_text_chars"}[measure]), "HOSTILE 2024 10-K")  # fmt: skip
    assert str(err).startswith("HOSTILE 2024 10-K: ")
    assert measure in str(err)


def test_plain_text_over_the_character_budget_fails() -> None:
    with pytest.raises(FilingTooComplex, match="characters of text"):
        parse_document(b"ITEM 1A. RISK FACTORS\n" + b"word " * 3_000, "old.txt", LIMITS)


def test_documents_within_budget_parse_as_without_limits() -> None:
    html = "<html><body>" + "<div><p><b>Heading.</b> body text</p></div>" * 100 + "</body></html>"
    assert parse_document(html.encode(), "ok", LIMITS) == parse_document(html.encode(), "ok")
