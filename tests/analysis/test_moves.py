"""Sentences moved between risks are not changes (riskdrift/analysis/moves.py, issue #22).

Synthetic filings written here: a sentence moved from one risk to another, a heading
line read as a sentence of the risk before it in one year only (as plain-text extracts
have it), a boilerplate sentence that loses one of its copies, an edit whose new side
already stood in another risk.
"""

from __future__ import annotations

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.document import DocumentMetadata
from riskdrift.analysis.materiality import score_changes
from riskdrift.analysis.moves import SectionIndex
from riskdrift.analysis.pipeline import DriftReport, ParsedFiling, compare_filings, score_risks
from riskdrift.analysis.risks import RiskFactor
from riskdrift.models import ExtractionRecord, RiskChange

SUPPLY = (
    "We depend on a small number of suppliers",
    "Our products use components that only a few suppliers make. "
    "A supplier that stops shipping could halt our assembly lines for weeks. "
    "We hold about two months of inventory of these parts.",
)
PRICES = (
    "Prices of raw materials may rise",
    "Steel and copper make up most of the cost of our products. "
    "Their prices moved by a third in each of the last five years. "
    "We may not be able to pass higher costs on to our customers.",
)
TALENT = (
    "We may not keep our engineers",
    "Competition for engineers in our region is intense. "
    "Losing members of our design team could delay new products.",
)
MOVED = "A strike at our only foundry partner in Taiwan would stop deliveries of every chip."
BOILERPLATE = "Any of these events could harm our business and results of operations."


def _filing(name: str, risks: list[tuple[str, str]]) -> ParsedFiling:
    factors = tuple(
        RiskFactor(title=t, body=b, section=None, position=k) for k, (t, b) in enumerate(risks)
    )
    return ParsedFiling(
        name,
        "Item 1A. Risk Factors\n" + "\n".join(f"{t}\n{b}" for t, b in risks),
        factors,
        DocumentMetadata(),
        styled=False,
        extraction=ExtractionRecord(strategy="synthetic"),
    )


def _compare(current: list[tuple[str, str]], previous: list[tuple[str, str]]) -> DriftReport:
    lexicon = load_lexicon(None)
    cur, prev = _filing("current", current), _filing("previous", previous)
    return compare_filings(
        cur, prev, score_risks(cur.risks, lexicon), score_risks(prev.risks, lexicon)
    )


def _row(report: DriftReport, title: str) -> RiskChange:
    return next(r for r in report.changes if title in (r.title_current, r.title_previous))


def test_a_sentence_moved_between_risks_is_moved_not_added_or_removed() -> None:
    report = _compare(
        [SUPPLY, (PRICES[0], f"{PRICES[1]} {MOVED}"), TALENT],
        [(SUPPLY[0], f"{SUPPLY[1]} {MOVED}"), PRICES, TALENT],
    )
    supply, prices = _row(report, SUPPLY[0]), _row(report, PRICES[0])
    for row, year, other in ((supply, "previous", PRICES[0]), (prices, "current", SUPPLY[0])):
        assert row.status == "unchanged"
        assert row.drift_score == 0
        assert row.changes is not None
        assert (row.changes.added, row.changes.removed, row.changes.edited) == ([], [], [])
        assert [(m.text, m.year, m.other_risk) for m in row.changes.moved] == [(MOVED, year, other)]
    assert _row(report, TALENT[0]).changes is None
    # Materiality never scores a moved sentence.
    assert not any(MOVED in f"{c.current} {c.previous}" for c in score_changes(report.changes))


def test_a_moved_sentence_next_to_a_real_addition_leaves_the_addition() -> None:
    added = "A flood closed our Ohio plant for nine days in March 2024."
    report = _compare(
        [SUPPLY, (PRICES[0], f"{PRICES[1]} {MOVED} {added}")],
        [(SUPPLY[0], f"{SUPPLY[1]} {MOVED}"), PRICES],
    )
    prices = _row(report, PRICES[0])
    assert prices.status == "modified"
    assert prices.changes is not None
    assert [s.text for s in prices.changes.added] == [added]
    assert [m.text for m in prices.changes.moved] == [MOVED]
    assert any(added in f"{c.current} {c.previous}" for c in score_changes(report.changes))


