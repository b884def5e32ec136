"""Pydantic models of everything that crosses a process boundary.

Requests, jobs, progress events and the analysis result are serialised once
here and validated with ``model_validate_json`` on the way back in.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

if TYPE_CHECKING:
    from riskdrift.analysis.risks import RiskFactor

TICKER_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
# The exact filing of a job's current year: an EDGAR accession number, or a file name of
# the local filing directory (``2024.10-KA.html``: fiscal 2024's amendment).
ACCESSION_RE = re.compile(r"^\d{10}-\d{2}-\d{6}$")
LOCAL_FILING_RE = re.compile(r"^(\d{4})(\.10-KA)?\.(html|htm|txt)$")
FIRST_FISCAL_YEAR = 2005  # Item 1A became mandatory for fiscal years ending after 2005-12-01


def latest_fiscal_year() -> int:
    """The latest fiscal year a filer may label a 10-K with: next calendar year."""
    return dt.datetime.now(dt.UTC).year + 1


class Strict(BaseModel):
    """Base of wire models: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


def normalise_ticker(value: str) -> str:
    """Upper-case and validate a ticker symbol (``brk.b`` → ``BRK.B``)."""
    ticker = value.strip().upper()
    if not TICKER_RE.fullmatch(ticker):
        raise ValueError(
            "ticker must be 1-10 characters: a letter, then letters, digits, '.' or '-'"
        )
    return ticker


def check_years(years: list[int]) -> list[int]:
    """Validate ``[current, previous]``: two distinct fiscal years in the supported range."""
    if len(years) != 2:
        raise ValueError("years must be exactly two fiscal years: [current, previous]")
    last = latest_fiscal_year()
    for year in years:
        if not FIRST_FISCAL_YEAR <= year <= last:
            raise ValueError(
                f"fiscal year {year} is out of range {FIRST_FISCAL_YEAR}-{last} "
                "(Item 1A exists from fiscal 2005)"
            )
    if years[0] == years[1]:
        raise ValueError("years must be two different fiscal years")
    return years


def http_callback(url: AnyUrl | None) -> AnyUrl | None:
    """A callback URL must be absolute http(s); where it may point is checked on submission
    (:func:`riskdrift.api.callbacks.check_callback`) and again at each delivery."""
    if url is not None and (url.scheme not in ("http", "https") or not url.host):
        raise ValueError("callback_url must be an absolute http(s) URL")
    return url


CallbackURL = Annotated[
    AnyUrl | None, Field(default=None, max_length=2048), AfterValidator(http_callback)
]
"""The ``callback_url`` of a job, a batch or a watchlist (``None``: no webhook)."""


class AnalyzeRequest(Strict):
    """``POST /analyze``: compare Item 1A of fiscal ``years[0]`` against ``years[1]``."""

    ticker: Annotated[str, Field(examples=["AAPL"], max_length=16)]
    years: Annotated[list[int], Field(examples=[[2024, 2023]], min_length=2, max_length=2)]
    callback_url: CallbackURL = None
    callback_payload: Literal["full", "thin"] = Field(
        default="full",
        # Left out of the dump when the default, so a request's hash (idempotency) is
        # what it was before the field existed.
        exclude_if=lambda value: value == "full",
        description="what the job.completed webhook carries: the whole result (full), or "
        "the job's ids, status, risk counts, summary and links (thin), for receivers "
        "with a body size limit; the result is then read from links.result",
    )
    filing: str | None = Field(
        default=None,
        max_length=32,
        # Left out of the dump when unset, so a request's hash (idempotency) is what it was.
        exclude_if=lambda value: value is None,
        examples=["0001104659-25-042659", "2024.10-KA.html"],
        description="the exact filing to analyse for the current year, instead of the one "
        "its year's lookup picks (the original 10-K): an EDGAR accession number, or with "
        "the local filing directory a file name such as 2024.10-KA.html (an amendment). "
        "The filing watch sets it to the filing it saw.",
    )

    @field_validator("ticker")
    @classmethod
    def _ticker(cls, value: str) -> str:
        return normalise_ticker(value)

    @model_validator(mode="after")
    def _filing_of_current_year(self) -> AnalyzeRequest:
        if self.filing is None or ACCESSION_RE.fullmatch(self.filing):
            return self
        local = LOCAL_FILING_RE.fullmatch(self.filing)
        if local is None:
            raise ValueError(
                "filing must be an EDGAR accession number (0001104659-25-042659) or a local "
                "file name (2024.html, 2024.10-KA.html)"
            )
        if int(local[1]) != self.current_year:
            raise ValueError(
                f"filing {self.filing} is of fiscal {local[1]}, not the current year "
                f"{self.current_year}"
            )
        return self

    @field_validator("years")
    @classmethod
    def _years(cls, value: list[int]) -> list[int]:
        return check_years(value)

    @property
    def current_year(self) -> int:
        return self.years[0]

    @property
    def previous_year(self) -> int:
        return self.years[1]


