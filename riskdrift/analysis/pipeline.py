"""The analysis as a sequence of top-level, picklable steps.

The research agent runs each step in an executor (a process pool in the
worker), so every function here is module-level and takes and returns plain
dataclasses and pydantic models. What crosses the process boundary is kept
small: a filing's bytes go in once, and only its Item 1A text and risk factors
come back (tens of kilobytes, not the 2 MB document or its parse tree).

:func:`analyse_documents` chains all steps in one process — the benchmark and
the tests use it; the agent calls the steps one by one to report progress.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from riskdrift.analysis.document import UNLIMITED, DocumentLimits, DocumentMetadata
from riskdrift.analysis.heatmap import HEATMAP_COLUMNS, build_heatmap
from riskdrift.analysis.matching import (
    MATCH_THRESHOLD,
    TITLE_WEIGHT,
    UNCHANGED_THRESHOLD,
    RiskPair,
    match_risks,
)
from riskdrift.analysis.materiality import material_changes
from riskdrift.analysis.moves import settle_moves
from riskdrift.analysis.risks import RiskFactor, segment
from riskdrift.analysis.sections import Item1A, extract_item1a
from riskdrift.analysis.sentences import SentenceAligner, normalise_trivia, undo_trivial_edits
from riskdrift.analysis.sentiment import Lexicon, score_tone
from riskdrift.analysis.similarity import lazy_prices_similarity, sequence_similarity, words
from riskdrift.analysis.summary import HIGH_DRIFT, write_summary
from riskdrift.analysis.taxonomy import categorise
from riskdrift.analysis.themes import TermFolding, count_terms, find_themes
from riskdrift.errors import RisksNotFound
from riskdrift.models import (
    AnalysisResult,
    ExtractionRecord,
    FilingDocument,
    FilingInfo,
    Heatmap,
    MaterialChange,
    RiskChange,
    RiskStatus,
    SentenceChanges,
    SimilarityScores,
    Themes,
    ToneScores,
)

__all__ = [
    "ENGINE_RELEASE",
    "DriftReport",
    "ParsedFiling",
    "analyse_documents",
    "assemble_result",
    "compare_filings",
    "cross_check",
    "engine_version",
    "filing_info",
    "method_record",
    "parse_filing",
    "score_risks",
    "summarise",
]

ENGINE_RELEASE = "1.2"
"""Raised by hand when the analysis changes in a way worth naming (results record it)."""


def _source_digest() -> str:
    """sha256 (12 hex digits) of this package's code and data, as installed.

    Part of :func:`engine_version`, so any change to the analysis (a threshold, a stop
    word, a parser fix) gives results a new engine version and the result cache never
    answers with what older code computed, whether or not anyone raised the release.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".txt", ".json", ".csv"}:
            digest.update(path.relative_to(package).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


@functools.cache
def engine_version() -> str:
    """What computes results: the release and the digest of the analysis code and data.

    Read once per process, on first use (never at import): the worker and the API ask
    for it as they start, an analysis process with its first result.
    """
    return f"riskdrift-analysis/{ENGINE_RELEASE}+{_source_digest()}"


@dataclass(frozen=True, slots=True)
class ParsedFiling:
    """What the extraction step hands back: Item 1A text, its risks and the dei metadata."""

    name: str
    item1a_text: str
    risks: tuple[RiskFactor, ...]
    metadata: DocumentMetadata
    styled: bool
    extraction: ExtractionRecord


@dataclass(frozen=True, slots=True)
class DriftReport:
    """The comparison of two filings: whole-section similarity and one row per risk."""

    similarity: SimilarityScores
    changes: list[RiskChange]
    themes: Themes


#: Below this many characters an Item 1A without risks is a pointer or a placeholder,
#: and the error quotes it.
QUOTED_SECTION_CHARS = 1000
#: Item 1A shorter than this share of the other year's: warn; far shorter: fail.
SHORT_SECTION_WARN = 0.5
SHORT_SECTION_FAIL = 0.25


def _no_risks(item: Item1A, name: str) -> RisksNotFound:
    text = item.text
    if len(text) < QUOTED_SECTION_CHARS:
        quoted = " ".join(text.split())
        return RisksNotFound(
            f"Item 1A holds only {len(text)} characters and no risk factors "
            f'(it reads: "{quoted}"); the risks may be in another document',
            filing=name,
        )
    return RisksNotFound(
        f"Item 1A ({len(text):,} characters) was found, but no risk-factor headings could be "
        "told apart in it (tried the repeating heading style, plain-text heading lines and "
        "paragraph first sentences)",
        filing=name,
    )


def parse_filing(content: bytes, name: str, limits: DocumentLimits = UNLIMITED) -> ParsedFiling:
    """Extract Item 1A from a filing's bytes and split it into risk factors.

    Raises ``FilingParseError`` / ``Item1ANotFound`` / ``RisksNotFound``
    (permanent errors): a filing never yields an empty list of risks.
    """
    item = extract_item1a(content, name, limits)
    styled = any(b.bold or b.italic or b.underline for b in item.blocks)
    split = segment(item.blocks, styled=styled, html=item.is_html)
    if not split.risks:
        raise _no_risks(item, name)
    extraction = ExtractionRecord(
        strategy=item.located_by,
        heading_style=split.heading_style,
        warnings=[*item.warnings, *split.warnings],
    )
    return ParsedFiling(name, item.text, tuple(split.risks), item.metadata, styled, extraction)


def cross_check(current: ParsedFiling, previous: ParsedFiling) -> list[ExtractionRecord]:
    """Each filing's extraction record with warnings from comparing it with the other year.

    Raises :class:`RisksNotFound` when one year's Item 1A is far shorter than the
    other's: the section was cut short or points elsewhere, and a comparison of it
    would report most risks as removed or new. When the other year is the odd one
    (one risk of it holds most of its text, and without that risk the two compare),
    the error names that filing instead: its one huge paragraph is at fault, not
    this year's ordinary section.
    """
    records = []
    for this, other in ((current, previous), (previous, current)):
        record = this.extraction.model_copy(deep=True)
        share = len(this.item1a_text) / max(len(other.item1a_text), 1)
        if share < SHORT_SECTION_FAIL:
            largest = max((len(r.text) for r in other.risks), default=0)
            rest = len(other.item1a_text) - largest
            if largest > len(other.item1a_text) / 2 and len(this.item1a_text) * 4 >= rest:
                raise RisksNotFound(
                    f"Item 1A is {len(other.item1a_text):,} characters, "
                    f"{len(other.item1a_text) / max(len(this.item1a_text), 1):.0f}× the "
                    f"{len(this.item1a_text):,} in {this.name}, and one risk factor holds "
                    f"{largest:,} of them: that paragraph probably ran past the section or "
                    "the filing is malformed; check the filing",
                    filing=other.name,
                )
            raise RisksNotFound(
                f"Item 1A is {len(this.item1a_text):,} characters, {share:.0%} of the "
                f"{len(other.item1a_text):,} in {other.name}: the section was probably cut "
                "short or points to another document; check the filing",
                filing=this.name,
            )
        if share < SHORT_SECTION_WARN:
            record.warnings.append(
                f"Item 1A is {share:.0%} of the length of the other year's "
                f"({len(this.item1a_text):,} vs {len(other.item1a_text):,} characters)"
            )
        risk_share = len(this.risks) / max(len(other.risks), 1)
        if risk_share < SHORT_SECTION_WARN:
            record.warnings.append(
                f"{len(this.risks)} risks against {len(other.risks)} the other year; "
                "some headings may not have been recognised"
            )
        records.append(record)
    return records


def score_risks(risks: Sequence[RiskFactor], lexicon: Lexicon) -> list[ToneScores]:
    """Financial tone of each risk factor (heading and body)."""
    return [score_tone(r.text, lexicon) for r in risks]


def _change(
    pair: RiskPair,
    current: Sequence[RiskFactor],
    previous: Sequence[RiskFactor],
    current_tones: Sequence[ToneScores],
    previous_tones: Sequence[ToneScores],
    aligner: SentenceAligner,
) -> RiskChange:
    cur = current[pair.current] if pair.current is not None else None
    prev = previous[pair.previous] if pair.previous is not None else None
    tone_cur = current_tones[pair.current] if pair.current is not None else None
    tone_prev = previous_tones[pair.previous] if pair.previous is not None else None
    basis = cur or prev
    assert basis is not None
    delta = (
        round(tone_cur.net - tone_prev.net, 4)
        if tone_cur is not None and tone_prev is not None
        else None
    )
    changes = aligner.align(prev.body if prev else None, cur.body if cur else None)
    if cur is not None and prev is not None and changes.trivial_edits:
        pair = _without_trivia(pair, cur, prev, changes)
    status = pair.status
    if status == "unchanged" and (changes.added or changes.removed or changes.edited):
        status = "modified"  # near-identical text, but a sentence did change: say which
    return RiskChange(
        status=status,
        category=categorise(basis.title, basis.body, basis.section),
        section=basis.section,
        title_current=cur.title if cur else None,
        title_previous=prev.title if prev else None,
        text_similarity=pair.text_similarity,
        sentiment_current=tone_cur.net if tone_cur else None,
        sentiment_previous=tone_prev.net if tone_prev else None,
        sentiment_delta=delta,
        drift_score=pair.drift_score,
        tone_current=tone_cur,
        tone_previous=tone_prev,
        text_current=cur.body if cur else None,
        text_previous=prev.body if prev else None,
        changes=changes if status != "unchanged" or changes.trivial_edits else None,
    )


def _without_trivia(
    pair: RiskPair, cur: RiskFactor, prev: RiskFactor, changes: SentenceChanges
) -> RiskPair:
    """The pair's similarity, drift and status as if its trivial edits had not been made.

    A risk whose only differences are trivial (punctuation, hyphenation, a spaced-out
    word…) is ``unchanged`` with no drift; a risk with real edits drifts by those alone.
    """
    title = cur.title if normalise_trivia(cur.title) == normalise_trivia(prev.title) else prev.title
    body = undo_trivial_edits(prev.body, changes)
    similarity = round(sequence_similarity(words(cur.text), words(f"{title}\n{body}")), 4)
    status: RiskStatus = "unchanged" if similarity >= UNCHANGED_THRESHOLD else "modified"
    return replace(pair, status=status, text_similarity=similarity)


def compare_filings(
    current: ParsedFiling,
    previous: ParsedFiling,
    current_tones: Sequence[ToneScores],
    previous_tones: Sequence[ToneScores],
) -> DriftReport:
    """Match the risks of two filings, align their sentences, find the themes that rose and
    fell, and measure the whole-section similarity."""
    pairs = match_risks(current.risks, previous.risks)
    aligner = SentenceAligner(r.body for r in (*current.risks, *previous.risks))
    changes = [
        _change(p, current.risks, previous.risks, current_tones, previous_tones, aligner)
        for p in pairs
    ]
    # A sentence moved to another risk (or behind another heading) is no change: settled
    # here, before materiality and the summary read the changes.
    changes = settle_moves(changes, current.item1a_text, previous.item1a_text)
    folding = TermFolding.of(current.item1a_text, previous.item1a_text)
    themes = find_themes(
        count_terms(
            current.item1a_text,
            [
                (k, current.risks[p.current].text)
                for k, p in enumerate(pairs)
                if p.current is not None
            ],
            folding,
        ),
        count_terms(
            previous.item1a_text,
            [
                (k, previous.risks[p.previous].text)
                for k, p in enumerate(pairs)
                if p.previous is not None
            ],
            folding,
        ),
    )
    similarity = lazy_prices_similarity(current.item1a_text, previous.item1a_text)
    return DriftReport(similarity, changes, themes)


def filing_info(
    document: FilingDocument, parsed: ParsedFiling, extraction: ExtractionRecord | None = None
) -> FilingInfo:
    """The result's record of one filing: the source's metadata, else the document's dei tags."""
    period_end: dt.date | None = document.period_end or parsed.metadata.period_end
    return FilingInfo(
        year=document.year,
        form=document.form or parsed.metadata.document_type or "10-K",
        accession=document.accession,
        filed=document.filed,
        period_end=period_end,
        source=document.source,
        item1a_chars=len(parsed.item1a_text),
        risk_count=len(parsed.risks),
        document=document.document or document.name,
        extraction=extraction or parsed.extraction,
    )


def method_record(lexicon: Lexicon) -> dict[str, Any]:
    """How a result was computed: engine version, thresholds and lexicon name."""
    return {
        "engine": engine_version(),
        "lexicon": lexicon.name,
        "thresholds": {
            "match_score": MATCH_THRESHOLD,
            "unchanged_similarity": UNCHANGED_THRESHOLD,
            "title_weight": TITLE_WEIGHT,
            "high_drift": HIGH_DRIFT,
        },
        "similarity": "Lazy Prices (Cohen, Malloy & Nguyen 2020): "
        "cosine, jaccard, min_edit, simple",
        "heatmap_columns": list(HEATMAP_COLUMNS),
    }


def summarise(
    company: str, filings: Sequence[FilingInfo], report: DriftReport
) -> tuple[Heatmap, str, list[str], list[MaterialChange]]:
    """Build the heatmap and the ranked material changes, then the summary and
    recommendations, of a drift report."""
    heatmap = build_heatmap(report.changes)
    material = material_changes(report.changes, (filings[0].year, filings[1].year))
    summary, recommendations = write_summary(
        company, filings, report.similarity, report.changes, heatmap, report.themes, material
    )
    return heatmap, summary, recommendations, material


@dataclass(frozen=True, slots=True)
class Identity:
    """Who and what a result is about: the two filings, the company, its CIK."""

    filings: list[FilingInfo]
    company: str
    cik: str | None


def identify(
    current: FilingDocument,
    previous: FilingDocument,
    parsed_current: ParsedFiling,
    parsed_previous: ParsedFiling,
) -> Identity:
    """The source's metadata first, the documents' ``dei:`` tags where it has none.

    Raises :class:`RisksNotFound` when the two years' sections disagree too far
    in length to be compared (see :func:`cross_check`).
    """
    record_current, record_previous = cross_check(parsed_current, parsed_previous)
    return Identity(
        filings=[
            filing_info(current, parsed_current, record_current),
            filing_info(previous, parsed_previous, record_previous),
        ],
        company=(
            current.company
            or parsed_current.metadata.company
            or previous.company
            or parsed_previous.metadata.company
            or current.ticker
        ),
        cik=current.cik or parsed_current.metadata.cik or parsed_previous.metadata.cik,
    )


def build_result(
    current: FilingDocument,
    previous: FilingDocument,
    identity: Identity,
    report: DriftReport,
    heatmap: Heatmap,
    summary: str,
    recommendations: list[str],
    lexicon: Lexicon,
    material: list[MaterialChange] | None = None,
) -> AnalysisResult:
    """The wire model from the finished parts."""
    return AnalysisResult(
        ticker=current.ticker,
        company=identity.company,
        cik=identity.cik,
        years=[current.year, previous.year],
        filings=identity.filings,
        similarity=report.similarity,
        risks=report.changes,
        heatmap=heatmap,
        themes=report.themes,
        material_changes=material or [],
        summary=summary,
        recommendations=recommendations,
        method=method_record(lexicon),
    )


def assemble_result(
    current: FilingDocument,
    previous: FilingDocument,
    parsed_current: ParsedFiling,
    parsed_previous: ParsedFiling,
    report: DriftReport,
    lexicon: Lexicon,
) -> AnalysisResult:
    """Put a finished comparison into the wire model (heatmap and summary included)."""
    identity = identify(current, previous, parsed_current, parsed_previous)
    heatmap, summary, recommendations, material = summarise(
        identity.company, identity.filings, report
    )
    return build_result(
        current, previous, identity, report, heatmap, summary, recommendations, lexicon, material
    )


def analyse_documents(
    current: FilingDocument,
    previous: FilingDocument,
    lexicon: Lexicon,
    limits: DocumentLimits = UNLIMITED,
    on_step: Callable[[str], None] | None = None,
) -> AnalysisResult:
    """The whole pure pipeline in one call: parse both, score, match, heatmap, summary.

    ``on_step`` is told each stage's name as it ends (``extracting_risks``,
    ``scoring_sentiment``, ``matching_risks``, ``building_heatmap``): the caller's
    progress report, made from inside the process that runs the analysis.

    The result also holds each filing's parsed risk factors (``result.risk_factors``,
    never serialised), which travel with it across a process boundary (pickle keeps a
    model's private attributes). Raises what :func:`parse_filing` and
    :func:`identify` raise; the current year's filing is parsed first, so its error is
    the one raised when both are unreadable. ``limits`` bounds the work per filing
    (:class:`~riskdrift.errors.FilingTooComplex` past them).
    """
    parsed_current = parse_filing(current.content, current.name, limits)
    parsed_previous = parse_filing(previous.content, previous.name, limits)
    step = on_step or (lambda _: None)
    step("extracting_risks")
    scored_current = score_risks(parsed_current.risks, lexicon)
    scored_previous = score_risks(parsed_previous.risks, lexicon)
    step("scoring_sentiment")
    report = compare_filings(parsed_current, parsed_previous, scored_current, scored_previous)
    step("matching_risks")
    result = assemble_result(current, previous, parsed_current, parsed_previous, report, lexicon)
    step("building_heatmap")
    result.risk_factors.update(
        {current.year: parsed_current.risks, previous.year: parsed_previous.risks}
    )
    return result
