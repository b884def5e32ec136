"""What a watched company has filed: its annual reports as the configured source lists them.

Two listers, one interface (:class:`FilingLister`):

- :class:`LocalLister` reads the local filing directory: ``<root>/<TICKER>/<YEAR>.html``
  (or ``.htm``/``.txt``, :data:`riskdrift.sources.local.SUFFIXES`) is fiscal YEAR's 10-K,
  keyed ``local:<YEAR>``, and ``<YEAR>.10-KA.html`` its amendment (10-K/A), keyed by its
  file name (``local:2024.10-KA.html``); a file appearing there is a filing published. A
  ticker with no folder in any root is unknown (:class:`~riskdrift.errors.FilingNotFound`).
- :class:`EdgarLister` reads EDGAR's submissions index of the company's CIK
  (``filings.recent``), conditionally, through the EDGAR source's client, so every request
  waits for the shared fair-access pace and is retried on 429/5xx like a job's; each
  filing is keyed by its accession number, its fiscal year taken by the natural-year rule of
  :mod:`riskdrift.sources.filing_index` (the period end's calendar year).

An amendment replaces its year's analysis only if it restates the risk factors:
:meth:`FilingLister.has_item1a` reads a new amendment's document (off the event loop,
within the analysis' document limits) for an Item 1A, so a Part III-only 10-K/A (the
common case) starts no job and the original's analysis stands.

Listing is read-only and cheap: one directory listing, or one submissions request per
company (the CIK, once resolved, is remembered by the scheduler, so the tickers map is
read only for a company's first poll).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError
from redis.asyncio import Redis

from riskdrift.agent.research import document_limits
from riskdrift.analysis.document import UNLIMITED, DocumentLimits
from riskdrift.analysis.sections import extract_item1a
from riskdrift.config import Settings
from riskdrift.errors import (
    ConfigurationError,
    FilingNotFound,
    FilingParseError,
    Item1AIncorporatedByReference,
    Item1ANotFound,
    UpstreamUnavailable,
)
from riskdrift.models import FilingDocument, normalise_ticker
from riskdrift.sources.dei import read_cover_facts
from riskdrift.sources.edgar import EdgarFilingSource, EdgarStats
from riskdrift.sources.filing_index import (
    AMENDMENT_FORMS,
    ORIGINAL_FORMS,
    FilingEntry,
    Submissions,
    filing_entries,
    natural_year,
)
from riskdrift.sources.local import FILE_NAME, LocalFilingSource

# The watchlist's form names and the EDGAR forms each stands for.
FORM_FAMILIES: dict[str, frozenset[str]] = {"10-K": ORIGINAL_FORMS, "10-K/A": AMENDMENT_FORMS}


@dataclass(frozen=True, slots=True)
class ListedFiling:
    """One annual report of a company: its key (accession, or ``local:<year>``), its form
    as the watchlist names it (``10-K`` or ``10-K/A``), fiscal year and filing date."""

    key: str
    form: str
    fiscal_year: int
    filed: dt.date | None = None
    period_end: dt.date | None = None  # EDGAR's report date; None for a local file
    document: str | None = None  # EDGAR's primary document name; a local file's name
    # What a job names to analyse exactly this filing (AnalyzeRequest.filing): the
    # accession (EDGAR), the file name of a local amendment; None: the year's original.
    exact: str | None = None
    ticker: str = ""  # the company's, as the lister was asked for it


@dataclass(frozen=True, slots=True)
class IndexVersion:
    """The validators of a company's filing index (EDGAR's ``ETag``, ``Last-Modified``)."""

    etag: str | None = None
    modified: str | None = None


@dataclass(frozen=True, slots=True)
class CompanyFilings:
    """A company's annual reports, its CIK when the source knows one, and the index's
    version. ``unchanged``: the index is the version asked about (``filings`` is empty)."""

    cik: str | None
    filings: tuple[ListedFiling, ...]
    version: IndexVersion = IndexVersion()
    unchanged: bool = False


class FilingLister(Protocol):
    """Lists a company's annual reports; ``FilingNotFound`` when the ticker is unknown,
    ``TransientError`` when the source is unavailable. With ``since`` (the version of the
    last listing that was fully processed) it may answer ``unchanged``."""

    async def list_filings(
        self, ticker: str, *, cik: str | None, since: IndexVersion | None = None
    ) -> CompanyFilings: ...

    async def labelled_year(self, filing: ListedFiling, *, cik: str | None) -> int:
        """The filer's own fiscal-year label of a filing (asked for new filings only)."""
        ...

    async def has_item1a(self, filing: ListedFiling, *, cik: str | None) -> bool:
        """Whether a filing's document has an Item 1A (asked for new amendments only)."""
        ...


