"""Pairing the risk factors of two years and classifying each change.

Every current risk is paired with at most one previous risk by an optimal
assignment (``scipy.optimize.linear_sum_assignment``) that maximises the total
*match score*::

    match score = TITLE_WEIGHT · cos(title TF-IDF) + (1 − TITLE_WEIGHT) · cos(text TF-IDF)

TF-IDF vectors are built over the risks of both years together, stopwords
dropped. Assigned pairs scoring below :data:`MATCH_THRESHOLD` are not the same
risk: the current one is ``new``, the previous one ``removed``. A kept pair is
``unchanged`` when the word-level diff similarity of the two full texts is at
least :data:`UNCHANGED_THRESHOLD`, ``modified`` otherwise.

``text_similarity`` of a pair is that diff similarity (0 for new/removed);
``drift_score`` is ``1 − text_similarity`` (so 1.0 for new and removed risks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy.optimize import linear_sum_assignment

from riskdrift.analysis.risks import RiskFactor
from riskdrift.analysis.similarity import cosine_matrix, sequence_similarity, tfidf_matrix, words
from riskdrift.models import RiskStatus

__all__ = [
    "MATCH_THRESHOLD",
    "TITLE_WEIGHT",
    "UNCHANGED_THRESHOLD",
    "RiskPair",
    "match_risks",
]

TITLE_WEIGHT = 0.4
MATCH_THRESHOLD = 0.35
UNCHANGED_THRESHOLD = 0.98


@dataclass(frozen=True, slots=True)
class RiskPair:
    """One row of the comparison: indexes into the current and previous risk lists."""

    status: RiskStatus
    current: int | None
    previous: int | None
    match_score: float
    text_similarity: float

    @property
    def drift_score(self) -> float:
        """How far the risk moved: 1 − text similarity (1 for new and removed risks)."""
        return round(1.0 - self.text_similarity, 4)


def match_risks(current: Sequence[RiskFactor], previous: Sequence[RiskFactor]) -> list[RiskPair]:
    """Pair current with previous risks and classify each: new, removed, modified, unchanged.

    Rows come in the current filing's order, removed risks after them in the
    previous filing's order.
    """
    n, m = len(current), len(previous)
    pairs: dict[int, RiskPair] = {}
    matched_previous: set[int] = set()
    if n and m:
        title_tokens = [words(r.title) for r in (*current, *previous)]
        text_tokens = [words(r.text) for r in (*current, *previous)]
        titles = tfidf_matrix(title_tokens)
        texts = tfidf_matrix(text_tokens)
        score = TITLE_WEIGHT * cosine_matrix(titles[:n], titles[n:]) + (
            1 - TITLE_WEIGHT
        ) * cosine_matrix(texts[:n], texts[n:])
        rows, cols = linear_sum_assignment(score, maximize=True)
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            s = float(score[i, j])
            if s < MATCH_THRESHOLD:
                continue
            similarity = round(sequence_similarity(text_tokens[i], text_tokens[n + j]), 4)
            status: RiskStatus = "unchanged" if similarity >= UNCHANGED_THRESHOLD else "modified"
            pairs[i] = RiskPair(status, i, j, round(s, 4), similarity)
            matched_previous.add(j)
    result = [pairs.get(i) or RiskPair("new", i, None, 0.0, 0.0) for i in range(n)]
    result.extend(
        RiskPair("removed", None, j, 0.0, 0.0) for j in range(m) if j not in matched_previous
    )
    return result