class JobStatus(StrEnum):
    """Job life cycle: ``queued → processing → completed | failed | cancelled``."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class JobLinks(BaseModel):
    self: str
    stream: str
    result: str
    report: str = Field(description="the result as a self-contained HTML report")

    @classmethod
    def for_job(cls, job_id: uuid.UUID, base: str = "") -> JobLinks:
        """The job's links, relative or under ``base`` (an absolute origin)."""
        return cls(
            self=f"{base}/jobs/{job_id}",
            stream=f"{base}/stream/{job_id}",
            result=f"{base}/jobs/{job_id}/result",
            report=f"{base}/jobs/{job_id}/report",
        )


Trigger = Literal["api", "watch"]
"""What started a job: a client (``api``) or a watchlist's new filing (``watch``)."""
TRIGGERS: tuple[str, ...] = get_args(Trigger)


class Job(BaseModel):
    """A job as ``GET /jobs/{id}`` shows it."""

    job_id: uuid.UUID
    ticker: str
    years: list[int]
    status: JobStatus
    progress: int = Field(ge=0, le=100)
    step: str | None
    attempts: int
    error: str | None
    callback_url: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    batch_id: uuid.UUID | None = Field(
        default=None, description="the batch that created the job, if one did"
    )
    trigger: Trigger = Field(
        default="api", description="what started the job: a client, or a watchlist's new filing"
    )
    watchlist_id: uuid.UUID | None = Field(
        default=None, description="the watchlist whose new filing started the job, if one did"
    )
    filing: str | None = Field(
        default=None,
        description="the exact filing analysed for the current year (an EDGAR accession "
        "number or a local file name, e.g. a 10-K/A the watch saw); null: the year's 10-K",
    )
    links: JobLinks


class JobAccepted(BaseModel):
    """``202`` answer of ``POST /analyze``."""

    job_id: uuid.UUID
    status: JobStatus
    links: JobLinks


class JobPage(BaseModel):
    """One page of ``GET /jobs``; pass ``next_cursor`` back as ``cursor`` for the next."""

    jobs: list[Job]
    next_cursor: str | None


EventName = Literal[
    "job_queued",
    "job_started",
    "step_complete",
    "job_retrying",
    "job_completed",
    "job_failed",
    "job_cancelled",
]
TERMINAL_EVENTS: frozenset[str] = frozenset({"job_completed", "job_failed", "job_cancelled"})


class JobEvent(BaseModel):
    """One progress event as stored in a job's Redis Stream and sent over SSE."""

    event: EventName
    job_id: uuid.UUID
    at: dt.datetime
    step: str | None = None
    progress: int | None = None
    attempt: int | None = None
    error: str | None = None
    status: JobStatus | None = None

    @property
    def terminal(self) -> bool:
        return self.event in TERMINAL_EVENTS


# --- the analysis result (DESIGN.md "The analysis result") ---------------------------------

RiskStatus = Literal["new", "removed", "modified", "unchanged"]