def has_item1a(document: FilingDocument, limits: DocumentLimits) -> bool:
    """Whether ``document`` has risk factors to analyse: an Item 1A of its own, or one that
    points to its annual report (the job fetches that exhibit). A document the analysis
    cannot read counts as having one, so its job runs and fails saying why."""
    try:
        extract_item1a(document.content, document.name, limits)
    except Item1AIncorporatedByReference:
        return True
    except Item1ANotFound:
        return False
    except FilingParseError:
        return True
    return True


class LocalLister:
    """The annual reports in the local filing directory (module docstring)."""

    def __init__(self, roots: Sequence[Path], *, limits: DocumentLimits = UNLIMITED) -> None:
        self.roots = tuple(roots)
        self.limits = limits

    async def list_filings(
        self, ticker: str, *, cik: str | None, since: IndexVersion | None = None
    ) -> CompanyFilings:
        if not self.roots:
            raise ConfigurationError(
                "filings_source is 'local' but no filings directory is set (RISKDRIFT_FILINGS_DIR)"
            )
        return await asyncio.to_thread(self._list, normalise_ticker(ticker))

    async def labelled_year(self, filing: ListedFiling, *, cik: str | None) -> int:
        """A local file's year is its name: the filer's label by the directory's rule."""
        return filing.fiscal_year

    async def has_item1a(self, filing: ListedFiling, *, cik: str | None) -> bool:
        """Whether the filing's file has an Item 1A (module docstring)."""
        if filing.document is None:
            return True  # an original: its lookup is the job's
        source = LocalFilingSource(self.roots[0], also=self.roots[1:])
        document = await source.fetch_filing(filing.ticker, filing.fiscal_year, filing.document)
        return await asyncio.to_thread(has_item1a, document, self.limits)

    def _list(self, ticker: str) -> CompanyFilings:
        years: set[int] = set()
        amended: dict[int, str] = {}
        known = False
        for root in self.roots:
            folder = root / ticker
            if not folder.is_dir():
                continue
            known = True
            for entry in folder.iterdir():
                match = FILE_NAME.match(entry.name)
                # A file being copied in is written under another name and renamed
                # (import_filing), so a matching name is a whole filing.
                if match and entry.is_file() and entry.stat().st_size > 0:
                    if match[2]:  # an amendment: the first root's, as the source reads it
                        amended.setdefault(int(match[1]), entry.name)
                    else:
                        years.add(int(match[1]))
        if not known:
            folders = ", ".join(str(root / ticker) for root in self.roots)
            raise FilingNotFound(f"no filings directory for {ticker}: looked for {folders}")
        originals = [ListedFiling(f"local:{y}", "10-K", y, ticker=ticker) for y in sorted(years)]
        amendments = [
            ListedFiling(f"local:{name}", "10-K/A", y, document=name, exact=name, ticker=ticker)
            for y, name in sorted(amended.items())
        ]
        return CompanyFilings(cik=None, filings=(*originals, *amendments))


