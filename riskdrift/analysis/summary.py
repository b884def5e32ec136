"""The executive summary and recommendations: what changed, in figures and the filer's words.

The summary leads with the most material changes (:mod:`riskdrift.analysis.materiality`),
each quoting its sentence verbatim with its kind and score; then the counts of new,
removed, modified and unchanged risks, the themes that emerged and faded (with both
years' counts), the new and removed risks by title, the categories whose tone moved,
and last the whole section's minimum-edit and Jaccard similarity (cosine, near 1.00
for every pair, says nothing and is left out). Every sentence carries a figure or a
quotation that is in the result, so nothing in the prose is unsupported. Numbers are
printed with two decimals; the result keeps four. Recommendations point at material
changes, never at a search for a word.
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

__all__ = [
    "HIGH_DRIFT",
    "KIND_LABELS",
    "QUOTE_CHARS",
    "quote_about",
    "quote_for",
    "write_summary",
]

#: Modified risks at or above this drift are singled out for review.
HIGH_DRIFT = 0.3
#: Quotations longer than this are cut at a word boundary (the kept part is verbatim).
QUOTE_CHARS = 220
#: Risk titles named beside a quotation are cut shorter.
TITLE_CHARS = 90
#: A category's mean tone change at least this large (either way) is reported.
TONE_MOVE = 0.05
TOP_THEMES = 3
#: The summary opens with at most this many material changes; recommendations name three.
TOP_MATERIAL = 5
TOP_RECOMMENDED = 3

#: How each kind of material change is named in prose.
KIND_LABELS: dict[str, str] = {
    "realised": "a risk that became real",
    "new_law_regulation": "a new law or regulator",
    "new_event": "a new event",
    "new_risk": "a new risk",
    "removed_risk": "a removed risk",
    "removed_exposure": "a dropped statement",
    "new_exposure": "a new exposure",
}
_LEADS = {
    "added": "adds",
    "edited": "now reads",
    "removed": "drops",
    "new_risk": "opens",
    "removed_risk": "read",
}


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _verb(n: int, singular: str, plural: str) -> str:
    return singular if n == 1 else plural


def _quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """``text`` in quotation marks, cut at a word boundary to ``limit`` characters."""
    text = " ".join(text.split()).rstrip(" .")
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"
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


def quote_about(text: str, highlights: Sequence[str]) -> str:
    """``text`` quoted like :func:`_quote`, but when the words it is quoted for lie past
    the cut, the quoted stretch is the one around them ("… stretch …", verbatim)."""
    text = " ".join(text.split()).rstrip(" .")
    if len(text) <= QUOTE_CHARS:
        return _quote(text)
    at = min((text.find(h) for h in highlights if h in text), default=-1)
    if at < 0 or at + 60 <= QUOTE_CHARS:
        return _quote(text)
    start = text.rfind(" ", 0, max(at - 80, 0)) + 1
    end = start + QUOTE_CHARS
    if end >= len(text):
        return f"“… {text[start:]}”"
    piece = text[start:end].rsplit(" ", 1)[0].rstrip(",;:")
    return f"“… {piece} …”"


def material_quote(change: MaterialChange) -> str:
    """The sentence a material change is about, verbatim (current year, else previous)."""
    return change.current or change.previous or change.risk_title


def _distinct(material: Sequence[MaterialChange], n: int) -> list[MaterialChange]:
    """The first ``n`` material changes, one per quoted sentence (a sentence two risks
    share is told once)."""
    seen: set[str] = set()
    chosen = []
    for change in material:
        key = " ".join(material_quote(change).split())
        if key in seen:
            continue
        seen.add(key)
        chosen.append(change)
        if len(chosen) == n:
            break
    return chosen


def _material_sentences(material: Sequence[MaterialChange], current: int) -> list[str]:
    chosen = _distinct(material, TOP_MATERIAL)
    if not chosen:
        return []
    sentences = [f"The most material changes in fiscal {current}, most material first:"]
    for change in chosen:
        where = (
            "is new"
            if change.change == "new_risk"
            else "is gone"
            if change.change == "removed_risk"
            else _LEADS[change.change]
        )
        sentences.append(
            f"{_quote(change.risk_title, TITLE_CHARS)} {where}: "
            f"{quote_about(material_quote(change), change.highlights)} "
            f"— {KIND_LABELS[change.kind]} (materiality {change.score:.2f})."
        )
    return sentences


def write_summary(
    company: str,
    filings: Sequence[FilingInfo],
    similarity: SimilarityScores,
    risks: Sequence[RiskChange],
    heatmap: Heatmap,
    themes: Themes | None = None,
    material: Sequence[MaterialChange] = (),
) -> tuple[str, list[str]]:
    """Build the summary paragraph and the recommendations from a comparison's content,
    the most material changes first."""
    current, previous = filings[0], filings[1]
    by_status = {
        s: [r for r in risks if r.status == s] for s in ("new", "removed", "modified", "unchanged")
    }
    n_new, n_removed = len(by_status["new"]), len(by_status["removed"])
    n_mod, n_same = len(by_status["modified"]), len(by_status["unchanged"])
    sentences = _material_sentences(material, current.year)
    sentences.append(
        f"{company}'s Item 1A for fiscal {current.year} lists "
        f"{_count(current.risk_count, 'risk factor')} against {previous.risk_count} "
        f"in fiscal {previous.year}: {n_new} new, {n_removed} removed, {n_mod} modified "
        f"and {n_same} unchanged."
    )
    if themes and themes.emerging:
        sentences.append(
            _themes_sentence("emerging", themes.emerging[:TOP_THEMES], current.year, previous.year)
        )
    if themes and themes.fading:
        sentences.append(
            _themes_sentence("fading", themes.fading[:TOP_THEMES], current.year, previous.year)
        )
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
        f"Of the whole section's wording, the minimum-edit similarity to fiscal {previous.year} "
        f"is {similarity.min_edit:.2f} and the Jaccard similarity {similarity.jaccard:.2f}."
    )
    return " ".join(sentences), _recommendations(by_status, material, current, previous)


def _recommendation(change: MaterialChange, previous_year: int) -> str:
    title = _quote(change.risk_title, TITLE_CHARS)
    quote = quote_about(material_quote(change), change.highlights)
    if change.change == "new_risk":
        return f"Read the new {change.category} risk {title}; it opens with {quote}."
    if change.change == "removed_risk":
        return f"Ask why {title} (fiscal {previous_year}) was removed; it read {quote}."
    if change.kind == "realised":
        return (
            f"Read {quote} in {title}: what fiscal {previous_year} described as possible, "
            "this filing reports as having happened."
        )
    if change.kind == "new_law_regulation":
        return f"Check the exposure to the new law or regulator in {title}: {quote}."
    if change.kind == "new_event":
        return f"Read the new {change.category} event disclosed in {title}: {quote}."
    if change.kind == "removed_exposure":
        return f"Ask why {title} no longer says {quote}."
    return f"Review the widened exposure in {title}: {quote}."


def _recommendations(
    by_status: dict[str, list[RiskChange]],
    material: Sequence[MaterialChange],
    current: FilingInfo,
    previous: FilingInfo,
) -> list[str]:
    chosen = _distinct(material, TOP_RECOMMENDED)
    recommendations = [_recommendation(c, previous.year) for c in chosen]
    removed = [r for r in by_status["removed"] if r.title_previous]
    if removed and not any(c.change == "removed_risk" for c in chosen):
        n = len(removed)
        recommendations.append(
            f"Ask why {_count(n, 'risk factor')} from fiscal {previous.year} no longer "
            f"{'appears' if n == 1 else 'appear'}, starting with "
            f"{_quote(removed[0].title_previous or '')}."
        )
    if not recommendations:
        recommendations.append(
            f"No action needed: {len(by_status['unchanged'])} of {current.risk_count} risk "
            "factors are unchanged and no change scored as material."
        )
    return recommendations
