"""Sentence splitting and alignment: synthetic edits of a real Item 1A are found as made."""

from __future__ import annotations

import dataclasses
import random

import pytest

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.document import DocumentMetadata
from riskdrift.analysis.pipeline import ParsedFiling, compare_filings, score_risks
from riskdrift.analysis.risks import RiskFactor
from riskdrift.analysis.sentences import (
    SentenceAligner,
    is_trivial_edit,
    normalise_trivia,
    split_sentences,
    word_diff,
)
from riskdrift.models import ExtractionRecord, RiskChange
from tests.analysis.corpus_cache import consecutive_pairs, html_path, parsed
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
    # The current Item 1A is made of the edited risks: moved sentences are sought in it.
    current = ParsedFiling(
        previous.name, "\n".join(r.text for r in risks), tuple(risks), previous.metadata,
        previous.styled, previous.extraction,
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


# --- trivial edits ---------------------------------------------------------------------------

TRIVIAL_PAIRS = {
    "punctuation": (
        "We rely on suppliers, and on carriers.",
        "We rely on suppliers and on carriers",
    ),
    "spacing": ("Our reputation . It matters.", "Our reputation. It  matters."),
    "split word": ("F or example, we may fail.", "For example, we may fail."),
    "hyphen space": ("We use third- party vendors.", "We use third-party vendors."),
    "hyphen word": ("We use third-party vendors.", "We use third party vendors."),
    "compound": ("Cyber-attacks may occur.", "Cyberattacks may occur."),
    "case": ("The Board may act.", "The board may act."),
    "curly quote": ("The company’s “key” risk.", 'The company\'s "key" risk.'),
    "dash style": ("Sales – mostly abroad — fell.", "Sales - mostly abroad -- fell."),
    "thousands": ("We employ 12,500 people.", "We employ 12500 people."),
    "percent": ("Sales fell 5% in 2024.", "Sales fell 5 percent in 2024."),
    "per cent": ("Sales fell 5 per cent.", "Sales fell 5%."),
    "abbreviation dots": ("U.S. tariffs rose.", "US tariffs rose."),
}
REAL_EDITS = {
    "number": ("Sales fell 5% in 2024.", "Sales fell 7% in 2024."),
    "year": ("Sales fell in 2023.", "Sales fell in 2024."),
    "decimal": ("We owe $1.5 billion.", "We owe $15 billion."),
    "figures run together": ("Units 2023 10 sold.", "Units 202310 sold."),
    "word": ("We may be subject to tariffs.", "We are subject to tariffs."),
    "plural": ("Our supplier may fail.", "Our suppliers may fail."),
    "negation": ("We can comply.", "We cannot comply."),
}


@pytest.mark.parametrize("kind", sorted(TRIVIAL_PAIRS))
def test_trivial_edits_are_told_apart_from_real_ones(kind: str) -> None:
    previous, current = TRIVIAL_PAIRS[kind]
    assert is_trivial_edit(previous, current)
    changes = SentenceAligner([previous, current]).align(previous, current)
    assert (changes.added, changes.removed, changes.edited) == ([], [], [])
    # A change of case alone was never an edit (the sentences are unchanged); any other
    # trivial difference is listed as a trivial edit.
    pairs = list(zip(split_sentences(previous), split_sentences(current), strict=True))
    assert [(e.previous, e.current, e.trivial) for e in changes.trivial_edits] == [
        (p, c, True) for p, c in pairs if p.casefold() != c.casefold()
    ]
    assert changes.unchanged == sum(p.casefold() == c.casefold() for p, c in pairs)


@pytest.mark.parametrize("kind", sorted(REAL_EDITS))
def test_edits_of_words_and_figures_are_never_trivial(kind: str) -> None:
    previous, current = REAL_EDITS[kind]
    assert not is_trivial_edit(previous, current)
    assert normalise_trivia(previous) != normalise_trivia(current)
    changes = SentenceAligner([previous, current]).align(previous, current)
    assert changes.trivial_edits == []
    assert changes.edited or (changes.added and changes.removed)


def test_a_risk_with_only_trivial_edits_is_unchanged_without_drift() -> None:
    body = (
        "We rely on third-party vendors for 1,000 parts. A vendor's failure could harm us.\n"
        "Cyberattacks on our vendors may disrupt supply. We hold 5% of the market."
    )
    trivial = (
        "We rely on third- party vendors for 1000 parts. A vendor’s failure could harm us.\n"
        "Cyber-attacks on our vendors may disrupt supply. We hold 5 percent of the market ."
    )
    real = body.replace("of the market", "of the domestic market")
    other = "Interest rates may rise and our debt may cost more to refinance."

    def filing(first: str) -> ParsedFiling:
        risks = (
            RiskFactor("We depend on vendors.", first, None, 0),
            RiskFactor("Rates may rise.", other, None, 1),
        )
        return ParsedFiling(
            "synthetic", "\n".join(r.text for r in risks), risks, DocumentMetadata(), True,
            ExtractionRecord(strategy="item_heading"),
        )  # fmt: skip

    lexicon = load_lexicon(None)
    previous = filing(body)

    def compare(current: ParsedFiling) -> RiskChange:
        report = compare_filings(
            current, previous, score_risks(current.risks, lexicon),
            score_risks(previous.risks, lexicon),
        )  # fmt: skip
        return report.changes[0]

    only_trivial = compare(filing(trivial))
    assert only_trivial.status == "unchanged"
    assert only_trivial.drift_score == 0.0
    assert only_trivial.changes is not None  # kept for the report's "show trivial edits"
    assert len(only_trivial.changes.trivial_edits) == 4  # every sentence, trivially
    assert only_trivial.changes.edited == []

    with_real = compare(filing(real.replace("third-party", "third- party")))
    assert with_real.status == "modified"
    assert with_real.changes is not None
    assert [e.current for e in with_real.changes.edited] == ["We hold 5% of the domestic market."]
    assert len(with_real.changes.trivial_edits) == 1
    # Drift counts the real edit alone: the same as the risk with no trivial edit.
    assert with_real.drift_score == compare(filing(real)).drift_score > 0


@needs_corpus
def test_no_real_edit_on_the_corpus_is_equal_after_normalisation() -> None:
    lexicon = load_lexicon(None)
    edits = trivial = 0
    for ticker, current_year, previous_year in consecutive_pairs():
        cur, prev = (
            parsed(html_path(ticker, current_year)),
            parsed(html_path(ticker, previous_year)),
        )
        report = compare_filings(
            cur, prev, score_risks(cur.risks, lexicon), score_risks(prev.risks, lexicon)
        )
        for row in report.changes:
            if row.changes is None:
                continue
            for edit in row.changes.edited:
                edits += 1
                assert not edit.trivial
                assert normalise_trivia(edit.previous) != normalise_trivia(edit.current), edit
            for edit in row.changes.trivial_edits:
                trivial += 1
                assert edit.trivial
                assert edit.previous != edit.current
                assert normalise_trivia(edit.previous) == normalise_trivia(edit.current)
            if row.status == "unchanged":
                assert not (row.changes.added)
                assert not (row.changes.removed)
                assert not (row.changes.edited)
    print(f"corpus: {edits} edits, {trivial} trivial edits")
    assert edits > 100


@needs_corpus
def test_the_cheap_prefilter_never_hides_a_trivial_edit() -> None:
    """The aligner compares full normalisations only of sentences whose cheap key matches;
    the cheap key must be the full normalisation without its decimal points and spaces."""
    from riskdrift.analysis.sentences import _coarse

    checked = 0
    for ticker, year in [("META", 2024), ("NVDA", 2025), ("WMT", 2025)]:
        for risk in parsed(html_path(ticker, year)).risks:
            for sentence in split_sentences(risk.body):
                full = normalise_trivia(sentence)
                assert _coarse(sentence) == full.replace(".", "").replace(" ", ""), sentence
                checked += 1
    assert checked > 1000
