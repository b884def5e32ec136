"""An independent check of what an analysis result claims changed (issue #22).

The reference side is ``tests/analysis/reference.py``: each filing's Item 1A read
its own way, never through riskdrift's extraction or sentence splitter.

The claims come from an :class:`~riskdrift.models.AnalysisResult`: every new and
removed risk, every risk's added, removed and edited sentences. :func:`check_claims`
tests each against the two years' Item 1A (normalised: white space, quotes, dashes,
soft hyphens, bullets, case). "Present" means as one or more whole sentences (from a
sentence start to a sentence end), not a piece cut out of one:

- ``added``: present in the current year, absent from the previous one (or there
  fewer times: a sentence repeated in several risks may gain a copy);
- ``removed``: the reverse;
- ``edited``: each side present in its year, the two sides differ beyond trivia
  (punctuation, spacing, hyphens, quotes, case), and the new side did not already
  stand in the previous year;
- ``new risk`` / ``removed risk``: a body of its own, a title in its year's Item 1A
  that is not furniture, and less than :data:`SAME_RISK_SHARE` of its text in the
  other year's Item 1A;
- every claimed sentence: not page furniture, not a fragment with no words.

A layout filing (one year) gets ``risk`` claims: each risk's title and body lines stand
somewhere in Item 1A, none is furniture, no body is empty.

:func:`missed_changes` runs a plain sentence diff of the two Item 1As (a sentence is
changed when, trivia aside, it is not in the other year's text, so a sentence a page
break cut differently each year is not a change) and lists the changed sentences the
result reports nowhere. Failing claims carry a category (furniture, cut sentence,
artefact, moved, …) so the figures say what is wrong, not only how much.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.pipeline import analyse_documents, parse_filing
from riskdrift.analysis.sentiment import Lexicon
from riskdrift.models import AnalysisResult, FilingDocument, RiskChange
from tests.analysis.reference import (
    Furniture,
    Item1AText,
    fold_trivia,
    normalise,
    reference_item1a,
    word_triples,
)

__all__ = [
    "Claim",
    "ClaimCheck",
    "Miss",
    "PairReport",
    "Totals",
    "check_claim",
    "check_claims",
    "check_layout",
    "claims_of",
    "item1a_only_pairs",
    "layout_filings",
    "layout_report",
    "missed_changes",
    "pair_report",
    "real10k_pairs",
    "reference_changes",
    "totals",
]


# ---------------------------------------------------------------------------------------
# Claims and their checks
# ---------------------------------------------------------------------------------------

ClaimKind = Literal["added", "removed", "edited", "new risk", "removed risk", "risk"]


@dataclass(frozen=True, slots=True)
class Claim:
    """One thing a result says: a sentence added or removed, an edit, a risk's text."""

    kind: ClaimKind
    risk: str
    text: str
    previous: str | None = None
    """An edit's previous side (``text`` is its current side); a new or removed risk's
    title (``text`` is its body)."""


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """A claim and, when it does not hold, why (``problem``) in a category."""

    claim: Claim
    problem: str | None = None
    category: str | None = None

    @property
    def holds(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        c = self.claim
        if c.kind == "edited":
            quoted = f"{_clip(c.previous or '')!r} -> {_clip(c.text)!r}"
        elif c.kind in ("new risk", "removed risk"):
            quoted = f"{_clip(c.previous or '')!r}: {_clip(c.text, 80)!r}"
        else:
            quoted = repr(_clip(c.text))
        return f"[{self.category}] {c.kind} in {c.risk!r}: {quoted} ({self.problem})"


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: Claimed sentences with fewer letters than this are fragments, whatever else they are.
MIN_LETTERS = 3


def _risk_name(change: RiskChange) -> str:
    return (change.title_current or change.title_previous or "?")[:60]


def claims_of(result: AnalysisResult) -> Iterator[Claim]:
    """Every claim of a result: each new or removed risk (title, then body), each added,
    removed and edited sentence; edits flagged trivial by the result left out (they do
    not claim a change)."""
    for change in result.risks:
        name = _risk_name(change)
        if change.status == "new":
            yield Claim("new risk", name, change.text_current or "", change.title_current)
        elif change.status == "removed":
            yield Claim("removed risk", name, change.text_previous or "", change.title_previous)
        if change.changes is None:
            continue
        for added in change.changes.added:
            yield Claim("added", name, added.text)
        for removed in change.changes.removed:
            yield Claim("removed", name, removed.text)
        for edit in change.changes.edited:
            if getattr(edit, "trivial", False):
                continue
            yield Claim("edited", name, edit.current, edit.previous)


def _presence_problem(sentence: str, year: Item1AText, label: str) -> tuple[str, str] | None:
    if year.holds(sentence):
        return None
    if year.contains(sentence):
        return f"only part of a sentence of the {label} Item 1A", "cut sentence"
    if re.sub(r"\s+", "", normalise(sentence)) in year.squeezed:
        return f"not in the {label} Item 1A as spaced (spacing artefact)", "artefact"
    glued = year.furniture.glued(sentence)
    if glued is not None:
        return f"not in the {label} Item 1A: furniture {glued!r} glued on", "furniture"
    return f"not in the {label} Item 1A", "not in filing"


def _common(sentence: str, furniture: Furniture) -> tuple[str, str] | None:
    if sum(c.isalpha() for c in sentence) < MIN_LETTERS:
        return "no words", "fragment"
    if furniture.is_furniture(sentence):
        return "page furniture", "furniture"
    return None


#: A new (removed) risk with this share of its body's word triples in the previous
#: (current) year's Item 1A is no new (removed) risk: its text stands in both years.
SAME_RISK_SHARE = 0.8


def _check_risk(claim: Claim, own: Item1AText, other: Item1AText, label: str) -> ClaimCheck:
    title = claim.previous or ""
    if not claim.text.strip():
        return ClaimCheck(claim, "a heading with no body of its own", "empty")
    if own.furniture.is_furniture(title):
        return ClaimCheck(claim, "its title is page furniture", "furniture")
    if not own.contains(title):
        return ClaimCheck(claim, f"its title is not in the {label} Item 1A", "not in filing")
    body = word_triples(claim.text)
    shared = len(body & other.triples) / max(len(body), 1)
    if shared >= SAME_RISK_SHARE:
        other_label = "previous" if label == "current" else "current"
        return ClaimCheck(
            claim,
            f"{shared:.0%} of its text stands in the {other_label} Item 1A too",
            "unchanged (moved or repeated)",
        )
    return ClaimCheck(claim)


def check_claim(claim: Claim, current: Item1AText, previous: Item1AText) -> ClaimCheck:
    """Whether one claim holds against the two years' Item 1A (see the module docstring)."""
    if claim.kind == "new risk":
        return _check_risk(claim, current, previous, "current")
    if claim.kind == "removed risk":
        return _check_risk(claim, previous, current, "previous")
    if claim.kind == "edited":
        assert claim.previous is not None
        for side, year, label in (
            (claim.previous, previous, "previous"),
            (claim.text, current, "current"),
        ):
            found = _common(side, year.furniture) or _presence_problem(side, year, label)
            if found:
                return ClaimCheck(claim, f"{label} side: {found[0]}", found[1])
        if fold_trivia(claim.previous) == fold_trivia(claim.text):
            return ClaimCheck(claim, "differs only in trivia", "trivial edit")
        if previous.holds(claim.text):
            return ClaimCheck(
                claim, "the new side already stands in the previous year", "not an edit"
            )
        return ClaimCheck(claim)
    own, other = (current, previous) if claim.kind in ("added", "risk") else (previous, current)
    own_label, other_label = (
        ("current", "previous") if claim.kind in ("added", "risk") else ("previous", "current")
    )
    if claim.kind == "risk":
        # A risk's title may be a lead-in of its first paragraph: any stretch of text will do.
        found = _common(claim.text, own.furniture)
        if found is None and not own.contains(claim.text):
            found = _presence_problem(claim.text, own, own_label)
    else:
        found = _common(claim.text, own.furniture) or _presence_problem(claim.text, own, own_label)
    if found:
        return ClaimCheck(claim, found[0], found[1])
    # A sentence a filer repeats in several risks may lose (gain) one of its copies: a
    # claim holds while the year it is claimed for has more copies than the other.
    if claim.kind != "risk" and other.occurrences(claim.text) >= own.occurrences(claim.text):
        return ClaimCheck(
            claim,
            f"stands as a whole sentence in the {other_label} Item 1A as often",
            "unchanged (moved or repeated)",
        )
    return ClaimCheck(claim)


def check_claims(
    result: AnalysisResult, current: Item1AText, previous: Item1AText
) -> list[ClaimCheck]:
    """Every claim of ``result`` checked against the two reference Item 1As."""
    return [check_claim(c, current, previous) for c in claims_of(result)]


def check_layout(
    titles_and_bodies: Iterable[tuple[str, str]], item: Item1AText
) -> list[ClaimCheck]:
    """A single filing's risks: each risk's title and each line of its body stand in
    Item 1A, none is furniture or empty."""
    checks: list[ClaimCheck] = []
    for title, body in titles_and_bodies:
        name = title[:60]
        if not body.strip():
            checks.append(ClaimCheck(Claim("risk", name, body), "empty body", "empty"))
            continue
        for piece in (title, *[line for line in body.splitlines() if line.strip()]):
            checks.append(check_claim(Claim("risk", name, piece), item, item))
    return checks


# ---------------------------------------------------------------------------------------
# What the result misses
# ---------------------------------------------------------------------------------------

#: Reference sentences shorter than this (characters or words) are fragments, not changes.
MIN_CHANGE_CHARS = 25
MIN_CHANGE_WORDS = 4


@dataclass(frozen=True, slots=True)
class Miss:
    """A sentence the plain diff finds changed that the result reports nowhere.

    ``preamble``: the sentence stands before the first risk the result found (Item 1A's
    introduction, a risk-factor summary); the analysis reports risks, so these are
    counted apart from the misses among the risks.
    """

    kind: Literal["added", "removed"]
    sentence: str
    preamble: bool = False


def risks_start(item: Item1AText, titles: Iterable[str]) -> int:
    """Offset in ``item.text`` where the risks begin: the earliest of the titles' last
    occurrences (a risk-factor summary repeats titles before the risks; 0: none found)."""
    found = [item.text.rfind(normalise(t)[:60]) for t in titles if normalise(t)]
    found = [at for at in found if at >= 0]
    return min(found) if found else 0


def reference_changes(
    current: Item1AText, previous: Item1AText, starts: tuple[int, int] = (0, 0)
) -> list[Miss]:
    """The plain sentence diff: current sentences not in the previous Item 1A's text
    (added) and previous ones not in the current's (removed), both compared without
    trivia (:func:`fold_trivia`: a change of punctuation or spacing is no change),
    fragments and furniture aside; those before ``starts`` (offsets of the first risk in
    each year) are ``preamble``."""
    found: list[Miss] = []
    sides: tuple[tuple[Literal["added", "removed"], Item1AText, Item1AText, int], ...] = (
        ("added", current, previous, starts[0]),
        ("removed", previous, current, starts[1]),
    )
    for kind, own, other, first in sides:
        cursor = 0
        for sentence in own.sentences:
            key = normalise(sentence)
            at = own.text.find(key, cursor)
            if at >= 0:
                cursor = at + len(key)
            if len(sentence) < MIN_CHANGE_CHARS or len(sentence.split()) < MIN_CHANGE_WORDS:
                continue
            if own.furniture.is_furniture(sentence):
                continue
            if fold_trivia(sentence) not in other.folded:  # a change beyond trivia
                found.append(Miss(kind, sentence, 0 <= at < first))
    return found


def _reported(result: AnalysisResult) -> dict[str, list[str]]:
    """Normalised text the result reports as changed, by the side it belongs to: changed
    sentences, new and removed risks, changed titles and the sections they stand in."""
    sides: dict[str, list[str]] = {"added": [], "removed": []}
    for change in result.risks:
        if change.status == "new":
            sides["added"].append(normalise(f"{change.title_current or ''} {change.text_current}"))
        if change.status == "removed":
            sides["removed"].append(
                normalise(f"{change.title_previous or ''} {change.text_previous}")
            )
        if change.title_current != change.title_previous:
            if change.title_current:
                sides["added"].append(normalise(change.title_current))
            if change.title_previous:
                sides["removed"].append(normalise(change.title_previous))
        if change.section:
            sides["added" if change.title_current else "removed"].append(normalise(change.section))
        if change.changes is None:
            continue
        sides["added"] += [normalise(a.text) for a in change.changes.added]
        sides["removed"] += [normalise(r.text) for r in change.changes.removed]
        for edit in change.changes.edited:
            if getattr(edit, "trivial", False):
                continue  # a trivial edit reports no change: it covers none
            sides["added"].append(normalise(edit.current))
            sides["removed"].append(normalise(edit.previous))
    return sides


#: Share of a changed sentence's word triples the result must report for it to be covered.
COVERED_SHARE = 0.7


def _covered(sentence: str, reported: set[tuple[str, ...]]) -> bool:
    # Word triples, not substrings: a reported sentence may be cut, joined or spaced
    # differently from ours, or carry furniture glued on (that claim fails on its own).
    own = word_triples(sentence)
    return len(own & reported) >= COVERED_SHARE * len(own)


def missed_changes(
    result: AnalysisResult, current: Item1AText, previous: Item1AText
) -> tuple[list[Miss], list[Miss]]:
    """(the plain diff's changes, those of them the result reports nowhere)."""
    starts = (
        risks_start(current, (r.title_current for r in result.risks if r.title_current)),
        risks_start(previous, (r.title_previous for r in result.risks if r.title_previous)),
    )
    changes = reference_changes(current, previous, starts)
    reported = {
        kind: set().union(*(word_triples(t) for t in texts))
        for kind, texts in _reported(result).items()
    }
    return changes, [m for m in changes if not _covered(m.sentence, reported[m.kind])]


# ---------------------------------------------------------------------------------------
# One pair, summed up
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairReport:
    """The checks of one pair (or one single filing: no diff, no misses)."""

    name: str
    checks: list[ClaimCheck]
    changes: list[Miss] = field(default_factory=list)
    """The plain diff's changed sentences (preamble ones included)."""
    misses: list[Miss] = field(default_factory=list)
    """Those of :attr:`changes` the result reports nowhere."""

    @property
    def failures(self) -> list[ClaimCheck]:
        return [c for c in self.checks if not c.holds]

    @property
    def reference_changes(self) -> int:
        """Changed sentences among the risks (the base of the miss rate)."""
        return sum(not m.preamble for m in self.changes)

    @property
    def risk_misses(self) -> list[Miss]:
        return [m for m in self.misses if not m.preamble]

    @property
    def preamble_misses(self) -> list[Miss]:
        return [m for m in self.misses if m.preamble]


@dataclass(frozen=True, slots=True)
class Totals:
    """Figures over several reports."""

    claims: int
    failing: int
    reference_changes: int
    misses: int

    @property
    def holding_share(self) -> float:
        return 1 - self.failing / self.claims if self.claims else 1.0

    @property
    def miss_share(self) -> float:
        return self.misses / self.reference_changes if self.reference_changes else 0.0


def totals(reports: Sequence[PairReport]) -> Totals:
    """Claims, failing claims, changes among the risks and their misses over ``reports``."""
    return Totals(
        sum(len(r.checks) for r in reports),
        sum(len(r.failures) for r in reports),
        sum(r.reference_changes for r in reports),
        sum(len(r.risk_misses) for r in reports),
    )


# ---------------------------------------------------------------------------------------
# The corpus, each pair analysed once per process
# ---------------------------------------------------------------------------------------


@functools.cache
def _lexicon() -> Lexicon:
    return load_lexicon(None)


@functools.cache
def _reference(path: Path, whole: bool) -> Item1AText:
    return reference_item1a(path.read_bytes(), whole=whole)


def _document(path: Path, ticker: str, year: int) -> FilingDocument:
    return FilingDocument(
        ticker=ticker, year=year, content=path.read_bytes(), name=str(path), source="local"
    )


@functools.cache
def pair_report(ticker: str, current: Path, previous: Path, whole: bool) -> PairReport:
    """The claims of the analysis of two filings checked, and its misses counted."""
    years = int(current.name[:4]), int(previous.name[:4])
    result = analyse_documents(
        _document(current, ticker, years[0]), _document(previous, ticker, years[1]), _lexicon()
    )
    ref_current, ref_previous = _reference(current, whole), _reference(previous, whole)
    changes, misses = missed_changes(result, ref_current, ref_previous)
    return PairReport(
        f"{ticker} {years[0]}/{years[1]}",
        check_claims(result, ref_current, ref_previous),
        changes,
        misses,
    )


@functools.cache
def layout_report(path: Path) -> PairReport:
    """A single filing's risks checked against its Item 1A."""
    parsed = parse_filing(path.read_bytes(), str(path))
    checks = check_layout(((r.title, r.body) for r in parsed.risks), _reference(path, False))
    return PairReport(f"{path.parent.name} {path.stem}", checks)


def real10k_pairs(root: Path) -> list[tuple[str, Path, Path]]:
    """(ticker, current, previous) for consecutive years of the HTML corpus (10-K/As aside)."""
    pairs = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        years = sorted(int(p.stem) for p in folder.glob("*.html") if p.stem.isdigit())
        pairs += [
            (folder.name, folder / f"{y}.html", folder / f"{y - 1}.html")
            for y in years
            if y - 1 in years
        ]
    return pairs


def item1a_only_pairs(root: Path) -> list[tuple[str, Path, Path]]:
    """(ticker, current, previous) for consecutive years of the plain-text extracts."""
    pairs = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        years = sorted(int(p.name[:4]) for p in folder.glob("*.item1a.txt"))
        pairs += [
            (folder.name, folder / f"{y}.item1a.txt", folder / f"{y - 1}.item1a.txt")
            for y in years
            if y - 1 in years
        ]
    return pairs


def layout_filings(root: Path) -> list[Path]:
    """Every filing of the layouts corpus."""
    return sorted(root.glob("*/*.html"))
