"""Sentences that moved between risks are not changes.

The sentence alignment (:mod:`riskdrift.analysis.sentences`) compares one risk with the
risk it was paired with. A sentence that a filer moved to another risk — or that stands
in another risk only because the two years drew the risk boundaries differently (a
heading line read as a sentence of the risk before it in one year, common in plain-text
extracts) — comes out of it ``added`` in one risk and ``removed`` in another. It is
neither: the whole Item 1A of both years holds it.

:func:`settle_moves` runs after every risk was aligned and reads each claimed sentence
against both years' whole Item 1A, compared after
:func:`~riskdrift.analysis.sentences.normalise_trivia`:

- an ``added`` sentence that stands in the previous year's Item 1A at least as often
  as in the current year's is ``moved`` (``SentenceChanges.moved``, with the risk that
  holds it in the other year when known); counts are respected: a sentence the filer
  repeats in three risks this year and in two last year keeps one addition. ``removed``
  the other way round;
- an ``edited`` sentence whose new side already stood in the previous year (or whose
  old side still stands in the current one) is no rewording: its two sides go through
  the test above as an addition and a removal of their own (a side that stands in the
  other year as often is moved; a new copy of a sentence that stood in another risk
  stays an addition);
- "stands in" means as one or more whole sentences or clauses (from a start to an end
  at ``.?!;:`` or a line end), so a sentence a list split into clauses one year and
  kept whole the other is found; a piece of a sentence a line break cut (no closing
  punctuation) may stand anywhere;
- a risk whose only changes were moves is ``unchanged``; a risk's similarity and drift
  are measured without its moved sentences (and, as before, without trivial edits);
- a ``new`` (``removed``) risk with at least :data:`MOVED_RISK_SHARE` of its text moved
  is no new (removed) risk: the other year holds it under other headings. It becomes
  ``unchanged`` (``modified`` if some of its sentences are genuinely new), paired with
  the risk that held most of its sentences.

Materiality and the summary read the changes after this pass, so moved sentences are
never scored. Pure: risk changes and the two Item 1A texts in, risk changes out.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from riskdrift.analysis.sentences import coarse_trivia, normalise_trivia, split_sentences
from riskdrift.analysis.similarity import sequence_similarity, words
from riskdrift.models import (
    MovedSentence,
    PositionedSentence,
    RiskChange,
    RiskStatus,
    SentenceChanges,
    SentenceEdit,
)

__all__ = ["MOVED_RISK_SHARE", "SectionIndex", "settle_moves"]

#: A new or removed risk with at least this share of its body's characters moved stands
#: in the other year's Item 1A: it is no new or removed risk.
MOVED_RISK_SHARE = 0.8
#: A piece of a cut sentence is sought anywhere only when it is at least this long
#: (normalised), so a short piece does not turn up inside an unrelated word run.
MIN_FRAGMENT_CHARS = 20

_CLAUSE_END = re.compile(r"(?<=[;:])\s+")
_CLOSED = re.compile(r"[.?!;:][\"'”’)\]]*$")


@dataclass(frozen=True, slots=True)
class SectionIndex:
    """One year's Item 1A as coarse keys (:func:`coarse_trivia`) joined end to end, with
    the offsets where its clauses start and end; a hit is confirmed with
    :func:`normalise_trivia` (which keeps decimal points and the spaces between figures)."""

    text: str
    clauses: tuple[str, ...]
    starts: dict[int, int]
    """Offset in :attr:`text` where a clause starts → the clause's index."""
    ends: dict[int, int]
    """Offset in :attr:`text` where a clause ends → the clause's index."""

    @classmethod
    def of(cls, item1a_text: str) -> SectionIndex:
        """Index ``item1a_text``: its sentences and the clauses of each (split after
        ``;`` and ``:``, so a list one year splits into items is found whole)."""
        # Coarse keys, not normalise_trivia: a translate table is cheap on every clause of
        # two Item 1As; the exact fold runs only on the few hits.
        pieces: list[str] = []
        clauses: list[str] = []
        starts: dict[int, int] = {}
        ends: dict[int, int] = {}
        offset = 0
        for sentence in split_sentences(item1a_text):
            clauses_of = (
                _CLAUSE_END.split(sentence) if ";" in sentence or ":" in sentence else [sentence]
            )
            for clause in clauses_of:
                key = coarse_trivia(clause)
                if key:
                    starts[offset] = len(clauses)
                    offset += len(key)
                    ends[offset] = len(clauses)
                    pieces.append(key)
                    clauses.append(clause)
        return cls("".join(pieces), tuple(clauses), starts, ends)

    def occurrences(self, sentence: str) -> int:
        """How often ``sentence`` stands here as whole clauses, trivia aside (anywhere,
        when it is a piece a line break cut: it lacks closing punctuation)."""
        key = coarse_trivia(sentence)
        if not key:
            return 0
        exact: str | None = None  # the exact fold, made on the first hit (most have none)
        anywhere = _CLOSED.search(sentence.rstrip()) is None and len(key) >= MIN_FRAGMENT_CHARS
        found = 0
        at = self.text.find(key)
        while at >= 0:
            first, last = self.starts.get(at), self.ends.get(at + len(key))
            if first is not None and last is not None:
                if exact is None:
                    exact = normalise_trivia(sentence)
                joined = " ".join(self.clauses[first : last + 1])
                found += normalise_trivia(joined) == exact
            elif anywhere:
                found += 1
            at = self.text.find(key, at + 1)
        return found


