"""The one exception hierarchy of riskdrift.

Whether an error is transient or permanent decides what the worker does with it:
a transient error is retried with backoff, a permanent one fails the job at once
with a message the user can act on::

    RiskdriftError
    ├── PermanentError              fail at once; ``str(err)`` is shown to the user
    │   ├── InvalidRequest          the request itself is wrong
    │   ├── ConfigurationError      the service is set up wrongly (e.g. no EDGAR user agent)
    │   ├── FilingNotFound          no 10-K for that ticker and fiscal year
    │   └── FilingParseError        the document is empty, binary junk or malformed
    │       ├── Item1ANotFound      the filing has no Item 1A (e.g. a Part III-only 10-K/A)
    │       │   ├── Item1AIncorporatedByReference  the risks are in the annual report (EX-13)
    │       │   └── Item1AOmitted       "Not applicable": a smaller reporting company
    │       └── RisksNotFound       Item 1A is there, but no risk could be told apart in it
    └── TransientError              retry with backoff
        └── UpstreamUnavailable     EDGAR or an LLM answered 429/5xx or did not answer
"""

from __future__ import annotations


class RiskdriftError(Exception):
    """Base class of every error riskdrift raises on purpose."""


class PermanentError(RiskdriftError):
    """Retrying cannot help; the message is written for the user."""


class InvalidRequest(PermanentError):
    """The request is not one the service can run."""


class ConfigurationError(PermanentError):
    """The service is configured in a way that makes the request impossible."""


class FilingNotFound(PermanentError):
    """No filing exists for the requested company and fiscal year."""


class FilingParseError(PermanentError):
    """A filing could not be read as a 10-K document."""

    def __init__(self, message: str, *, filing: str | None = None) -> None:
        super().__init__(f"{filing}: {message}" if filing else message)
        self.filing = filing


class Item1ANotFound(FilingParseError):
    """The filing has no Item 1A (Risk Factors) section."""


class Item1AIncorporatedByReference(Item1ANotFound):
    """Item 1A only points to the "Risk Factors" of the Annual Report to Shareholders.

    The EDGAR source answers it by fetching the filing's EX-13 exhibit; a local
    file cannot, and the message says where the risks are.
    """

    def __init__(
        self,
        message: str,
        *,
        filing: str | None = None,
        exhibit: str = "EX-13",
        section: str = "Risk Factors",
    ) -> None:
        super().__init__(message, filing=filing)
        self.exhibit = exhibit  # the exhibit type that holds the risks, as EDGAR's index names it
        self.section = section  # the section title the 10-K points to


class Item1AOmitted(Item1ANotFound):
    """The filer omitted risk factors (a smaller reporting company may)."""


class RisksNotFound(FilingParseError):
    """Item 1A was found, but the self-checks could not trust any split of it into risks."""


class TransientError(RiskdriftError):
    """A temporary failure; the job is retried with backoff."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UpstreamUnavailable(TransientError):
    """An upstream service (EDGAR, an LLM endpoint) is rate limiting or down."""
