"""The category × measure heatmap of a comparison.

Rows are the taxonomy categories that occur in either year (in taxonomy
order); columns are :data:`HEATMAP_COLUMNS`. Means are over the risks where the
measure exists (sentiment change only for risks present in both years) and 0
when there are none.
"""

from __future__ import annotations

from collections.abc import Sequence

from riskdrift.analysis.taxonomy import CATEGORIES
from riskdrift.models import Heatmap, RiskChange

__all__ = ["HEATMAP_COLUMNS", "build_heatmap"]

HEATMAP_COLUMNS = [
    "count_previous",
    "count_current",
    "new",
    "removed",
    "modified",
    "mean_sentiment_change",
    "mean_drift",
]


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def build_heatmap(changes: Sequence[RiskChange]) -> Heatmap:
    """Aggregate risk changes by category into the heatmap."""
    rows = [c for c in CATEGORIES if any(ch.category == c for ch in changes)]
    values: list[list[float]] = []
    for category in rows:
        group = [ch for ch in changes if ch.category == category]
        deltas = [ch.sentiment_delta for ch in group if ch.sentiment_delta is not None]
        values.append(
            [
                float(sum(1 for ch in group if ch.status != "new")),
                float(sum(1 for ch in group if ch.status != "removed")),
                float(sum(1 for ch in group if ch.status == "new")),
                float(sum(1 for ch in group if ch.status == "removed")),
                float(sum(1 for ch in group if ch.status == "modified")),
                _mean(deltas),
                _mean([ch.drift_score for ch in group]),
            ]
        )
    return Heatmap(rows=rows, columns=list(HEATMAP_COLUMNS), values=values)
