"""Where filings come from: SEC EDGAR over HTTP, or a local directory."""

from __future__ import annotations

from riskdrift.config import Settings
from riskdrift.errors import ConfigurationError
from riskdrift.models import FilingDocument
from riskdrift.sources.base import FilingSource
from riskdrift.sources.edgar import EdgarFilingSource
from riskdrift.sources.fair_access import Limiter
from riskdrift.sources.local import LocalFilingSource, import_filing
from riskdrift.sources.singleflight import SharedMetadata

__all__ = [
    "EdgarFilingSource",
    "FilingDocument",
    "FilingSource",
    "LocalFilingSource",
    "create_source",
    "import_filing",
]


def create_source(
    settings: Settings, *, limiter: Limiter | None = None, shared: SharedMetadata | None = None
) -> FilingSource:
    """The filing source ``settings.resolved_filings_source`` names; close it with ``aclose()``.

    ``local`` needs ``filings_dir``; ``edgar`` needs ``edgar_user_agent`` only
    when it is first used, so a misconfigured service still starts and its
    jobs fail with a message that says what to set. ``limiter`` paces EDGAR
    requests (default: per process, at ``edgar_requests_per_second``); the
    local source has no use for one. ``shared`` makes EDGAR submissions indexes
    one download for all processes (:mod:`riskdrift.sources.singleflight`).
    """
    if settings.resolved_filings_source == "local":
        if settings.filings_dir is None:
            raise ConfigurationError(
                "filings_source is 'local' but no filings directory is set (RISKDRIFT_FILINGS_DIR)"
            )
        return LocalFilingSource(settings.filings_dir, also=settings.extra_filings_dirs)
    return EdgarFilingSource(settings, limiter=limiter, shared=shared)
