"""Sentence splitting and alignment: synthetic edits of a real Item 1A are found as made."""

from __future__ import annotations

import dataclasses
import random

import pytest

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.pipeline import ParsedFiling, compare_filings, score_risks
from riskdrift.analysis.sentences import SentenceAligner, split_sentences, word_diff
from tests.analysis.corpus_cache import html_path, parsed
from tests.corpus import needs_corpus


def test_abbreviations_numbers_and_bullets_do_not_split_wrongly() -> None:
    text = (
        "We sell in the U.S. and in Europe. Revenue was $1.2 billion, up 3.5% (e.g. from "
        "Apple Inc. and others). Our No. 1 customer, J. Smith Co., buys 10% of it. "
        "It is sold by Acme Corp. We may fail? Yes!\n• tariffs; and\n• export controls."
    )
    assert split_sentences(text) == [
        "We sell in the U.S. and in Europe.",
        "Revenue was $1.2 billion, up 3.5% (e.g. from Apple Inc. and others).",
        "Our No. 1 customer, J. Smith Co., buys 10% of it.",
        "It is sold by Acme Corp.",
        "We may fail?",
        "Yes!",
        "• tariffs; and",
        "• export controls.",
    ]


def test_reordered_sentences_are_unchanged_and_boilerplate_does_not_pair() -> None:
    previous = (
        "Our suppliers are few. Demand for chips may fall. Tariffs on steel could adversely "
        "affect our business, financial condition and results of operations."
    )
    current = (
        "Demand for chips may fall. Our suppliers are few. New export licensing rules could "
        "adversely affect our business, financial condition and results of operations."
    )
    changes = SentenceAligner([previous, current]).align(previous, current)
    assert changes.unchanged == 2
    assert changes.edited == []
    assert [s.text for s in changes.removed] == [split_sentences(previous)[2]]
    assert [(s.text, s.position) for s in changes.added] == [(split_sentences(current)[2], 2)]


def test_word_diff_marks_inserted_and_deleted_words() -> None:
    ops, similarity = word_diff(
        "Our costs could rise in 2024.", "Our costs could rise sharply in 2025."
    )
    assert [(o.op, o.text) for o in ops] == [
        ("equal", "Our costs could rise"),
        ("insert", "sharply"),
        ("equal", "in"),
        ("delete", "2024."),
        ("insert", "2025."),
    ]
    assert 0.5 < similarity < 1


UNRELATED = [
    "Our headquarters building in Austin may need a new roof within five years.",
    "A shortage of forklift drivers at the Reno warehouse has delayed shipments twice.",
    "The municipal water authority plans to double its connection fee next spring.",
    "Pilots at our charter airline voted to form a union last quarter.",
]


def _edit(body: str, kind: str, rng: random.Random) -> tuple[str, dict[str, list[str]]]:
    """``body`` with one known edit, and the sentences that edit added, removed, reworded.

    Edits are made on the body's text in place, so its lines (paragraphs, bullets) stay.
    """
    sentences = [s for s in split_sentences(body) if s in body and s[:1].isupper()]
    target = rng.choice(sentences)
    new = rng.choice(UNRELATED)
    if kind == "insert":
        return body.replace(target, f"{new} {target}", 1), {
            "added": [new], "removed": [], "edited": []
        }  # fmt: skip
    if kind == "delete":
        return body.replace(f"{target} ", "", 1) if f"{target} " in body else body.replace(
            target, "", 1
        ), {"added": [], "removed": [target], "edited": []}  # fmt: skip
    if kind == "replace":
        return body.replace(target, new, 1), {"added": [new], "removed": [target], "edited": []}
    # reword: two words added to a long sentence
    target = rng.choice([s for s in sentences if len(s.split()) >= 12] or sentences)
    words = target.split()
    words.insert(4, "significantly")
    words.insert(len(words) - 2, "further")
    reworded = " ".join(words)
    return body.replace(target, reworded, 1), {"added": [], "removed": [], "edited": [reworded]}


@needs_corpus
@pytest.mark.parametrize(("ticker", "year"), [("TSLA", 2023), ("AAPL", 2024), ("NVDA", 2024)])
def test_synthetic_edits_are_found_as_made(ticker: str, year: int) -> None:
    previous = parsed(html_path(ticker, year))
    rng = random.Random(f"{ticker}{year}")
    kinds = ["insert", "delete", "replace", "reword"]
    risks, expected = [], {}
    for i, risk in enumerate(previous.risks):
        if i % 3 == 2 or len(split_sentences(risk.body)) < 3:
            risks.append(risk)  # untouched
            continue
        body, made = _edit(risk.body, kinds[i % 4], rng)
        expected[i] = made
        risks.append(dataclasses.replace(risk, body=body))
    current = ParsedFiling(
        previous.name, previous.item1a_text, tuple(risks), previous.metadata, previous.styled,
        previous.extraction,
    )  # fmt: skip
    lexicon = load_lexicon(None)
    report = compare_filings(
        current, previous, score_risks(current.risks, lexicon), score_risks(previous.risks, lexicon)
    )
    rows = {r.title_current: r for r in report.changes}
    right = 0
    for i, risk in enumerate(current.risks):
        row = rows[risk.title]
        assert row.title_previous == risk.title  # every risk keeps its pair
        if i not in expected:
            assert row.status == "unchanged"
            assert row.changes is None
            continue
        assert row.changes is not None
        found = {
            "added": [s.text for s in row.changes.added],
            "removed": [s.text for s in row.changes.removed],
            "edited": [e.current for e in row.changes.edited],
        }
        right += found == expected[i]
    assert len(expected) >= 8
    print(f"{ticker} {year}: {right} of {len(expected)} edited risks exactly right")
    assert right / len(expected) >= 0.9, f"{right} of {len(expected)} edited risks right"
