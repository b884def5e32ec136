"""The filing-source interface the research agent depends on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


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


class FilingSource(Protocol):
    """Finds the 10-K of a company for one fiscal year.

    Raises ``FilingNotFound`` (permanent) when there is none, ``TransientError``
    when the upstream is unavailable, ``ConfigurationError`` when mis-set-up.
    """

    name: str

    async def fetch(self, ticker: str, year: int) -> FilingDocument: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class ExhibitSource(Protocol):
    """A source that can fetch another document of the same filing.

    The research agent asks for the exhibit when a 10-K's Item 1A is
    incorporated by reference (``Item1AIncorporatedByReference.exhibit``,
    usually ``EX-13``, the Annual Report to Shareholders). ``None`` means the
    source has no such document for that filing; the agent then reports the
    original error, which says where the risks are.
    """

    async def exhibit(self, document: FilingDocument, exhibit: str) -> FilingDocument | None: ...
