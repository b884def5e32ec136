"""Filings from SEC EDGAR over HTTP, politely.

Three EDGAR resources lead to one 10-K document:

1. ``{edgar_base_url}/files/company_tickers.json`` maps the ticker to a CIK;
2. ``{edgar_data_url}/submissions/CIK##########.json`` lists the filer's
   filings as columnar arrays (``filings.recent``), older ones in paged files
   (``filings.files[]`` → ``{edgar_data_url}/submissions/<name>``);
3. ``{edgar_base_url}/Archives/edgar/data/<cik>/<accession>/<primaryDocument>``
   is the document itself.

When a 10-K's Item 1A is incorporated by reference from the Annual Report to
Shareholders, the research agent asks :meth:`EdgarFilingSource.exhibit` for the
filing's EX-13: the filing's index page
(``.../<accession>/<accession>-index.htm``) names its documents and their
types, and the EX-13 is downloaded (and cached) like the primary document.

Which filing is fiscal year Y's 10-K is decided by the filer's own label,
never by the filing date; :mod:`riskdrift.sources.filing_index` states the
rule and implements it. A job that names its filing (``AnalyzeRequest.filing``, set by
the filing watch: a 10-K/A replaces its year's analysis) is answered by
:meth:`EdgarFilingSource.fetch_filing`: that accession, looked up in the same index.

Politeness (:mod:`riskdrift.sources.fair_access`): every request carries the
configured User-Agent (EDGAR requires a name and a contact e-mail; without one
this source refuses to call EDGAR), waits for its turn at one limiter (by
default a per-process ``RateLimiter``; workers pass a ``SharedRateLimiter`` so
the rate holds across all of them), and is retried on 429, 5xx, timeouts and
connection errors with exponential backoff that honours ``Retry-After``, a
bounded number of times, after which ``UpstreamUnavailable`` lets the job
layer retry later.

Size: a body is capped at ``max_bytes`` both as sent and decoded; the source
decodes ``Content-Encoding`` itself, layered encodings included, under that cap
(:mod:`riskdrift.sources.decoding`), so a decompression bomb is refused before it
expands.

Caching: documents on disk under ``edgar_cache_dir/<CIK>/<accession>/``
(written atomically, so a document is downloaded once per cache directory);
the tickers map and submissions JSON in memory for ``metadata_ttl`` seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import structlog
from pydantic import ValidationError

from riskdrift.config import Settings
from riskdrift.errors import (
    ConfigurationError,
    FilingNotFound,
    FilingParseError,
    UpstreamUnavailable,
)
from riskdrift.models import FilingDocument, normalise_ticker
from riskdrift.queue.retrying import parse_retry_after
from riskdrift.sources.decoding import BoundedDecoder
from riskdrift.sources.dei import read_cover_facts
from riskdrift.sources.fair_access import (
    Limiter,
    RateLimiter,
    RetryPolicy,
    check_user_agent,
)
from riskdrift.sources.filing_index import (
    AMENDMENT_FORMS,
    COMPANY_TICKERS,
    ORIGINAL_FORMS,
    CompanyTicker,
    FilingColumns,
    FilingEntry,
    IndexDocument,
    Submissions,
    filing_documents,
    filing_entries,
    find_exhibit,
    rank_candidates,
)
from riskdrift.sources.singleflight import SharedMetadata

__all__ = ["EdgarFilingSource", "EdgarStats", "RateLimiter", "RetryPolicy"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

DEFAULT_MAX_BYTES = 50 * 1024 * 1024


@dataclass(slots=True)
class EdgarStats:
    """Counters of one source's traffic (read by metrics; never reset by the source)."""

    requests: int = 0  # HTTP requests sent, retries included
    retries: int = 0
    documents_downloaded: int = 0
    bytes_downloaded: int = 0
    document_cache_hits: int = 0  # documents served from the disk cache
    metadata_cache_hits: int = 0  # tickers map / submissions served from memory


@dataclass(frozen=True, slots=True)
class EdgarResponse:
    """A fully read EDGAR answer (status, headers, body within the size cap)."""

    url: str
    status_code: int
    headers: httpx.Headers
    content: bytes


@dataclass(slots=True)
class _Expiring:
    expires: float
    value: Any


@dataclass(slots=True)
class _TTLCache:
    ttl: float
    entries: dict[str, _Expiring] = field(default_factory=dict)

    def get(self, key: str) -> Any | None:
        hit = self.entries.get(key)
        if hit is None or hit.expires < time.monotonic():
            self.entries.pop(key, None)
            return None
        return hit.value

    def put(self, key: str, value: Any) -> None:
        self.entries[key] = _Expiring(time.monotonic() + self.ttl, value)


