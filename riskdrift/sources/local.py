"""Filings from a local directory, and the importer that fills it.

Layout: ``<root>/<TICKER>/<YEAR>.html`` (or ``.htm``, ``.txt``), where YEAR is
the filer's own fiscal-year label. A ``.txt`` may be an EDGAR full submission
(the SGML wrapper of 2000s filings): the 10-K document is taken out of it
(:mod:`riskdrift.sources.submission`), and its EX-13, if the submission holds
one, is what :meth:`LocalFilingSource.exhibit` answers. A year's lookup
(:meth:`~LocalFilingSource.fetch`) takes the original 10-K only; an amendment,
``<YEAR>.10-KA.html`` (or ``.htm``, ``.txt``), is read when a job names it
(:meth:`~LocalFilingSource.fetch_filing`, ``AnalyzeRequest.filing``: the filing
watch does, for the amendments it sees). Several roots may be given: the first that holds a filing
answers (``make run`` serves a corpus beside the packaged ACME sample so).
Files are read off the event loop and capped in size.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import structlog

from riskdrift.errors import FilingNotFound, FilingParseError, InvalidRequest
from riskdrift.models import FIRST_FISCAL_YEAR, FilingDocument, latest_fiscal_year, normalise_ticker
from riskdrift.sources.dei import read_cover_facts
from riskdrift.sources.submission import annual_report, find_document, is_submission

log = structlog.get_logger(__name__)

SUFFIXES: tuple[str, ...] = (".html", ".htm", ".txt")  # looked up in this order
AMENDMENT = "10-K/A"
AMENDMENT_TYPES = ("10-K/A", "10-K405/A")  # an amendment's document types in a submission
AMENDMENT_MARK = ".10-KA"  # <YEAR>.10-KA.html: fiscal YEAR's amended 10-K
# A local filing's file name: its year, the amendment mark if it is one, a suffix.
FILE_NAME = re.compile(
    r"^(\d{4})("
    + re.escape(AMENDMENT_MARK)
    + r")?("
    + "|".join(re.escape(s) for s in SUFFIXES)
    + r")$"
)
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


def _check_ticker(ticker: str) -> str:
    try:
        return normalise_ticker(ticker)
    except ValueError as err:
        raise InvalidRequest(f"invalid ticker {ticker!r}: {err}") from err


def _check_year(year: int) -> int:
    last = latest_fiscal_year()
    if not FIRST_FISCAL_YEAR <= year <= last:
        raise InvalidRequest(
            f"fiscal year {year} is out of range {FIRST_FISCAL_YEAR}-{last} "
            "(Item 1A exists from fiscal 2005)"
        )
    return year


class LocalFilingSource:
    """A :class:`~riskdrift.sources.base.FilingSource` over ``<root>/<TICKER>/<YEAR>.html``.

    ``also`` are further roots, looked in after ``root`` when it has no such filing.
    """

    name = "local"

    def __init__(
        self, root: Path, *, also: Sequence[Path] = (), max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.root = root
        self.roots = (root, *also)
        self.max_bytes = max_bytes

    def candidates(self, ticker: str, year: int) -> list[Path]:
        """The paths looked at for one filing, in order of preference."""
        ticker = normalise_ticker(ticker)
        return [root / ticker / f"{year}{suffix}" for root in self.roots for suffix in SUFFIXES]

    async def fetch(self, ticker: str, year: int) -> FilingDocument:
        """Read the 10-K of ``ticker`` for fiscal ``year``; ``FilingNotFound`` if absent."""
        ticker = _check_ticker(ticker)
        paths = self.candidates(ticker, year)
        path, content = await asyncio.to_thread(self._read_first, paths)
        if path is None or content is None:
            names = ", ".join(f"{year}{suffix}" for suffix in SUFFIXES)
            folders = ", ".join(str(root / ticker) for root in self.roots)
            raise FilingNotFound(
                f"no 10-K for {ticker} fiscal {year} in the local filings directory: "
                f"looked for {names} in {folders}"
            )
        log.debug("local_filing_read", ticker=ticker, year=year, path=str(path), size=len(content))
        return self._document(ticker, year, path, content)

    async def fetch_filing(self, ticker: str, year: int, key: str) -> FilingDocument:
        """Read the file ``key`` (``2024.html``, ``2024.10-KA.html``) of ``ticker`` as fiscal
        ``year``'s filing: a name of another year or form is refused (``FilingNotFound``),
        so ``key`` never reaches outside the company's folder."""
        ticker = _check_ticker(ticker)
        match = FILE_NAME.fullmatch(key)
        if match is None or int(match[1]) != year:
            raise FilingNotFound(
                f"{key!r} is not a local filing name of fiscal {year}: expected "
                f"{year}.html or {year}.10-KA.html (or .htm, .txt)"
            )
        paths = [root / ticker / key for root in self.roots]
        path, content = await asyncio.to_thread(self._read_first, paths)
        if path is None or content is None:
            folders = ", ".join(str(root / ticker) for root in self.roots)
            raise FilingNotFound(
                f"no filing {key} for {ticker} in the local filings directory: looked in {folders}"
            )
        form = AMENDMENT if match[2] else "10-K"
        log.debug("local_filing_read", ticker=ticker, year=year, path=str(path), form=form)
        return self._document(ticker, year, path, content, form)

    def _document(
        self, ticker: str, year: int, path: Path, content: bytes, form: str = "10-K"
    ) -> FilingDocument:
        document = path.name
        if is_submission(content):
            # An amendment's submission holds a 10-K/A document, not a 10-K.
            amended = (
                find_document(content, str(path), AMENDMENT_TYPES) if form == AMENDMENT else None
            )
            unwrapped = amended or annual_report(content, str(path))
            content = unwrapped.content
            document = unwrapped.filename or f"{path.name} ({unwrapped.type or 'untyped document'})"
        return FilingDocument(
            ticker=ticker,
            year=year,
            content=content,
            name=str(path),
            source=self.name,
            form=form,
            document=document,
        )

    async def exhibit(self, document: FilingDocument, exhibit: str) -> FilingDocument | None:
        """The ``exhibit`` (e.g. ``EX-13``) of a local filing that is a full submission;
        ``None`` for a lone 10-K document, which holds no exhibits."""
        path = Path(document.name)
        _, content = await asyncio.to_thread(self._read_first, [path])
        if content is None or not is_submission(content):
            return None
        found = find_document(content, str(path), (exhibit,))
        if found is None:
            return None
        log.info("local_exhibit_read", path=str(path), exhibit=found.type, size=len(found.content))
        return dataclasses.replace(
            document,
            content=found.content,
            document=found.filename or f"{path.name} ({found.type})",
        )

    def _read_first(self, paths: list[Path]) -> tuple[Path | None, bytes | None]:
        for path in paths:
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            if not path.is_file():
                continue
            if size > self.max_bytes:
                raise FilingParseError(
                    f"file is {size} bytes, over the {self.max_bytes}-byte limit", filing=str(path)
                )
            if size == 0:
                raise FilingParseError("file is empty", filing=str(path))
            with path.open("rb") as handle:
                # Read one byte past the cap so a file that grew since stat() is still refused.
                content = handle.read(self.max_bytes + 1)
            if len(content) > self.max_bytes:
                raise FilingParseError(
                    f"file is over the {self.max_bytes}-byte limit", filing=str(path)
                )
            return path, content
        return None, None

    async def aclose(self) -> None:
        """Nothing to close: the local source holds no clients."""


