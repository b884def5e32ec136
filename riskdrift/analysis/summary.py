"""The executive summary and recommendations, written from the numbers alone.

Every sentence states at least one figure that appears in the result (counts,
years, similarity measures, drift scores, tone), so nothing in the prose is
unsupported. Numbers are printed with two decimals; the result keeps four.
"""

from __future__ import annotations

from collections.abc import Sequence

from riskdrift.models import FilingInfo, Heatmap, RiskChange, SimilarityScores

__all__ = ["HIGH_DRIFT", "write_summary"]

#: Modified risks at or above this drift are singled out for review.
HIGH_DRIFT = 0.3


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _verb(n: int, singular: str, plural: str) -> str:
    return singular if n == 1 else plural


def write_summary(
    company: str,
    filings: Sequence[FilingInfo],
    similarity: SimilarityScores,
    risks: Sequence[RiskChange],
    heatmap: Heatmap,
) -> tuple[str, list[str]]:
    """Build the summary paragraph and the recommendations from a comparison's figures."""
    current, previous = filings[0], filings[1]
    by_status = {
        s: [r for r in risks if r.status == s] for s in ("new", "removed", "modified", "unchanged")
    }
    sentences = [
        f"{company}'s Item 1A for fiscal {current.year} lists "
        f"{_count(current.risk_count, 'risk factor')} against {previous.risk_count} "
        f"in fiscal {previous.year}.",
        f"Of these, {len(by_status['new'])} {_verb(len(by_status['new']), 'is', 'are')} new, "
        f"{len(by_status['removed'])} {_verb(len(by_status['removed']), 'was', 'were')} removed, "
        f"{len(by_status['modified'])} {_verb(len(by_status['modified']), 'was', 'were')} modified "
        f"and {len(by_status['unchanged'])} {_verb(len(by_status['unchanged']), 'is', 'are')} "
        "unchanged.",
        f"The whole section's cosine similarity to the prior year is {similarity.cosine:.2f} "
        f"(Jaccard {similarity.jaccard:.2f}, minimum-edit {similarity.min_edit:.2f}, "
        f"simple {similarity.simple:.2f}).",
    ]
    if heatmap.rows:
        drift_col = heatmap.columns.index("mean_drift")
        top = max(range(len(heatmap.rows)), key=lambda i: heatmap.values[i][drift_col])
        sentences.append(
            f"The category that moved most is {heatmap.rows[top]}, "
            f"with a mean drift of {heatmap.values[top][drift_col]:.2f}."
        )
    deltas = [r for r in risks if r.sentiment_delta is not None]
    if deltas:
        worst = min(deltas, key=lambda r: r.sentiment_delta or 0.0)
        if (worst.sentiment_delta or 0.0) < 0:
            sentences.append(
                f"The sharpest fall in net tone, {worst.sentiment_delta:.2f}, is in "
                f"“{worst.title_current}”."
            )
    recommendations: list[str] = []
    for risk in by_status["new"][:3]:
        recommendations.append(
            f"Read the new {risk.category} risk “{risk.title_current}” "
            f"(drift {risk.drift_score:.2f})."
        )
    high = sorted(
        (r for r in by_status["modified"] if r.drift_score >= HIGH_DRIFT),
        key=lambda r: r.drift_score,
        reverse=True,
    )
    for risk in high[:3]:
        recommendations.append(
            f"Compare the rewording of “{risk.title_current}”: its text similarity to last "
            f"year is {risk.text_similarity:.2f}."
        )
    if by_status["removed"]:
        recommendations.append(
            f"Ask why {_count(len(by_status['removed']), 'risk factor')} from fiscal "
            f"{previous.year} no longer "
            f"{'appears' if len(by_status['removed']) == 1 else 'appear'}, starting with "
            f"“{by_status['removed'][0].title_previous}”."
        )
    if not recommendations:
        recommendations.append(
            f"No action needed: {len(by_status['unchanged'])} of {current.risk_count} risk "
            "factors are unchanged."
        )
    return " ".join(sentences), recommendations
