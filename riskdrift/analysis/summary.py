"""The executive summary and recommendations: what changed, in figures and the filer's words.

The summary leads with content — the themes that emerged and faded (with both
years' counts), the risks that changed most (each with one quoted sentence it
added or dropped), the new and removed risks by title, the categories whose
tone moved — and ends with the whole-section similarity. Every sentence
carries a figure or a quotation that is in the result, so nothing in the prose
is unsupported. Numbers are printed with two decimals; the result keeps four.
"""

from __future__ import annotations

from collections.abc import Sequence

from riskdrift.models import (
    FilingInfo,
    Heatmap,
    MaterialChange,
    RiskChange,
    SimilarityScores,
    Themes,
    ThemeTerm,
)

__all__ = ["HIGH_DRIFT", "QUOTE_CHARS", "quote_for", "write_summary"]

#: Modified risks at or above this drift are singled out for review.
HIGH_DRIFT = 0.3
#: Quotations longer than this are cut at a word boundary (the kept part is verbatim).
QUOTE_CHARS = 220
#: A category's mean tone change at least this large (either way) is reported.
TONE_MOVE = 0.05
TOP_THEMES = 3
TOP_CHANGED = 3


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _verb(n: int, singular: str, plural: str) -> str:
    return singular if n == 1 else plural