class ExtractionRecord(BaseModel):
    """How Item 1A was found and split in one filing, so a user can judge how far to trust it."""

    strategy: str = Field(
        description="how the section was found: item_heading, section_title, "
        "cross_reference_index, annual_report (EX-13), plain_text, …"
    )
    heading_style: str | None = Field(
        default=None,
        description="the typographic style of the risk headings: bold, italic, underline, "
        "bold-italic, italic lead-in, plain-text line, …",
    )
    warnings: list[str] = Field(
        default_factory=list, description="anything that makes this filing's risks less certain"
    )


@dataclass(frozen=True, slots=True)
class FilingDocument:
    """The primary document of one 10-K, as fetched, before any parsing.

    ``year`` is the filer's own fiscal-year label. Metadata a source does not
    know (a local file has no accession number) is ``None``; the analysis fills
    company, CIK and period end from the document's inline-XBRL ``dei:`` tags.
    """

    ticker: str
    year: int
    content: bytes
    name: str  # human-readable origin: a path or a URL
    source: str  # "local" | "edgar"
    form: str = "10-K"
    accession: str | None = None
    filed: dt.date | None = None
    period_end: dt.date | None = None
    company: str | None = None
    cik: str | None = None
    # Which document of the filing ``content`` is: the primary 10-K document's file name,
    # or its EX-13 annual report when Item 1A is incorporated from there.
    document: str | None = None


class FilingInfo(BaseModel):
    year: int
    form: str
    accession: str | None = None
    filed: dt.date | None = None
    period_end: dt.date | None = None
    source: str
    item1a_chars: int
    risk_count: int
    document: str | None = Field(
        default=None,
        description="the document the risks came from (the 10-K itself, or its EX-13 annual "
        "report when Item 1A is incorporated by reference)",
    )
    extraction: ExtractionRecord | None = None


class SimilarityScores(BaseModel):
    """Lazy Prices similarity (Cohen, Malloy & Nguyen 2020) of the whole Item 1A, 0..1."""

    cosine: float
    jaccard: float
    min_edit: float
    simple: float


class ToneScores(BaseModel):
    """Financial tone of a text: lexicon hits per 100 words, and net tone in -1..1."""

    negative: float
    positive: float
    uncertainty: float
    litigious: float
    strong_modal: float
    weak_modal: float
    net: float


class PositionedSentence(BaseModel):
    """A sentence of a risk's body and its 0-based position among that body's sentences."""

    text: str
    position: int


class WordOp(BaseModel):
    """One run of a word-level diff: words kept, inserted (current only) or deleted."""

    op: Literal["equal", "insert", "delete"]
    text: str


class SentenceEdit(BaseModel):
    """A previous-year sentence reworded into a current-year one (a near match)."""

    previous: str
    current: str
    position_previous: int
    position_current: int
    similarity: float = Field(description="word-level similarity of the two sentences, 0..1")
    diff: list[WordOp]
    trivial: bool = Field(
        default=False,
        description="the two differ only in punctuation, spacing, hyphenation, case, quote or "
        "dash style or number formatting: not a change of the risk (listed in trivial_edits)",
    )


class MovedSentence(BaseModel):
    """A sentence reported neither added nor removed: it stands in the other year's Item 1A
    too (moved between risks, or the two years drew the risk boundaries differently)."""

    text: str
    position: int = Field(description="0-based position among this risk's body sentences")
    year: Literal["current", "previous"] = Field(
        description="the year whose body of this risk holds the sentence"
    )
    other_risk: str | None = Field(
        default=None, description="title of the risk that holds it in the other year, if known"
    )


class SentenceChanges(BaseModel):
    """What changed inside one risk, sentence by sentence, in the filer's own words."""

    added: list[PositionedSentence] = Field(default_factory=list)
    removed: list[PositionedSentence] = Field(default_factory=list)
    edited: list[SentenceEdit] = Field(default_factory=list)
    unchanged: int = Field(default=0, description="sentences kept word for word")
    trivial_edits: list[SentenceEdit] = Field(
        default_factory=list,
        description="sentences that differ only trivially (punctuation, spacing, hyphenation, "
        "case, quote or dash style, number formatting); not in ``edited``, not counted as a "
        "change or in drift",
    )
    moved: list[MovedSentence] = Field(
        default_factory=list,
        description="sentences that stand in the other year's Item 1A as often as in this "
        "year's (moved between risks): not added or removed, not a change, not in drift",
    )


