"""The filing-source interface the research agent depends on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol


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


class FilingSource(Protocol):
    """Finds the 10-K of a company for one fiscal year.

    Raises ``FilingNotFound`` (permanent) when there is none, ``TransientError``
    when the upstream is unavailable, ``ConfigurationError`` when mis-set-up.
    """

    name: str

    async def fetch(self, ticker: str, year: int) -> FilingDocument: ...

    async def aclose(self) -> None: ...