class EdgarLister:
    """The annual reports in EDGAR's submissions index (module docstring).

    The index is asked for conditionally (``If-None-Match`` / ``If-Modified-Since`` with
    the validators of the last poll that was fully processed): a ``304`` costs EDGAR no
    body and this poll nothing more. The request goes through the source's polite
    ``get`` (shared pace, retries on 429/5xx, ``UpstreamUnavailable`` after them).
    """

    def __init__(self, source: EdgarFilingSource, *, limits: DocumentLimits = UNLIMITED) -> None:
        self.source = source
        self.limits = limits

    async def list_filings(
        self, ticker: str, *, cik: str | None, since: IndexVersion | None = None
    ) -> CompanyFilings:
        number = int(cik) if cik else (await self.source.company(normalise_ticker(ticker))).cik
        url = f"{self.source.data_url}/submissions/CIK{number:010d}.json"
        headers = {}
        if since is not None and since.etag:
            headers["If-None-Match"] = since.etag
        if since is not None and since.modified:
            headers["If-Modified-Since"] = since.modified
        response = await self.source.get(url, headers=headers)
        if response.status_code == 304 and since is not None:
            return CompanyFilings(cik=str(number), filings=(), version=since, unchanged=True)
        if response.status_code == 404:
            raise FilingNotFound(f"EDGAR has no filing history for CIK {number} ({url})")
        if response.status_code != 200:
            raise UpstreamUnavailable(f"EDGAR answered {response.status_code} for {url}")
        try:
            submissions = Submissions.model_validate_json(response.content)
        except ValidationError as err:
            raise UpstreamUnavailable(f"EDGAR submissions at {url} are malformed: {err}") from err
        version = IndexVersion(
            etag=response.headers.get("etag"), modified=response.headers.get("last-modified")
        )
        filings = []
        for entry in filing_entries(submissions.filings.recent):
            form = next((name for name, f in FORM_FAMILIES.items() if entry.form in f), None)
            if form is None or entry.period_end is None:
                continue
            filings.append(
                ListedFiling(
                    entry.accession,
                    form,
                    natural_year(entry.period_end),
                    entry.filed,
                    period_end=entry.period_end,
                    document=entry.primary_document,
                    exact=entry.accession,
                    ticker=normalise_ticker(ticker),
                )
            )
        return CompanyFilings(cik=str(number), filings=tuple(filings), version=version)

    async def labelled_year(self, filing: ListedFiling, *, cik: str | None) -> int:
        """The filing's ``dei:DocumentFiscalYearFocus``: Home Depot labels its year ended
        2025-02-02 fiscal 2024, which the period end alone cannot tell. One download per
        new filing, into the shared disk cache the analysis then reads it from; the
        natural-year guess stands for a document without the tag."""
        if cik is None or filing.document is None:
            return filing.fiscal_year
        content = await self.source.document(int(cik), _entry(filing))
        facts = await asyncio.to_thread(read_cover_facts, content)
        return facts.fiscal_year or filing.fiscal_year

    async def has_item1a(self, filing: ListedFiling, *, cik: str | None) -> bool:
        """Whether the filing's primary document has an Item 1A (module docstring): the
        document :meth:`labelled_year` read, from the shared disk cache."""
        if cik is None or filing.document is None:
            return True  # nothing to read: the job decides
        content = await self.source.document(int(cik), _entry(filing))
        url = self.source.document_url(int(cik), _entry(filing))
        document = FilingDocument(
            ticker=filing.ticker,
            year=filing.fiscal_year,
            content=content,
            name=url,
            source=self.source.name,
            form=filing.form,
            accession=filing.key,
        )
        return await asyncio.to_thread(has_item1a, document, self.limits)


def _entry(filing: ListedFiling) -> FilingEntry:
    assert filing.document is not None
    return FilingEntry(
        accession=filing.key,
        form=filing.form,
        filed=filing.filed,
        period_end=filing.period_end,
        primary_document=filing.document,
    )


def edgar_stats_of(agent: object) -> EdgarStats | None:
    """The EDGAR counters of a research agent's filing source, if it reads EDGAR."""
    stats = getattr(getattr(agent, "source", None), "stats", None)
    return stats if isinstance(stats, EdgarStats) else None


@contextlib.asynccontextmanager
async def open_lister(
    settings: Settings, *, redis: Redis, stats: EdgarStats | None = None
) -> AsyncIterator[FilingLister]:
    """The lister of the configured filing source, for the life of a worker process.

    ``stats``: the counters its EDGAR requests add to (the worker passes its agent's, so
    ``riskdrift_edgar_requests_total`` counts the watch's requests with the jobs').

    The EDGAR lister has its own source (its tickers map, read for a company's first poll
    only, is kept for half a watch interval); its requests take turns at the shared Redis
    pace with every job's, on ``redis`` (the worker's client: borrowed, not closed).
    """
    limits = document_limits(settings)
    if settings.resolved_filings_source == "local":
        roots = [settings.filings_dir] if settings.filings_dir is not None else []
        yield LocalLister([*roots, *settings.extra_filings_dirs], limits=limits)
        return
    from riskdrift.sources.fair_access import SharedRateLimiter

    source = EdgarFilingSource(
        settings,
        limiter=SharedRateLimiter(redis, settings.edgar_requests_per_second),
        metadata_ttl=max(1.0, settings.watch_interval / 2),
    )
    if stats is not None:
        source.stats = stats
    try:
        yield EdgarLister(source, limits=limits)
    finally:
        await source.aclose()