class RiskChange(BaseModel):
    status: RiskStatus
    category: str
    section: str | None = None
    title_current: str | None
    title_previous: str | None
    text_similarity: float
    sentiment_current: float | None
    sentiment_previous: float | None
    sentiment_delta: float | None
    drift_score: float
    tone_current: ToneScores | None = None
    tone_previous: ToneScores | None = None
    text_current: str | None = Field(default=None, description="the risk's body, current year")
    text_previous: str | None = Field(default=None, description="the risk's body, previous year")
    changes: SentenceChanges | None = Field(
        default=None,
        description="sentence-level changes; null for an unchanged risk, unless it has "
        "trivial edits (then only those)",
    )


MaterialKind = Literal[
    "realised",
    "new_law_regulation",
    "new_event",
    "new_risk",
    "removed_risk",
    "removed_exposure",
    "new_exposure",
]
ChangeType = Literal["new_risk", "removed_risk", "added", "removed", "edited"]


class MaterialChange(BaseModel):
    """One change ranked by how much a reader of the filing needs to hear about it
    (docs/ANALYSIS.md "Materiality")."""

    score: float = Field(ge=0, le=1, description="materiality, 0..1")
    kind: MaterialKind
    change: ChangeType = Field(description="what changed: a whole risk or one sentence")
    reasons: list[str] = Field(description="short phrases, each naming its evidence")
    risk: int = Field(description="index into ``risks``")
    risk_title: str
    risk_status: RiskStatus
    category: str
    current: str | None = Field(default=None, description="the current sentence, verbatim")
    previous: str | None = Field(default=None, description="the previous sentence, verbatim")
    highlights: list[str] = Field(
        default_factory=list,
        description="the words of the quoted sentence the reasons rest on, verbatim",
    )


class ThemeTerm(BaseModel):
    """A term (1-3 words, case-folded, plurals and spelling variants folded) whose use rose
    or fell between the years."""

    term: str = Field(description="the most frequent surface form, e.g. 'export controls'")
    count_current: int
    count_previous: int
    risks_current: list[int] = Field(
        default_factory=list, description="indexes into ``risks`` of the risks using it this year"
    )
    risks_previous: list[int] = Field(
        default_factory=list, description="indexes into ``risks`` of the risks using it last year"
    )
    forms: list[str] = Field(
        default_factory=list,
        description="the spellings counted as this term, most used first (plural, hyphenated "
        "and compound forms; a defined acronym's expansion), so a search can reproduce the count",
    )


class Themes(BaseModel):
    """Emerging (new or sharply rising) and fading terms across the whole Item 1A."""

    emerging: list[ThemeTerm] = Field(default_factory=list)
    fading: list[ThemeTerm] = Field(default_factory=list)


class Heatmap(BaseModel):
    rows: list[str]
    columns: list[str]
    values: list[list[float]]


class AnalysisResult(BaseModel):
    """What ``GET /jobs/{id}/result``, the webhook and ``riskdrift analyze --json`` carry."""

    ticker: str
    company: str
    cik: str | None
    years: list[int]
    filings: list[FilingInfo]
    similarity: SimilarityScores
    risks: list[RiskChange]
    heatmap: Heatmap
    themes: Themes | None = None
    material_changes: list[MaterialChange] = Field(
        default_factory=list, description="the most material changes, most material first"
    )
    summary: str
    recommendations: list[str]
    narrative: str | None = None
    method: dict[str, Any] = Field(default_factory=dict)
    cached: bool = Field(
        default=False,
        description="answered from the result cache: an earlier analysis of the same two "
        "filings with the same engine version (method.engine)",
    )
    # Each filing's parsed risk factors by fiscal year, as the research agent found them.
    # In-process only, never serialised: the worker stores them for embeddings and search.
    _risk_factors: dict[int, tuple[RiskFactor, ...]] = PrivateAttr(default_factory=dict)

    @property
    def risk_factors(self) -> dict[int, tuple[RiskFactor, ...]]:
        """The risk texts behind this result, by fiscal year (empty once deserialised)."""
        return self._risk_factors

    @model_validator(mode="after")
    def _years_match_filings(self) -> AnalysisResult:
        if self.filings and [f.year for f in self.filings] != self.years:
            raise ValueError("filings must be listed in the order of years: [current, previous]")
        return self