def import_filing(
    root: Path,
    path: Path,
    ticker: str,
    year: int,
    *,
    overwrite: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Path:
    """Copy a 10-K document into the local layout and return where it now lives.

    Validates the ticker and fiscal year like ``POST /analyze`` does, the file
    type (``.html``, ``.htm`` or ``.txt``) and size. When the document carries
    inline-XBRL cover tags, refuses an amendment (``10-K/A``) and a document
    whose ``dei:DocumentFiscalYearFocus`` is not ``year``, so a mislabelled file
    cannot silently feed the wrong year's analysis. Refuses to replace an
    existing filing for that year unless ``overwrite``. The copy is atomic.
    Raises ``InvalidRequest`` with a message for the command line.
    """
    ticker = _check_ticker(ticker)
    year = _check_year(year)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidRequest(
            f"{path}: unsupported file type {path.suffix!r}; expected one of {', '.join(SUFFIXES)}"
        )
    if not path.is_file():
        raise InvalidRequest(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise InvalidRequest(f"{path}: file is empty")
    if size > max_bytes:
        raise InvalidRequest(f"{path}: file is {size} bytes, over the {max_bytes}-byte limit")

    facts = read_cover_facts(path.read_bytes())
    if facts.document_type is not None and facts.document_type.upper() not in ("10-K", "10-K405"):
        raise InvalidRequest(
            f"{path}: the document is a {facts.document_type}, not an original 10-K"
        )
    if facts.fiscal_year is not None and facts.fiscal_year != year:
        raise InvalidRequest(
            f"{path}: the document says fiscal year {facts.fiscal_year} "
            f"(dei:DocumentFiscalYearFocus), not {year}"
        )

    folder = root / ticker
    existing = [folder / f"{year}{s}" for s in SUFFIXES if (folder / f"{year}{s}").exists()]
    if existing and not overwrite:
        raise InvalidRequest(
            f"{existing[0]} already exists; pass overwrite to replace the {ticker} {year} filing"
        )
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{year}{suffix}"
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{year}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, path.open("rb") as src:
            shutil.copyfileobj(src, out)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    # Other suffixes of the same year would shadow or confuse the new file.
    for old in existing:
        if old != target:
            old.unlink(missing_ok=True)
    log.info("filing_imported", ticker=ticker, year=year, path=str(target), size=size)
    return target
