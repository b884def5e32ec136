"""Emerging and fading themes: counts a reader can reproduce by searching the filings."""

from __future__ import annotations

import re
from functools import cache

import pytest

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.pipeline import DriftReport, compare_filings, score_risks
from riskdrift.analysis.themes import (
    MAX_FORMS,
    TermFolding,
    count_terms,
    find_themes,
    fold_word,
)
from riskdrift.models import Themes
from tests.analysis.corpus_cache import consecutive_pairs, html_path, parsed
from tests.corpus import needs_corpus


def test_a_new_phrase_emerges_and_a_dropped_one_fades() -> None:
    debt = "Our indebtedness could limit us. Our indebtedness grows. Our indebtedness is large."
    notes = "The notes mature in 2026. We may refinance the notes. Holders of the notes may sue."
    export = (
        "New export controls restrict sales. Export controls may widen. The export controls "
        "apply to China."
    )
    ai = "Generative AI may change demand. Generative AI models need chips. Generative AI is new."
    themes = find_themes(
        count_terms(f"{export}\n{ai}", [(0, export), (2, ai)]),
        count_terms(f"{debt}\n{notes}", [(1, debt), (3, notes)]),
    )
    emerging = {t.term: t for t in themes.emerging}
    assert emerging["export controls"].count_current == 3
    assert emerging["export controls"].count_previous == 0
    assert emerging["export controls"].risks_current == [0]
    assert emerging["generative ai"].count_current == 3
    assert emerging["generative ai"].risks_current == [2]
    assert "export" not in emerging  # inside "export controls" every time it is used
    fading = {t.term: t for t in themes.fading}
    assert fading["indebtedness"].count_previous == 3
    assert fading["indebtedness"].risks_previous == [1]
    assert fading["notes"].count_previous == 3
    assert fading["notes"].forms == ["notes"]
    # Stop words and generic risk vocabulary never make a theme on their own.
    assert not {"may", "could", "our", "adversely"} & (set(emerging) | set(fading))


@cache
def _report(ticker: str, current: int, previous: int) -> DriftReport:
    lexicon = load_lexicon(None)
    cur, prev = parsed(html_path(ticker, current)), parsed(html_path(ticker, previous))
    return compare_filings(
        cur, prev, score_risks(cur.risks, lexicon), score_risks(prev.risks, lexicon)
    )


def _occurrences(term: str, text: str, *, stem: bool = False) -> int:
    """How often a reader's search finds ``term`` in ``text``: the words as spelled, plus up
    to three letters ("controls", "tariffs"); with ``stem``, from the word's first letters
    ("remed" finds remedy and remedies)."""
    words = [
        re.escape(w[: max(3, len(w) - 3)]) + r"\w*" if stem else re.escape(w) + r"\w{0,3}"
        for w in term.split()
    ]
    return len(re.findall(r"\b" + r"[\s\-]+".join(words) + r"\b", text, re.IGNORECASE))


@needs_corpus
@pytest.mark.parametrize(("ticker", "current", "previous"), consecutive_pairs())
def test_themes_can_be_found_by_searching_the_filings(
    ticker: str, current: int, previous: int
) -> None:
    report = _report(ticker, current, previous)
    cur = parsed(html_path(ticker, current)).item1a_text
    prev = parsed(html_path(ticker, previous)).item1a_text
    for theme in report.themes.emerging:
        assert theme.count_current >= 3
        assert theme.count_previous <= 0.2 * theme.count_current
        assert _occurrences(theme.term, cur) >= 1, theme.term
        assert _occurrences(theme.term, cur) <= theme.count_current + 2, theme.term
        assert theme.risks_current, theme.term
        for row in theme.risks_current:
            risk = report.changes[row]
            text = f"{risk.title_current}\n{risk.text_current}"
            assert _occurrences(theme.term, text, stem=True) >= 1, (theme.term, row)
    for theme in report.themes.fading:
        assert theme.count_previous >= 3
        assert _occurrences(theme.term, prev) >= 1, theme.term


@needs_corpus
def test_nvidia_2025_themes_and_changes() -> None:
    """Export controls: the AI Diffusion rule emerged; the notes and indebtedness faded."""
    report = _report("NVDA", 2025, 2024)
    emerging = {t.term: t for t in report.themes.emerging}
    assert "ai diffusion ifr" in emerging
    assert emerging["ai diffusion ifr"].count_previous == 0
    fading = {t.term for t in report.themes.fading}
    assert "indebtedness" in fading

    export = next(
        r for r in report.changes if r.title_current and r.title_current.startswith(
            "We are subject to complex laws, rules, regulations"
        )
    )  # fmt: skip
    assert export.status == "modified"
    assert export.changes is not None
    added = " ".join(s.text for s in export.changes.added)
    assert "AI Diffusion" in added
    assert "export" in added.lower()

    removed = next(r for r in report.changes if r.status == "removed")
    assert removed.title_previous is not None
    assert removed.title_previous.startswith("Our indebtedness could adversely affect")
    assert removed.changes is not None
    assert removed.changes.added == []
    assert removed.changes.removed
    assert removed.text_previous is not None
    body = " ".join(removed.text_previous.split())
    assert all(s.text in body for s in removed.changes.removed)