class RiskCounts(BaseModel):
    """How many risks of a result are new, removed, modified and unchanged."""

    new: int
    removed: int
    modified: int
    unchanged: int

    @classmethod
    def of(cls, result: AnalysisResult) -> RiskCounts:
        statuses = [risk.status for risk in result.risks]
        return cls(**{s: statuses.count(s) for s in ("new", "removed", "modified", "unchanged")})


class Problem(BaseModel):
    """RFC 9457 problem details, as every error response carries."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


# --- webhook deliveries (GET /jobs/{id}/deliveries) ----------------------------------------

WebhookEventType = Literal["job.completed", "job.failed", "batch.completed", "filing.analysed"]
DeliveryState = Literal["pending", "delivered", "failed", "gone", "refused"]


#: What became of one webhook delivery attempt (the ``outcome`` metric label uses the same).
WebhookOutcome = Literal["delivered", "retrying", "failed", "gone", "refused"]


class WebhookAttempt(BaseModel):
    """One delivery attempt: what was sent where, and what came back."""

    series: int = Field(description="1 for the first series; each redelivery starts the next")
    attempt: int = Field(description="1-based within the series")
    at: dt.datetime
    outcome: WebhookOutcome
    status_code: int | None = Field(description="HTTP status, if an answer arrived")
    error: str | None = Field(description="why the attempt did not deliver")
    duration_ms: float
    address: str | None = Field(description="the checked IP address the request went to")


class WebhookDelivery(BaseModel):
    """A job's webhook of one type: one body and ``webhook-id`` for every attempt."""

    delivery_id: uuid.UUID
    job_id: uuid.UUID
    type: WebhookEventType
    webhook_id: str
    status: DeliveryState
    series: int
    attempt_count: int = Field(description="attempts made in the current series")
    next_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    attempts: list[WebhookAttempt]


class WebhookDeliveryList(BaseModel):
    """``GET /jobs/{id}/deliveries``."""

    deliveries: list[WebhookDelivery]


# --- semantic risk search (GET /risks/search) -----------------------------------------------


# GET /batches/{id}/results.json and .csv; riskdrift.store.batches.result_rows reads it.
class BatchResultRow(BaseModel):
    """One pair of a batch's results."""

    job_id: uuid.UUID
    ticker: str
    current_year: int
    previous_year: int
    status: str
    risks_new: int | None
    risks_removed: int | None
    risks_modified: int | None
    similarity_cosine: float | None
    top_drift_category: str | None
    error: str | None
    cached: bool | None = Field(
        description="answered from the result cache (same filings, same engine version)"
    )
    top_materiality: float | None = Field(
        default=None, description="the score of the pair's most material change, 0..1"
    )
    top_material_kind: str | None = Field(
        default=None, description="the kind of the pair's most material change"
    )


class RiskSearchHit(BaseModel):
    """A stored risk factor and its cosine similarity to the query."""

    ticker: str
    company: str
    year: int
    title: str
    section: str | None
    category: str
    excerpt: str = Field(description="the first 300 characters of the risk's body")
    score: float = Field(description="cosine similarity to the query, -1..1")


class RiskSearchResults(BaseModel):
    """``GET /risks/search``: best first, from the caller's own analyses only."""

    query: str
    model: str = Field(description="the embedding model that ranked the results")
    results: list[RiskSearchHit]