@dataclass(slots=True)
class _Risk:
    """One row's claims while they are settled."""

    added: list[PositionedSentence] = field(default_factory=list)
    removed: list[PositionedSentence] = field(default_factory=list)
    edited: list[SentenceEdit] = field(default_factory=list)
    moved: list[MovedSentence] = field(default_factory=list)
    split: bool = False
    """An edit of it was taken apart into a removal and an addition."""


class _Budget:
    """How many claims of each sentence may stand: the copies one year has beyond the
    other's, or all of them when the other year lacks the sentence."""

    def __init__(self, own: SectionIndex, other: SectionIndex) -> None:
        self._own, self._other = own, other
        self._left: dict[str, int | None] = {}

    def take(self, sentence: str) -> bool:
        """Whether one more claim of ``sentence`` stands (and count it)."""
        key = coarse_trivia(sentence)
        if key not in self._left:
            other = self._other.occurrences(sentence)
            self._left[key] = (
                None if other == 0 else max(0, self._own.occurrences(sentence) - other)
            )
        left = self._left[key]
        if left is None:
            return True
        if left == 0:
            return False
        self._left[key] = left - 1
        return True


def _titles(changes: Sequence[RiskChange], year: str) -> dict[str, str]:
    """Coarse key of a sentence → the title of the first risk of ``year`` whose body holds it."""
    found: dict[str, str] = {}
    for change in changes:
        title, body = (
            (change.title_current, change.text_current)
            if year == "current"
            else (change.title_previous, change.text_previous)
        )
        if title and body:
            for sentence in split_sentences(body):
                found.setdefault(coarse_trivia(sentence), title)
    return found


