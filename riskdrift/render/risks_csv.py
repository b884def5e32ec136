"""A result's risks as a CSV table (`riskdrift analyze --csv`, `riskdrift report --csv`)."""

from __future__ import annotations

import csv
import io

from riskdrift.models import AnalysisResult

CSV_COLUMNS = (
    "index", "status", "category", "section", "title_current", "title_previous",
    "text_similarity", "drift_score", "sentiment_previous", "sentiment_current",
    "sentiment_delta", "sentences_added", "sentences_removed", "sentences_edited",
    "sentences_unchanged", "materiality", "material_kind", "material_changes",
)  # fmt: skip


def _materiality_by_risk(result: AnalysisResult) -> dict[int, tuple[float, str, int]]:
    """Per risk index: the highest score among its listed material changes, that change's
    kind, and how many of the result's material changes are in the risk."""
    by_risk: dict[int, tuple[float, str, int]] = {}
    for m in result.material_changes:  # most material first
        score, kind, n = by_risk.get(m.risk, (m.score, m.kind, 0))
        by_risk[m.risk] = (score, kind, n + 1)
    return by_risk


def risks_csv(result: AnalysisResult) -> str:
    """The risks table, one row per risk in the result's order (``index`` as in ``risks``).

    ``materiality`` is the highest score of the risk's changes listed in the result's
    ``material_changes`` (0 when none is: every change scored below 0.30 or ranked
    beyond the list), ``material_kind`` that change's kind, ``material_changes`` how many
    of the listed changes are the risk's.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    material = _materiality_by_risk(result)
    for n, r in enumerate(result.risks):
        c = r.changes
        score, kind, count = material.get(n, (0.0, "", 0))
        writer.writerow([
            n, r.status, r.category, r.section or "", r.title_current or "",
            r.title_previous or "", r.text_similarity, r.drift_score,
            "" if r.sentiment_previous is None else r.sentiment_previous,
            "" if r.sentiment_current is None else r.sentiment_current,
            "" if r.sentiment_delta is None else r.sentiment_delta,
            *((len(c.added), len(c.removed), len(c.edited), c.unchanged) if c else ("",) * 4),
            score, kind, count,
        ])  # fmt: skip
    return out.getvalue()
