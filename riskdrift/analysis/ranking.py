"""A universe ranked by how much its risk factors changed (issue 24). Pure.

Input: one :class:`PairChange` per completed analysis (a company's fiscal year against
the year before), with the Lazy Prices similarities of its whole Item 1A to the prior
year's (Cohen, Malloy & Nguyen: a low year-on-year similarity is the signal) and its risk
counts. Output: the pairs ranked most-changed first, each with its percentile within the
universe.

The ranking measure is ``change`` by default: ``1 − mean(min_edit, jaccard, cosine)``, so
the three measures (edit-based, set-based, vector-based) weigh equally and no single
one's quirks decide the order; ``by`` may name one of them instead (ranked by ``1 −`` that
similarity). Ties keep ticker order, so the ranking is deterministic.

A pair's ``percentile`` is its percentile rank of change within the universe,
``100 × (pairs that changed less + ½ × pairs that changed as much, itself included) / n``:
the most changed of 10 distinct pairs is at 95, the least at 5, one pair alone at 50.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Measure = Literal["change", "min_edit", "jaccard", "cosine"]
MEASURES: tuple[Measure, ...] = ("change", "min_edit", "jaccard", "cosine")


@dataclass(frozen=True, slots=True)
class PairChange:
    """One completed analysis, as the ranking reads it."""

    key: str  # what identifies the pair to the caller (a job id)
    ticker: str
    current_year: int
    previous_year: int
    min_edit: float
    jaccard: float
    cosine: float
    risks_new: int
    risks_removed: int
    risks_modified: int
    risks_unchanged: int
    material_changes: int | None = None  # None: the result does not carry them

    @property
    def change(self) -> float:
        """``1 − mean(min_edit, jaccard, cosine)``: 0 identical, 1 nothing in common."""
        return 1.0 - (self.min_edit + self.jaccard + self.cosine) / 3.0

    def score(self, by: Measure) -> float:
        """How much the pair changed by measure ``by`` (higher: more change)."""
        if by == "change":
            return self.change
        similarity: float = getattr(self, by)
        return 1.0 - similarity


@dataclass(frozen=True, slots=True)
class RankedPair:
    """A pair's place in the universe: 1 is the most changed."""

    rank: int
    percentile: float
    score: float
    pair: PairChange


def rank_pairs(pairs: Sequence[PairChange], *, by: Measure = "change") -> list[RankedPair]:
    """The pairs, most changed first, with their ranks and percentiles (module docstring).

    Equal scores share the better rank (competition ranking: 1, 2, 2, 4).
    """
    if by not in MEASURES:
        raise ValueError(f"unknown measure {by!r}; one of {', '.join(MEASURES)}")
    scores = [p.score(by) for p in pairs]
    order = sorted(range(len(pairs)), key=lambda i: (-scores[i], pairs[i].ticker, pairs[i].key))
    ascending = sorted(scores)
    n = len(pairs)
    ranked: list[RankedPair] = []
    for position, i in enumerate(order):
        score = scores[i]
        below = bisect.bisect_left(ascending, score)
        equal = bisect.bisect_right(ascending, score) - below
        tied = bool(ranked) and ranked[-1].score == score
        rank = ranked[-1].rank if tied else position + 1
        percentile = round(100.0 * (below + 0.5 * equal) / n, 2)
        ranked.append(RankedPair(rank=rank, percentile=percentile, score=score, pair=pairs[i]))
    return ranked