def test_a_heading_merged_into_the_risk_before_it_in_one_year_is_no_new_risk() -> None:
    # Last year's extract lost the heading line's break: TALENT's heading and body were
    # read as sentences of PRICES. This year the two are apart.
    merged = (PRICES[0], f"{PRICES[1]}\n{TALENT[0]}.\n{TALENT[1]}")
    report = _compare([SUPPLY, PRICES, TALENT], [SUPPLY, merged])
    talent, prices = _row(report, TALENT[0]), _row(report, PRICES[0])
    assert talent.status == "unchanged"
    assert talent.title_previous == PRICES[0]  # where last year held its text
    assert prices.status == "unchanged"
    for row in (talent, prices):
        assert row.changes is not None
        assert (row.changes.added, row.changes.removed, row.changes.edited) == ([], [], [])
        assert row.changes.moved
    assert {r.status for r in report.changes} == {"unchanged"}
    assert not score_changes(report.changes)


def test_a_risk_with_new_text_of_its_own_stays_new() -> None:
    fresh = (
        "New export rules may bar sales to our largest market",
        "In October 2024 the Commerce Department restricted exports of our top products. "
        "Sales to the affected customers were a fifth of our revenue. "
        f"{BOILERPLATE}",
    )
    report = _compare(
        [(SUPPLY[0], f"{SUPPLY[1]} {BOILERPLATE}"), fresh],
        [(SUPPLY[0], f"{SUPPLY[1]} {BOILERPLATE}"), (PRICES[0], f"{PRICES[1]} {BOILERPLATE}")],
    )
    new = _row(report, fresh[0])
    assert new.status == "new"
    assert new.changes is not None
    # The boilerplate closing line stood in PRICES last year: moved, not added.
    assert [m.text for m in new.changes.moved] == [BOILERPLATE]
    assert BOILERPLATE not in [s.text for s in new.changes.added]
    assert len(new.changes.added) == 2


def test_a_sentence_repeated_twice_last_year_and_once_this_year_loses_one_copy() -> None:
    report = _compare(
        [(SUPPLY[0], f"{SUPPLY[1]} {BOILERPLATE}"), PRICES],
        [(SUPPLY[0], f"{SUPPLY[1]} {BOILERPLATE}"), (PRICES[0], f"{PRICES[1]} {BOILERPLATE}")],
    )
    prices = _row(report, PRICES[0])
    assert prices.status == "modified"
    assert prices.changes is not None
    assert [s.text for s in prices.changes.removed] == [BOILERPLATE]
    assert not prices.changes.moved


def test_an_edit_whose_new_side_stood_in_another_risk_is_no_edit() -> None:
    old = "A strike at our only foundry partner in Korea would stop deliveries of every chip."
    new = MOVED  # this year's sentence replaces ``old``; last year it stood in SUPPLY
    report = _compare(
        [(SUPPLY[0], f"{SUPPLY[1]} {MOVED}"), (PRICES[0], f"{PRICES[1]} {new}")],
        [(SUPPLY[0], f"{SUPPLY[1]} {MOVED}"), (PRICES[0], f"{PRICES[1]} {old}")],
    )
    prices = _row(report, PRICES[0])
    assert prices.changes is not None
    assert not prices.changes.edited
    assert [s.text for s in prices.changes.removed] == [old]
    # Two copies this year, one last year: the second copy is an addition.
    assert [s.text for s in prices.changes.added] == [new]


def test_section_index_finds_whole_sentences_and_clauses_not_pieces() -> None:
    index = SectionIndex.of(
        "Risks include:\n• higher costs;\n• lower demand.\nWe sell tools. We sell well-made parts."
    )
    assert index.occurrences("Risks include: higher costs; lower demand.") == 1
    assert index.occurrences("• lower demand.") == 1
    assert index.occurrences("We sell well made parts.") == 1  # trivia folded
    assert index.occurrences("We sell tools.") == 1
    assert index.occurrences("sell tools.") == 0  # a piece cut out of a sentence
    assert index.occurrences("Risks include: higher") == 0
    # A piece a line break cut (no closing punctuation) may stand inside a sentence.
    assert index.occurrences("We sell tools We sell well") == 1
