"""Read the few ``dei:`` cover-page facts a filing source needs from a 10-K document.

Inline-XBRL filings (every 10-K since 2019) tag their cover page with the
``dei`` taxonomy: ``dei:DocumentType`` (``10-K``, ``10-K/A``) and
``dei:DocumentFiscalYearFocus`` (the filer's own fiscal-year label). Sources use
them to confirm that a downloaded document is the one asked for; the analysis
reads the rest of the cover page itself. Older filings carry no inline tags, so
every fact is optional.

This is a byte scan of one element, not an HTML parse: the facts sit in
``<ix:nonNumeric name="dei:…">…</ix:nonNumeric>`` elements whose content is a
short text, possibly wrapped in formatting tags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TAG = re.compile(rb"<[^>]*>")
_YEAR = re.compile(rb"\b(\d{4})\b")
_MAX_FACT_BYTES = 2000  # a cover-page fact is a few characters; bound the scan


@dataclass(frozen=True, slots=True)
class CoverFacts:
    """The cover-page facts of one document; ``None`` where the document has no tag."""

    fiscal_year: int | None = None
    document_type: str | None = None


def _fact_text(content: bytes, name: str) -> str | None:
    """The text content of the first inline-XBRL element tagged ``name``."""
    marker = f'name="{name}"'.encode()
    at = content.find(marker)
    if at < 0:
        return None
    start = content.find(b">", at)
    if start < 0:
        return None
    end = content.find(b"</ix:nonNumeric>", start, start + _MAX_FACT_BYTES)
    if end < 0:
        end = content.find(b"</ix:nonnumeric>", start, start + _MAX_FACT_BYTES)
    if end < 0:
        return None
    text = _TAG.sub(b"", content[start + 1 : end])
    return text.decode("utf-8", errors="replace").strip() or None


def read_cover_facts(content: bytes) -> CoverFacts:
    """Read ``dei:DocumentFiscalYearFocus`` and ``dei:DocumentType`` from a document."""
    year_text = _fact_text(content, "dei:DocumentFiscalYearFocus")
    fiscal_year: int | None = None
    if year_text is not None:
        match = _YEAR.search(year_text.encode())
        fiscal_year = int(match.group(1)) if match else None
    return CoverFacts(
        fiscal_year=fiscal_year,
        document_type=_fact_text(content, "dei:DocumentType"),
    )