def _quote(text: str) -> str:
    """``text`` in quotation marks, cut at a word boundary to :data:`QUOTE_CHARS`."""
    text = " ".join(text.split()).rstrip(" .")
    if len(text) > QUOTE_CHARS:
        text = text[:QUOTE_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return f"“{text}”"


def quote_for(risk: RiskChange, themes: Themes | None = None) -> tuple[str, str] | None:
    """The one sentence that best shows what changed in ``risk``: ("adds" | "drops", text).

    Prefers an added sentence that uses an emerging term, then the longest added
    sentence, a reworded sentence's new version, and finally a dropped sentence.
    """
    changes = risk.changes
    if changes is None:
        return None
    terms = [t.term for t in themes.emerging] if themes else []
    added = [s.text for s in changes.added]
    if added:
        with_theme = [s for s in added if any(t in s.casefold() for t in terms)]
        return "adds", max(with_theme or added, key=len)
    if changes.edited:
        edit = min(changes.edited, key=lambda e: e.similarity)
        return "now reads", edit.current
    if changes.removed:
        return "drops", max((s.text for s in changes.removed), key=len)
    return None


def _themes_sentence(label: str, terms: Sequence[ThemeTerm], current: int, previous: int) -> str:
    parts = []
    for t in terms:
        if label == "emerging":
            was = "none" if t.count_previous == 0 else str(t.count_previous)
            parts.append(f"“{t.term}” ({t.count_current} mentions; {was} in fiscal {previous})")
        else:
            now = "none" if t.count_current == 0 else str(t.count_current)
            parts.append(
                f"“{t.term}” ({t.count_previous} mentions in fiscal {previous}; {now} now)"
            )
    if label == "emerging":
        return f"Emerging in fiscal {current}: " + ", ".join(parts) + "."
    return "Fading: " + ", ".join(parts) + "."


def _titles(risks: Sequence[RiskChange], current: bool) -> str:
    titles = [(r.title_current if current else r.title_previous) or "" for r in risks]
    shown = ", ".join(_quote(t) for t in titles[:3])
    more = len(titles) - 3
    return shown + (f" and {more} more" if more > 0 else "")


def _tone_moves(heatmap: Heatmap) -> str | None:
    if not heatmap.rows or "mean_sentiment_change" not in heatmap.columns:
        return None
    col = heatmap.columns.index("mean_sentiment_change")
    moves = [
        (heatmap.values[i][col], row)
        for i, row in enumerate(heatmap.rows)
        if abs(heatmap.values[i][col]) >= TONE_MOVE
    ]
    if not moves:
        return None
    falls = sorted(m for m in moves if m[0] < 0)[:2]
    rises = sorted((m for m in moves if m[0] > 0), reverse=True)[:2]
    parts = []
    if falls:
        parts.append("fell in " + " and ".join(f"{row} ({v:+.2f})" for v, row in falls))
    if rises:
        parts.append("rose in " + " and ".join(f"{row} ({v:+.2f})" for v, row in rises))
    return "Net tone " + "; it ".join(parts) + " (mean change per risk)."


def write_summary(
    company: str,
    filings: Sequence[FilingInfo],
    similarity: SimilarityScores,
    risks: Sequence[RiskChange],
    heatmap: Heatmap,
    themes: Themes | None = None,
    material: Sequence[MaterialChange] = (),
) -> tuple[str, list[str]]:
    """Build the summary paragraph and the recommendations from a comparison's content."""
    current, previous = filings[0], filings[1]
    by_status = {
        s: [r for r in risks if r.status == s] for s in ("new", "removed", "modified", "unchanged")
    }
    n_new, n_removed = len(by_status["new"]), len(by_status["removed"])
    n_mod, n_same = len(by_status["modified"]), len(by_status["unchanged"])
    sentences = [
        f"{company}'s Item 1A for fiscal {current.year} lists "
        f"{_count(current.risk_count, 'risk factor')} against {previous.risk_count} "
        f"in fiscal {previous.year}: {n_new} new, {n_removed} removed, {n_mod} modified "
        f"and {n_same} unchanged."
    ]
    if themes and themes.emerging:
        sentences.append(
            _themes_sentence("emerging", themes.emerging[:TOP_THEMES], current.year, previous.year)
        )
    if themes and themes.fading:
        sentences.append(
            _themes_sentence("fading", themes.fading[:TOP_THEMES], current.year, previous.year)
        )
    changed = sorted(by_status["modified"], key=lambda r: r.drift_score, reverse=True)
    for rank, risk in enumerate(changed[:TOP_CHANGED]):
        quote = quote_for(risk, themes)
        lead = "The risk that changed most" if rank == 0 else "Next"
        sentence = f"{lead}, {_quote(risk.title_current or '')} (drift {risk.drift_score:.2f})"
        if quote is not None:
            sentence += f", {quote[0]}: {_quote(quote[1])}"
        sentences.append(sentence + ".")
    if by_status["new"]:
        sentences.append(
            f"{_count(n_new, 'risk')} {_verb(n_new, 'is', 'are')} new: "
            f"{_titles(by_status['new'], current=True)}."
        )
    if by_status["removed"]:
        sentences.append(
            f"{_count(n_removed, 'risk')} from fiscal {previous.year} "
            f"{_verb(n_removed, 'is', 'are')} gone: {_titles(by_status['removed'], current=False)}."
        )
    tone = _tone_moves(heatmap)
    if tone:
        sentences.append(tone)
    sentences.append(
        f"The whole section's cosine similarity to the prior year is {similarity.cosine:.2f} "
        f"(Jaccard {similarity.jaccard:.2f}, minimum-edit {similarity.min_edit:.2f}, "
        f"simple {similarity.simple:.2f})."
    )
    return " ".join(sentences), _recommendations(by_status, changed, themes, current, previous)


def _recommendations(
    by_status: dict[str, list[RiskChange]],
    changed: Sequence[RiskChange],
    themes: Themes | None,
    current: FilingInfo,
    previous: FilingInfo,
) -> list[str]:
    recommendations: list[str] = []
    for risk in by_status["new"][:3]:
        recommendations.append(
            f"Read the new {risk.category} risk {_quote(risk.title_current or '')} "
            f"(drift {risk.drift_score:.2f})."
        )
    for risk in [r for r in changed if r.drift_score >= HIGH_DRIFT][:3]:
        quote = quote_for(risk, themes)
        detail = f"; it {quote[0]} {_quote(quote[1])}" if quote else ""
        recommendations.append(
            f"Compare the rewording of {_quote(risk.title_current or '')}: its text similarity "
            f"to last year is {risk.text_similarity:.2f}{detail}."
        )
    if themes and themes.emerging:
        top = themes.emerging[0]
        recommendations.append(
            f"Search the filing for {_quote(top.term)}: {top.count_current} mentions in fiscal "
            f"{current.year} against {top.count_previous} in fiscal {previous.year}."
        )
    if by_status["removed"]:
        n = len(by_status["removed"])
        recommendations.append(
            f"Ask why {_count(n, 'risk factor')} from fiscal {previous.year} no longer "
            f"{'appears' if n == 1 else 'appear'}, starting with "
            f"{_quote(by_status['removed'][0].title_previous or '')}."
        )
    if not recommendations:
        recommendations.append(
            f"No action needed: {len(by_status['unchanged'])} of {current.risk_count} risk "
            "factors are unchanged."
        )
    return recommendations