# --- folding variants (#22) -------------------------------------------------------------------


def _themes(current: list[str], previous: list[str]) -> Themes:
    """Themes of two years given as lists of risk texts (rows 0.. this year, 100.. last)."""
    cur, prev = "\n".join(current), "\n".join(previous)
    folding = TermFolding.of(cur, prev)
    return find_themes(
        count_terms(cur, list(enumerate(current)), folding),
        count_terms(prev, [(100 + i, t) for i, t in enumerate(previous)], folding),
    )


def _terms(themes: Themes) -> tuple[set[str], set[str]]:
    return {t.term for t in themes.emerging}, {t.term for t in themes.fading}


@pytest.mark.parametrize(
    ("word", "folded"),
    [
        ("Tariffs", "tariff"),
        ("policies", "policy"),
        ("taxes", "tax"),
        ("branches", "branch"),
        ("Walmex's", "walmex"),
        ("court’s", "court"),
        ("business", "business"),
        ("status", "status"),
        ("analysis", "analysis"),
        ("biologics", "biologic"),
        ("biological", "biological"),
        ("operations", "operation"),
        ("operator", "operator"),
    ],
)
def test_fold_word_folds_plurals_and_possessives_only(word: str, folded: str) -> None:
    assert fold_word(word) == folded


def test_hyphen_space_and_compound_spellings_are_one_term() -> None:
    previous = [
        "Cyber-attacks may disrupt our stores. We defend against cyber-attacks daily.",
        "Third party vendors face cyber-attacks too.",
    ]
    current = [
        "Cyberattacks may disrupt our stores. We defend against cyber attacks daily.",
        "Third-party vendors face cyberattacks too.",
    ]
    cur, prev = "\n".join(current), "\n".join(previous)
    folding = TermFolding.of(cur, prev)
    now, then = count_terms(cur, [], folding), count_terms(prev, [], folding)
    assert now.counts[("cyberattack",)] == then.counts[("cyberattack",)] == 3
    assert now.counts[("third", "party")] == then.counts[("third", "party")] == 1
    assert set(now.spellings[("cyberattack",)]) == {"cyberattacks", "cyber attacks"}
    emerging, fading = _terms(_themes(current, previous))
    assert not {"cyberattacks", "cyber attacks", "cyber-attacks"} & (emerging | fading)


def test_no_part_of_a_folded_word_rises_or_falls_on_its_own() -> None:
    """ "cyber attacks" last year and "cyberattacks" now: "cyber" and "attacks" did not fade,
    "party" did not emerge from "third-party"."""
    previous = [
        "Cyber attacks hit stores. Cyber attacks hit vendors.",
        "Cyber attacks rise. We rely on third party carriers.",
        "Third party carriers fail. Third party carriers strike.",
    ]
    current = [
        "Cyberattacks hit stores. Cyberattacks hit vendors.",
        "Cyberattacks rise. We rely on third-party carriers.",
        "Third-party carriers fail. Third-party carriers strike.",
    ]
    emerging, fading = _terms(_themes(current, previous))
    assert emerging == fading == set()
    cur, prev = "\n".join(current), "\n".join(previous)
    folding = TermFolding.of(cur, prev)
    now, then = count_terms(cur, [], folding), count_terms(prev, [], folding)
    for term in [("cyber",), ("attack",), ("party",), ("third", "party", "carrier")]:
        assert now.counts[term] == then.counts[term], term
    assert set(now.spellings[("third", "party", "carrier")]) == {"third-party carriers"}


def test_different_words_are_not_merged_by_a_stem() -> None:
    previous = ["Our biologics face competition. Biologics are costly.", "Biologics sell."]
    current = ["Biological threats may spread. Biological agents harm.", "Biological risk."]
    emerging, fading = _terms(_themes(current, previous))
    assert "biological" in emerging
    assert "biologics" in fading


def test_an_acronym_and_the_expansion_the_filing_defines_are_one_term() -> None:
    previous = [
        "Our environmental, social and governance (ESG) goals draw scrutiny. ESG rules vary.",
        "Investors weigh ESG ratings. Our ESG reports may be challenged.",
    ]
    current = [
        "Our environmental, social and governance goals draw scrutiny. "
        "Environmental, Social, and Governance rules vary.",
        "Investors weigh environmental, social and governance ratings. Our "
        "environmental, social and governance reports may be challenged.",
    ]
    cur, prev = "\n".join(current), "\n".join(previous)
    folding = TermFolding.of(cur, prev)  # defined last year only: it folds both years
    assert folding.acronyms == {"ESG": ("environmental,", "social", "and", "governance")}
    now, then = count_terms(cur, [], folding), count_terms(prev, [], folding)
    # The definition "expansion (ESG)" is one use, not two.
    assert now.counts[("esg",)] == then.counts[("esg",)] == 4
    themes = _themes(current, previous)
    emerging, fading = _terms(themes)
    assert not {"esg", "environmental", "governance"} & (emerging | fading)

    gone = _themes(["We sell tools.", "Our tools rust."], previous)
    (esg,) = [t for t in gone.fading if t.term == "esg"]
    assert esg.count_previous == 4  # the definition counts once, then ESG three times
    assert esg.forms == ["esg", "environmental, social and governance"]