def settle_moves(
    changes: Sequence[RiskChange], current_text: str, previous_text: str
) -> list[RiskChange]:
    """``changes`` with moved sentences taken out of added, removed and edited (see the
    module docstring); rows without moves or split edits come back as they were."""
    current, previous = SectionIndex.of(current_text), SectionIndex.of(previous_text)
    rows = [_Risk() for _ in changes]
    for row, change in zip(rows, changes, strict=True):
        if change.changes is None:
            continue
        row.added = list(change.changes.added)
        row.removed = list(change.changes.removed)
        for edit in change.changes.edited:
            # A new side that stood in last year's Item 1A (or an old side still standing
            # this year) is no rewording: a sentence lost and one gained, settled below.
            if previous.occurrences(edit.current) or current.occurrences(edit.previous):
                row.split = True
                row.removed.append(
                    PositionedSentence(text=edit.previous, position=edit.position_previous)
                )
                row.added.append(
                    PositionedSentence(text=edit.current, position=edit.position_current)
                )
            else:
                row.edited.append(edit)
    added_budget, removed_budget = _Budget(current, previous), _Budget(previous, current)
    previous_titles, current_titles = _titles(changes, "previous"), _titles(changes, "current")
    for row in rows:
        kept_added = [s for s in row.added if added_budget.take(s.text)]
        kept_removed = [s for s in row.removed if removed_budget.take(s.text)]
        row.moved += [
            MovedSentence(
                text=s.text,
                position=s.position,
                year="current",
                other_risk=previous_titles.get(coarse_trivia(s.text)),
            )
            for s in row.added
            if s not in kept_added
        ]
        row.moved += [
            MovedSentence(
                text=s.text,
                position=s.position,
                year="previous",
                other_risk=current_titles.get(coarse_trivia(s.text)),
            )
            for s in row.removed
            if s not in kept_removed
        ]
        row.added = sorted(kept_added, key=lambda s: s.position)
        row.removed = sorted(kept_removed, key=lambda s: s.position)
    return [
        _settled(change, row, current if change.status == "removed" else previous)
        if row.moved or row.split
        else change
        for change, row in zip(changes, rows, strict=True)
    ]


def _without(body: str | None, positions: Iterable[int], replaced: dict[int, str]) -> str:
    sentences = split_sentences(body or "")
    dropped = set(positions)
    return "\n".join(replaced.get(k, s) for k, s in enumerate(sentences) if k not in dropped)


def _settled(change: RiskChange, row: _Risk, other: SectionIndex) -> RiskChange:
    """The row with its moves recorded and its status, similarity and drift measured
    without the moved sentences (``other``: the other year's Item 1A, for a new or removed
    risk)."""
    assert change.changes is not None
    sentences = SentenceChanges(
        added=row.added,
        removed=row.removed,
        edited=row.edited,
        unchanged=change.changes.unchanged,
        trivial_edits=change.changes.trivial_edits,
        moved=sorted(row.moved, key=lambda m: (m.year, m.position)),
    )
    real = bool(row.added or row.removed or row.edited)
    update: dict[str, object] = {"changes": sentences}
    if change.status in ("new", "removed"):
        year = "current" if change.status == "new" else "previous"
        body = change.text_current if year == "current" else change.text_previous
        # How much of it stands in the other year, copies it claims as new or lost included
        # (a sentence repeated once more this year is one addition, yet not a new risk).
        body_sentences = split_sentences(body or "")
        total = sum(len(s) for s in body_sentences)
        elsewhere = sum(len(s) for s in body_sentences if other.occurrences(s) > 0)
        share = elsewhere / total if total else 0.0
        if share < MOVED_RISK_SHARE:
            return change.model_copy(update=update)
        sources = Counter(m.other_risk for m in row.moved if m.other_risk)
        source = sources.most_common(1)[0][0] if sources else None
        status: RiskStatus = "modified" if real else "unchanged"
        similarity = round(share, 4)
        key = "title_previous" if year == "current" else "title_current"
        update |= {key: source}
    else:
        # Measured as if the moved sentences stood nowhere and trivial edits were not made.
        trivial = {e.position_previous: e.current for e in change.changes.trivial_edits}
        cur_body = _without(
            change.text_current, (m.position for m in row.moved if m.year == "current"), {}
        )
        prev_body = _without(
            change.text_previous,
            (m.position for m in row.moved if m.year == "previous"),
            trivial,
        )
        title_cur = change.title_current or ""
        title_prev = change.title_previous or ""
        if normalise_trivia(title_cur) == normalise_trivia(title_prev):
            title_prev = title_cur
        similarity = round(
            sequence_similarity(
                words(f"{title_cur}\n{cur_body}"), words(f"{title_prev}\n{prev_body}")
            ),
            4,
        )
        # Only moves: unchanged, whatever the reordering did to the similarity.
        status = "modified" if real else "unchanged"
    update |= {
        "status": status,
        "text_similarity": similarity,
        "drift_score": round(1.0 - similarity, 4),
    }
    return change.model_copy(update=update)
