"""The filing-source interface the research agent depends on."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from riskdrift.models import FilingDocument


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


@runtime_checkable
class ExactFilingSource(Protocol):
    """A source that can fetch one named filing rather than the year's lookup.

    ``key`` is what :attr:`riskdrift.models.AnalyzeRequest.filing` holds: an EDGAR
    accession number, or a file name of the local filing directory (``2024.10-KA.html``,
    fiscal 2024's amendment). Raises ``FilingNotFound`` when the source has no such
    filing of ``ticker``, or when it is not fiscal ``year``'s annual report.
    """

    async def fetch_filing(self, ticker: str, year: int, key: str) -> FilingDocument: ...