class EdgarFilingSource:
    """A :class:`~riskdrift.sources.base.FilingSource` over SEC EDGAR (module docstring)."""

    name = "edgar"

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        limiter: Limiter | None = None,
        metadata_ttl: float = 600.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        shared: SharedMetadata | None = None,
    ) -> None:
        self.shared = shared  # cluster-wide single flight of submissions (singleflight.py)
        self.base_url = settings.edgar_base_url.rstrip("/")
        self.data_url = settings.edgar_data_url.rstrip("/")
        self.cache_dir = settings.edgar_cache_dir
        self.user_agent = (settings.edgar_user_agent or "").strip() or None
        self.retry = retry or RetryPolicy()
        self.limiter: Limiter = limiter or RateLimiter(settings.edgar_requests_per_second)
        self.max_bytes = max_bytes
        self.stats = EdgarStats()
        self._metadata = _TTLCache(metadata_ttl)
        self._locks: dict[str, asyncio.Lock] = {}
        headers = {"Accept-Encoding": "gzip, deflate"}
        if self.user_agent:
            headers["User-Agent"] = self.user_agent
        self._client = httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(settings.edgar_timeout),
            follow_redirects=True,
        )

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    # --- HTTP ------------------------------------------------------------------------------

    async def get(self, url: str, *, headers: dict[str, str] | None = None) -> EdgarResponse:
        """One polite GET: rate-limited, retried, size-capped. ``headers`` are added to the
        request (the filing watch's conditional requests: ``If-None-Match``).

        Returns the answer for 2xx and for 4xx other than 429 (the caller
        decides what a 404 means). Raises ``ConfigurationError`` without a valid
        User-Agent, ``UpstreamUnavailable`` when EDGAR rate-limits, fails or
        does not answer after the retry policy's attempts, or refuses the
        client (403), and ``FilingParseError`` for a body over the size cap.
        """
        check_user_agent(self.user_agent)
        attempt = 0
        while True:
            attempt += 1
            await self.limiter.acquire()
            self.stats.requests += 1
            retry_after: float | None = None
            try:
                response = await self._send(url, headers)
            except httpx.UnsupportedProtocol as err:
                raise ConfigurationError(f"bad EDGAR URL {url}: {err}") from err
            except httpx.TransportError as err:
                reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            else:
                status = response.status_code
                if status == 403:
                    # SEC answers 403 to undeclared tools and to clients over the rate limit,
                    # and blocks them for about ten minutes.
                    raise UpstreamUnavailable(
                        f"EDGAR refused {url} (403); check edgar_user_agent and the request rate",
                        retry_after=600.0,
                    )
                if status < 500 and status != 429:
                    return response
                reason = f"HTTP {status}"
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            if attempt >= self.retry.max_attempts:
                log.warning("edgar_request_failed", url=url, attempts=attempt, reason=reason)
                raise UpstreamUnavailable(
                    f"EDGAR did not answer {url} after {attempt} attempts ({reason})",
                    retry_after=retry_after,
                )
            if retry_after is not None and retry_after > self.retry.retry_after_max:
                log.warning("edgar_request_deferred", url=url, retry_after=retry_after)
                raise UpstreamUnavailable(
                    f"EDGAR asked to wait {retry_after:.0f}s before retrying {url} ({reason})",
                    retry_after=retry_after,
                )
            delay = retry_after if retry_after is not None else self.retry.backoff(attempt)
            self.stats.retries += 1
            log.info(
                "edgar_request_retrying",
                url=url,
                attempt=attempt,
                reason=reason,
                delay=round(delay, 3),
            )
            await asyncio.sleep(delay)

    async def _send(self, url: str, headers: dict[str, str] | None = None) -> EdgarResponse:
        async with self._client.stream("GET", url, headers=headers) as response:
            declared = response.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise FilingParseError(
                    f"EDGAR answer is {declared} bytes, over the {self.max_bytes}-byte limit",
                    filing=url,
                )
            # The raw bytes, decoded here under the cap: httpx would expand a stacked
            # gzip bomb to gigabytes inside one chunk before any count saw it.
            decoder = BoundedDecoder(
                response.headers.get("content-encoding"), self.max_bytes, what=url
            )
            chunks: list[bytes] = []
            total = 0
            async for chunk in response.aiter_raw():
                total += len(chunk)
                if total > self.max_bytes:
                    raise FilingParseError(
                        f"EDGAR answer is over the {self.max_bytes}-byte limit", filing=url
                    )
                chunks.append(decoder.feed(chunk))
            return EdgarResponse(
                url=str(response.url),
                status_code=response.status_code,
                headers=response.headers,
                content=b"".join(chunks),
            )

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _cached(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """Memoise ``load()`` in memory for the metadata TTL; one load per key at a time."""
        value = self._metadata.get(key)
        if value is not None:
            self.stats.metadata_cache_hits += 1
            return value  # type: ignore[no-any-return]
        async with self._lock(key):
            value = self._metadata.get(key)
            if value is not None:
                self.stats.metadata_cache_hits += 1
                return value  # type: ignore[no-any-return]
            loaded = await load()
            self._metadata.put(key, loaded)
            return loaded

    # --- EDGAR resources -------------------------------------------------------------------

    async def company(self, ticker: str) -> CompanyTicker:
        """The tickers-map entry of ``ticker``; ``FilingNotFound`` if EDGAR does not know it."""
        tickers = await self._cached("tickers", self._load_tickers)
        # EDGAR writes share classes with a dash: BRK-B.
        entry = tickers.get(ticker) or tickers.get(ticker.replace(".", "-"))
        if entry is None:
            raise FilingNotFound(f"EDGAR does not know the ticker {ticker}")
        return entry

    async def _load_tickers(self) -> dict[str, CompanyTicker]:
        url = f"{self.base_url}/files/company_tickers.json"
        response = await self.get(url)
        if response.status_code != 200:
            raise UpstreamUnavailable(f"EDGAR answered {response.status_code} for {url}")
        try:
            table = COMPANY_TICKERS.validate_json(response.content)
        except ValidationError as err:
            raise UpstreamUnavailable(f"EDGAR's tickers map at {url} is malformed: {err}") from err
        return {entry.ticker.upper(): entry for entry in table.values()}

    async def submissions(self, cik: int) -> Submissions:
        """The submissions JSON of a filer; ``FilingNotFound`` on 404."""
        name = f"CIK{cik:010d}.json"
        return await self._cached(name, lambda: self._load_submissions(name))

    async def history_page(self, name: str) -> list[FilingEntry]:
        """One paged file of older filings (``filings.files[].name``)."""
        return await self._cached(name, lambda: self._load_history_page(name))

    async def _load_json(self, url: str, what: str) -> bytes:
        if self.shared is not None:
            return await self.shared.fetch(url, lambda: self._download_json(url, what))
        return await self._download_json(url, what)

    async def _download_json(self, url: str, what: str) -> bytes:
        response = await self.get(url)
        if response.status_code == 404:
            raise FilingNotFound(f"EDGAR has no {what} ({url})")
        if response.status_code != 200:
            raise UpstreamUnavailable(f"EDGAR answered {response.status_code} for {url}")
        return response.content

    async def _load_submissions(self, name: str) -> Submissions:
        url = f"{self.data_url}/submissions/{name}"
        content = await self._load_json(url, "filing history for this company")
        try:
            return Submissions.model_validate_json(content)
        except ValidationError as err:
            raise UpstreamUnavailable(f"EDGAR submissions at {url} are malformed: {err}") from err

    async def _fresh_submissions(self, cik: int) -> Submissions:
        """The submissions index downloaded now, past both caches, and cached anew here."""
        name = f"CIK{cik:010d}.json"
        url = f"{self.data_url}/submissions/{name}"
        log.info("edgar_submissions_refreshed", cik=cik)
        content = await self._download_json(url, "filing history for this company")
        try:
            submissions = Submissions.model_validate_json(content)
        except ValidationError as err:
            raise UpstreamUnavailable(f"EDGAR submissions at {url} are malformed: {err}") from err
        self._metadata.put(name, submissions)
        return submissions

    async def _load_history_page(self, name: str) -> list[FilingEntry]:
        url = f"{self.data_url}/submissions/{quote(name)}"
        content = await self._load_json(url, "page of older filings")
        try:
            return filing_entries(FilingColumns.model_validate_json(content))
        except ValidationError as err:
            raise UpstreamUnavailable(f"EDGAR history page {url} is malformed: {err}") from err

    async def filings_for_year(self, submissions: Submissions, year: int) -> list[FilingEntry]:
        """The filer's filings, with paged history loaded when it may hold fiscal ``year``.

        Only the filing *date* decides which pages to load (a report for fiscal
        ``year`` is filed between 1 January of ``year`` and, amendments
        included, the end of ``year + 2``); it never decides the choice.
        """
        entries = filing_entries(submissions.filings.recent)
        earliest = min((e.filed for e in entries if e.filed), default=None)
        start, end = dt.date(year, 1, 1), dt.date(year + 2, 12, 31)
        if earliest is not None and earliest <= start:
            return entries
        seen = {e.accession for e in entries}
        for page in submissions.filings.files:
            if page.filing_to < start or page.filing_from > end:
                continue
            for entry in await self.history_page(page.name):
                if entry.accession not in seen:
                    seen.add(entry.accession)
                    entries.append(entry)
        return entries

    def document_url(self, cik: int, entry: FilingEntry) -> str:
        """Where EDGAR keeps the primary document of a filing."""
        return self.archive_url(cik, entry.accession, entry.primary_document)

    def cache_path(self, cik: int, entry: FilingEntry) -> Path:
        """Where the disk cache keeps a filing's primary document (by CIK and accession)."""
        name = Path(entry.primary_document).name
        if not name or name.startswith("."):
            name = "primary-document"
        return self.cache_dir / f"{cik:010d}" / entry.accession.replace("-", "") / name

    def archive_url(self, cik: int, accession: str, name: str) -> str:
        """Where EDGAR keeps one file of a filing."""
        folder = accession.replace("-", "")
        return f"{self.base_url}/Archives/edgar/data/{cik}/{folder}/{quote(name)}"

    async def document(self, cik: int, entry: FilingEntry) -> bytes:
        """A filing's primary document, from the disk cache or downloaded into it."""
        return await self._archive_file(cik, entry.accession, entry.primary_document, entry.form)

    async def _archive_file(self, cik: int, accession: str, name: str, what: str) -> bytes:
        """One file of a filing, from the disk cache or downloaded into it."""
        entry = FilingEntry(
            accession=accession, form=what, filed=None, period_end=None, primary_document=name
        )
        path = self.cache_path(cik, entry)
        async with self._lock(str(path)):
            cached = await asyncio.to_thread(_read_if_exists, path)
            if cached is not None:
                self.stats.document_cache_hits += 1
                return cached
            url = self.archive_url(cik, accession, name)
            response = await self.get(url)
            if response.status_code == 404:
                raise FilingNotFound(f"EDGAR lists {what} {accession} but has no {url}")
            if response.status_code != 200:
                raise UpstreamUnavailable(f"EDGAR answered {response.status_code} for {url}")
            if not response.content:
                raise FilingParseError("EDGAR sent an empty document", filing=url)
            self.stats.documents_downloaded += 1
            self.stats.bytes_downloaded += len(response.content)
            await asyncio.to_thread(_write_atomically, path, response.content)
            log.info(
                "edgar_document_downloaded",
                cik=cik,
                accession=accession,
                document=name,
                size=len(response.content),
            )
            return response.content

    async def filing_index(self, cik: int, accession: str) -> list[IndexDocument]:
        """The documents of one filing, from its ``<accession>-index.htm`` page."""
        url = self.archive_url(cik, accession, f"{accession}-index.htm")

        async def load() -> list[IndexDocument]:
            response = await self.get(url)
            if response.status_code == 404:
                raise FilingNotFound(f"EDGAR has no filing index for {accession} ({url})")
            if response.status_code != 200:
                raise UpstreamUnavailable(f"EDGAR answered {response.status_code} for {url}")
            return filing_documents(response.content.decode("utf-8", errors="replace"))

        return await self._cached(url, load)

    async def exhibit(self, document: FilingDocument, exhibit: str) -> FilingDocument | None:
        """The ``exhibit`` (e.g. ``EX-13``) of the filing ``document`` came from, as the
        document to analyse; ``None`` when the filing index lists no such exhibit.

        ``FilingDocument.document`` names the exhibit's file and ``name`` its URL, so
        the result records which document the risks came from.
        """
        if document.cik is None or document.accession is None:
            return None
        cik = int(document.cik)
        found = find_exhibit(await self.filing_index(cik, document.accession), exhibit)
        if found is None:
            log.info("edgar_exhibit_missing", accession=document.accession, exhibit=exhibit)
            return None
        content = await self._archive_file(cik, document.accession, found.document, found.type)
        log.info(
            "edgar_exhibit_chosen",
            accession=document.accession,
            exhibit=found.type,
            document=found.document,
        )
        return dataclasses.replace(
            document,
            content=content,
            name=self.archive_url(cik, document.accession, found.document),
            document=found.document,
        )

    # --- FilingSource ----------------------------------------------------------------------

    async def fetch(self, ticker: str, year: int) -> FilingDocument:
        """The 10-K of ``ticker`` labelled fiscal ``year`` by the filer (module docstring)."""
        check_user_agent(self.user_agent)
        ticker = normalise_ticker(ticker)
        company = await self.company(ticker)
        submissions = await self.submissions(company.cik)
        entries = await self.filings_for_year(submissions, year)
        examined: list[str] = []
        fallback: tuple[FilingEntry, bytes] | None = None
        for candidate in rank_candidates(entries, year):
            entry = candidate.entry
            try:
                content = await self.document(company.cik, entry)
            except FilingNotFound as err:  # listed in the index, missing from the archive
                log.warning("edgar_document_missing", accession=entry.accession, error=str(err))
                examined.append(f"{entry.form} {entry.accession} (document missing)")
                continue
            label = read_cover_facts(content).fiscal_year
            if label == year:
                return self._document(ticker, year, company, submissions, entry, content, label)
            if label is None and not candidate.needs_tag and fallback is None:
                # Untagged (pre-2019) filing: accept on the natural-year rule, unless a
                # later candidate's tag confirms the year outright.
                fallback = (entry, content)
                continue
            log.info(
                "edgar_candidate_rejected",
                ticker=ticker,
                year=year,
                accession=entry.accession,
                period_end=str(entry.period_end),
                fiscal_year_tag=label,
            )
            examined.append(
                f"{entry.form} {entry.accession} (period {entry.period_end}, "
                f"fiscal {label if label is not None else 'untagged'})"
            )
        if fallback is not None:
            entry, content = fallback
            return self._document(ticker, year, company, submissions, entry, content, None)
        detail = f"; examined {', '.join(examined)}" if examined else ""
        raise FilingNotFound(
            f"no 10-K for {ticker} (CIK {company.cik:010d}) labelled fiscal {year} on EDGAR{detail}"
        )

    async def fetch_filing(self, ticker: str, year: int, key: str) -> FilingDocument:
        """The annual report (10-K or 10-K/A) of ``ticker`` with accession number ``key``,
        as fiscal ``year``'s document: found in the company's submissions index (the one
        :meth:`fetch` reads), so a filing of another company is never taken. A document
        whose fiscal-year tag names another year is refused (``FilingNotFound``); one
        without the tag (a Part III amendment often has none) is taken as named.

        The named filing is usually new (the filing watch has just seen it), so an index
        cached before it was filed (in memory or in Redis, for ``metadata_ttl``) that
        lacks it is downloaded again once before the filing is called missing."""
        check_user_agent(self.user_agent)
        ticker = normalise_ticker(ticker)
        company = await self.company(ticker)
        submissions = await self.submissions(company.cik)
        entries = await self.filings_for_year(submissions, year)
        entry = next((e for e in entries if e.accession == key), None)
        if entry is None:
            submissions = await self._fresh_submissions(company.cik)
            entries = await self.filings_for_year(submissions, year)
            entry = next((e for e in entries if e.accession == key), None)
        if entry is None:
            raise FilingNotFound(
                f"EDGAR lists no filing {key} of {ticker} (CIK {company.cik:010d}) "
                f"filed for fiscal {year}"
            )
        if entry.form not in ORIGINAL_FORMS | AMENDMENT_FORMS:
            raise FilingNotFound(f"EDGAR filing {key} of {ticker} is a {entry.form}, not a 10-K")
        content = await self.document(company.cik, entry)
        label = read_cover_facts(content).fiscal_year
        if label is not None and label != year:
            raise FilingNotFound(
                f"EDGAR filing {key} of {ticker} ({entry.form}) is labelled fiscal {label}, "
                f"not {year}"
            )
        return self._document(ticker, year, company, submissions, entry, content, label)

    def _document(
        self,
        ticker: str,
        year: int,
        company: CompanyTicker,
        submissions: Submissions,
        entry: FilingEntry,
        content: bytes,
        label: int | None,
    ) -> FilingDocument:
        log.info(
            "edgar_filing_chosen",
            ticker=ticker,
            year=year,
            cik=company.cik,
            accession=entry.accession,
            form=entry.form,
            period_end=str(entry.period_end),
            fiscal_year_tag=label,
        )
        return FilingDocument(
            ticker=ticker,
            year=year,
            content=content,
            name=self.document_url(company.cik, entry),
            source=self.name,
            form=entry.form,
            accession=entry.accession,
            filed=entry.filed,
            period_end=entry.period_end,
            company=submissions.name or company.title,
            cik=f"{company.cik:010d}",
            document=entry.primary_document,
        )


def _read_if_exists(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _write_atomically(path: Path, content: bytes) -> None:
    """Write via a temporary file and rename, so readers never see half a document."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