@pytest.mark.parametrize(
    ("text", "acronym", "expansion"),
    [
        ("under the Know-Your-Customer (KYC) rules", "KYC", "Know-Your-Customer"),
        (
            "the Court of Justice of the European Union (“CJEU”) ruled",
            "CJEU",
            "Court of Justice of the European Union",
        ),
        ("the Inflation Reduction Act (the IRA) passed", "IRA", "Inflation Reduction Act"),
        ("our artificial intelligence (AI) models", "AI", "artificial intelligence"),
    ],
)
def test_acronym_definitions_are_found(text: str, acronym: str, expansion: str) -> None:
    folding = TermFolding.of(text)
    assert {a: " ".join(w) for a, w in folding.acronyms.items()} == {acronym: expansion}


@pytest.mark.parametrize(
    "text",
    ["in the United States (US)", "information technology (IT) systems", "see clause (a)",
     "our Chief Financial Officer (CEO)", "the Company (Apple)"],
)  # fmt: skip
def test_no_acronym_is_defined_by_a_stop_word_a_mismatch_or_a_name(text: str) -> None:
    assert TermFolding.of(text).acronyms == {}


def test_one_reworded_risk_cannot_fill_the_list() -> None:
    reworded = (
        "Quantum sensors, lidar arrays, drone swarms and orbital relays are new. "
        "Quantum sensors fail. Lidar arrays fail. Drone swarms fail. Orbital relays fail. "
        "Quantum sensors cost. Lidar arrays cost. Drone swarms cost. Orbital relays cost."
    )
    spread = ["Tariffs rose. Tariffs may rise.", "Tariffs hurt margins."]
    themes = _themes([reworded, *spread], ["We sell tools.", "Tools rust.", "Tools break."])
    single = [t for t in themes.emerging if len(t.risks_current) == 1]
    assert len(single) == 1
    assert single[0].risks_current == [0]
    assert "tariffs" in {t.term for t in themes.emerging}


def _variant_key(term: str) -> str:
    """A term with spacing, hyphens and plurals folded: two themes with one key are one term
    spelled two ways."""
    return fold_word(re.sub(r"[\s\-]+", "", term.casefold()))


@needs_corpus
@pytest.mark.parametrize(("ticker", "current", "previous"), consecutive_pairs())
def test_no_theme_emerges_and_fades_under_two_spellings(
    ticker: str, current: int, previous: int
) -> None:
    report = _report(ticker, current, previous)
    emerging, fading = report.themes.emerging, report.themes.fading
    assert not {_variant_key(t.term) for t in emerging} & {_variant_key(t.term) for t in fading}
    # An acronym the filing defines never fades while its expansion emerges (or the reverse).
    cur = parsed(html_path(ticker, current)).item1a_text
    prev = parsed(html_path(ticker, previous)).item1a_text
    for acronym, words in TermFolding.of(cur, prev).acronyms.items():
        spelled = _variant_key(" ".join(w.strip(",") for w in words))
        for ups, downs in ((emerging, fading), (fading, emerging)):
            up = {_variant_key(t.term) for t in ups}
            down = {_variant_key(t.term) for t in downs}
            assert not (_variant_key(acronym) in up and spelled in down), acronym
    # One risk gives at most one theme used in no other risk.
    for terms, rows in ((emerging, "risks_current"), (fading, "risks_previous")):
        alone = [getattr(t, rows)[0] for t in terms if len(getattr(t, rows)) == 1]
        assert len(alone) == len(set(alone)), (ticker, alone)


@needs_corpus
@pytest.mark.parametrize(("ticker", "current", "previous"), consecutive_pairs())
def test_a_themes_forms_reproduce_its_count(ticker: str, current: int, previous: int) -> None:
    """Searching the filing for every form a theme lists finds at least its count (more
    only where a form also occurs across a clause break, or a definition "expansion
    (ACRONYM)" is found by both searches)."""
    report = _report(ticker, current, previous)
    cur = parsed(html_path(ticker, current)).item1a_text
    prev = parsed(html_path(ticker, previous)).item1a_text
    checked = 0
    for theme in [*report.themes.emerging, *report.themes.fading]:
        if len(theme.forms) >= MAX_FORMS:
            continue  # some spellings are not listed
        for text, count in ((cur, theme.count_current), (prev, theme.count_previous)):
            found = sum(_occurrences(form, text) for form in theme.forms)
            assert found >= count, (theme.term, theme.forms, found, count)
        checked += 1
    assert checked
