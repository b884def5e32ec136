"""The one exception hierarchy of riskdrift, and what each error means over HTTP.

Whether an error is transient or permanent decides what the worker does with it:
a transient error is retried with backoff, a permanent one fails the job at once
with a message the user can act on. Every class also declares what the API
answers when it reaches a route: ``status``, ``problem_type`` (a slug under
:data:`PROBLEM_TYPE_BASE`, or ``about:blank``) and ``title``; ``str(err)`` is
the problem's ``detail``. :mod:`riskdrift.api.problems` turns any of them into
``application/problem+json`` in one handler::

    RiskdriftError                    500 about:blank     a bug or a case nobody foresaw
    ├── PermanentError                500 about:blank     fail at once; str(err) is for the user
    │   ├── InvalidRequest            422 validation      the request itself is wrong
    │   │   ├── InvalidQuery          422 validation      a query parameter is wrong
    │   │   ├── InvalidTicker         422 validation
    │   │   ├── InvalidCallbackURL    422 callback-url    no webhook could be delivered there
    │   │   ├── WatchLimitExceeded    422 watch-limit     over the tenant's watchlist caps
    │   │   └── IdempotencyKeyReused  422 idempotency-conflict
    │   ├── BadRequest                400 about:blank     the request cannot be read
    │   │   ├── MalformedJSON         400 malformed-json
    │   │   ├── UnknownQueryParameter 400 validation
    │   │   ├── UnknownResultField    400 validation      ?fields= / ?exclude= name no field
    │   │   ├── ConflictingParameters 400 validation
    │   │   ├── InvalidIdempotencyKey 400 idempotency-key
    │   │   └── MalformedLastEventID  400 last-event-id
    │   ├── Unauthorized              401 unauthorized    with WWW-Authenticate: Bearer
    │   ├── NotFound                  404 not-found
    │   │   ├── JobNotFound           404 not-found       another tenant's job too
    │   │   ├── BatchNotFound         404 not-found
    │   │   └── WatchlistNotFound     404 not-found
    │   ├── Conflict                  409 about:blank     the resource is in the wrong state
    │   │   ├── NoResult              409 no-result       Retry-After while the job runs
    │   │   ├── NotCancellable        409 not-cancellable
    │   │   ├── NotRetryable          409 not-retryable
    │   │   ├── WatchlistNameTaken    409 watchlist-name-taken
    │   │   └── NotRedeliverable      409 not-redeliverable
    │   ├── PayloadTooLarge           413 too-large
    │   ├── UnsupportedMediaType      415 media-type
    │   ├── ResultMissing             500 about:blank     a completed job without its result
    │   ├── SearchUnavailable         503 search-unavailable   no embedder could be set up
    │   ├── ConfigurationError        500 about:blank     set up wrongly (e.g. no EDGAR user agent)
    │   ├── FilingNotFound            404 filing-not-found     no 10-K for that ticker and year
    │   └── FilingParseError          422 filing-unreadable    empty, binary junk or malformed
    │       ├── Item1ANotFound        422 item1a-not-found     e.g. a Part III-only 10-K/A
    │       │   ├── Item1AIncorporatedByReference  422 item1a-incorporated  risks in EX-13
    │       │   ├── Item1AOmitted     422 item1a-omitted  "Not applicable": a smaller company
    │       │   └── Item1AEndNotFound 422 item1a-end-not-found  pre-2005 "Risk Factors" heading
    │       │                                      whose section's end cannot be told
    │       ├── RisksNotFound         422 risks-not-found no risk could be told apart in Item 1A
    │       └── FilingTooComplex      422 filing-too-complex   over a size/complexity budget
    │   └── AnalysisLimitExceeded     422 analysis-limit  the analysis process overran:
    │       ├── AnalysisTimeLimitExceeded                 its time limit (the process is killed)
    │       └── AnalysisMemoryExceeded                    its memory ceiling (RLIMIT_AS)
    └── TransientError                503 unavailable     retry with backoff
        ├── AnalysisProcessDied       503 unavailable     the analysis process was killed (OOM)
        ├── AnalysisUnavailable       503 unavailable     no analysis process can be started
        ├── UpstreamUnavailable       503 upstream-unavailable EDGAR or an LLM: 429/5xx/silence
        ├── DependencyUnavailable     503 unavailable     Redis or Postgres lost; Retry-After: 5
        └── RateLimited               429 rate-limited    over the submission rate limit
            └── QueueFull             429 queue-full      the tenant's queued-jobs cap

The other packages' own errors are declared here too, at the end, and raised there;
each inherits its parent's HTTP mapping::

    RiskdriftError
    ├── TenantQueueFull               (store)     the routes answer QueueFull
    ├── WebhookVerificationError      (webhooks)  a received webhook did not verify
    ├── PermanentError
    │   ├── ConfigurationError
    │   │   ├── ServiceUnavailable    (preflight) Postgres or Redis does not answer at start-up
    │   │   ├── InvalidWebhookSecret  (webhooks)  not a whsec_<base64> secret
    │   │   ├── EmbedderUnavailable   (embeddings) model files missing, no endpoint
    │   │   └── RouteNotDocumented    (api)       a route without its OpenAPI operation
    │   ├── InvalidRequest
    │   │   └── UnsafeCallbackURL     (webhooks)  malformed, or points somewhere forbidden
    │   └── EmbeddingRejected         (embeddings) the endpoint refused the input
    └── TransientError
        ├── CallbackResolutionError   (webhooks)  the callback host did not resolve
        └── UpstreamUnavailable
            └── EmbeddingServiceError (embeddings) 429, 5xx or no answer
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

PROBLEM_TYPE_BASE = "https://riskdrift.dev/problems/"
"""Where the ``problem_type`` slugs live; the full URI is the problem's ``type``."""


class RiskdriftError(Exception):
    """Base class of every error riskdrift raises on purpose.

    ``errors`` lists the fields at fault (``[{"field", "message", ...}]``) and
    ``retry_after`` (seconds) becomes the ``Retry-After`` header of the answer.
    """

    status: ClassVar[int] = 500
    problem_type: ClassVar[str] = "about:blank"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        message: str = "",
        *,
        errors: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.errors = errors
        self.retry_after = retry_after

    @classmethod
    def type_uri(cls) -> str:
        """The problem's ``type``: ``problem_type`` under :data:`PROBLEM_TYPE_BASE`."""
        if cls.problem_type == "about:blank":
            return cls.problem_type
        return PROBLEM_TYPE_BASE + cls.problem_type

    @property
    def detail(self) -> str | None:
        """The problem's ``detail``: the message, if there is one."""
        return str(self) or None

    @property
    def headers(self) -> dict[str, str]:
        """Response headers the answer carries (``Retry-After`` in whole seconds)."""
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(0, math.ceil(self.retry_after)))}


class PermanentError(RiskdriftError):
    """Retrying cannot help; the message is written for the user."""


# --- the request is wrong (4xx) ------------------------------------------------------------


class InvalidRequest(PermanentError):
    """The request is not one the service can run."""

    status = 422
    problem_type = "validation"
    title = "Invalid request"


class InvalidQuery(InvalidRequest):
    """A query parameter has a value the route cannot use."""

    title = "Invalid query"


class InvalidTicker(InvalidRequest):
    """The ticker named in the path is not a ticker."""

    title = "Invalid ticker"


class InvalidCallbackURL(InvalidRequest):
    """The ``callback_url`` is one the service could not or must not deliver to."""

    problem_type = "callback-url"
    title = "Invalid callback_url"


class WatchLimitExceeded(InvalidRequest):
    """The tenant would watch more companies, or keep more watchlists, than it may."""

    problem_type = "watch-limit"
    title = "Watch limit exceeded"


class IdempotencyKeyReused(InvalidRequest):
    """The ``Idempotency-Key`` was used before with a different request body."""

    problem_type = "idempotency-conflict"
    title = "Idempotency-Key reused"


class BadRequest(PermanentError):
    """The request cannot be read: malformed syntax, unknown parameters."""

    status = 400
    title = "Bad request"


class MalformedJSON(BadRequest):
    """The request body is not JSON."""

    problem_type = "malformed-json"
    title = "Malformed JSON"


class UnknownQueryParameter(BadRequest):
    """The query names a parameter the route does not take."""

    problem_type = "validation"
    title = "Unknown query parameter"


class UnknownResultField(BadRequest):
    """``?fields=`` or ``?exclude=`` names a field the result does not have."""

    problem_type = "validation"
    title = "Unknown result field"


class ConflictingParameters(BadRequest):
    """Two query parameters that exclude each other were both given."""

    problem_type = "validation"
    title = "Conflicting parameters"


class InvalidIdempotencyKey(BadRequest):
    """The ``Idempotency-Key`` header is empty or too long."""

    problem_type = "idempotency-key"
    title = "Invalid Idempotency-Key"


class MalformedLastEventID(BadRequest):
    """``Last-Event-ID`` is not a stream entry id."""

    problem_type = "last-event-id"
    title = "Malformed Last-Event-ID"


class Unauthorized(PermanentError):
    """No API key, or one the service does not know."""

    status = 401
    problem_type = "unauthorized"
    title = "Unauthorized"

    @property
    def headers(self) -> dict[str, str]:
        return {**super().headers, "WWW-Authenticate": 'Bearer realm="riskdrift"'}


class NotFound(PermanentError):
    """The resource named in the path does not exist for the caller."""

    status = 404
    problem_type = "not-found"
    title = "Not found"


class JobNotFound(NotFound):
    """No job of the caller's tenant has that id (another tenant's job is not found too)."""

    title = "Job not found"


class BatchNotFound(NotFound):
    """No batch of the caller's tenant has that id."""

    title = "Batch not found"


class WatchlistNotFound(NotFound):
    """No watchlist of the caller's tenant has that id (another tenant's is not found too)."""

    title = "Watchlist not found"


class Conflict(PermanentError):
    """The resource is not in a state that allows the request."""

    status = 409
    title = "Conflict"


class NoResult(Conflict):
    """The job has no result: unfinished (with ``retry_after``), failed or cancelled."""

    problem_type = "no-result"
    title = "No result"


class NotCancellable(Conflict):
    """The job has finished already."""

    problem_type = "not-cancellable"
    title = "Job cannot be cancelled"


class NotRetryable(Conflict):
    """Only failed or cancelled jobs can be submitted again."""

    problem_type = "not-retryable"
    title = "Job cannot be retried"


class WatchlistNameTaken(Conflict):
    """The tenant already has a watchlist of that name."""

    problem_type = "watchlist-name-taken"
    title = "Watchlist name taken"


class NotRedeliverable(Conflict):
    """The job's webhook cannot be sent again."""

    problem_type = "not-redeliverable"
    title = "Cannot redeliver"


class PayloadTooLarge(PermanentError):
    """The request body is over the configured size cap."""

    status = 413
    problem_type = "too-large"
    title = "Request body too large"


class UnsupportedMediaType(PermanentError):
    """The request body is not sent as JSON."""

    status = 415
    problem_type = "media-type"
    title = "Unsupported media type"


# --- the service cannot answer (5xx) -------------------------------------------------------


class ResultMissing(PermanentError):
    """A completed job has no stored result (they are written together: a broken invariant)."""

    title = "Result missing"


class SearchUnavailable(PermanentError):
    """Risk search needs an embedder, and none could be set up."""

    status = 503
    problem_type = "search-unavailable"
    title = "Search unavailable"


class ConfigurationError(PermanentError):
    """The service is configured in a way that makes the request impossible."""


# --- filings -------------------------------------------------------------------------------


class FilingNotFound(PermanentError):
    """No filing exists for the requested company and fiscal year."""

    status = 404
    problem_type = "filing-not-found"
    title = "Filing not found"


class FilingParseError(PermanentError):
    """A filing could not be read as a 10-K document."""

    status = 422
    problem_type = "filing-unreadable"
    title = "Filing unreadable"

    def __init__(self, message: str, *, filing: str | None = None) -> None:
        super().__init__(f"{filing}: {message}" if filing else message)
        self.filing = filing


class Item1ANotFound(FilingParseError):
    """The filing has no Item 1A (Risk Factors) section."""

    problem_type = "item1a-not-found"
    title = "Item 1A not found"


class Item1AIncorporatedByReference(Item1ANotFound):
    """Item 1A only points to the "Risk Factors" of the Annual Report to Shareholders.

    The EDGAR source answers it by fetching the filing's EX-13 exhibit; a local
    file cannot, and the message says where the risks are.
    """

    problem_type = "item1a-incorporated"
    title = "Item 1A incorporated by reference"

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

    problem_type = "item1a-omitted"
    title = "Item 1A omitted"


class Item1AEndNotFound(Item1ANotFound):
    """A filing without Item 1A (before fiscal 2005) has a "Risk Factors" heading inside
    another item, but nothing tells where that section ends (no heading of its level)."""

    problem_type = "item1a-end-not-found"
    title = "Risk Factors section end not found"


class RisksNotFound(FilingParseError):
    """Item 1A was found, but the self-checks could not trust any split of it into risks."""

    problem_type = "risks-not-found"
    title = "Risks not found"


class FilingTooComplex(FilingParseError):
    """The document goes over a size or complexity budget (characters of text, elements,
    nesting depth): refused early, before the heavy work, so a hostile filing cannot tie
    up an analysis process."""

    problem_type = "filing-too-complex"
    title = "Filing too complex"

    def __init__(
        self, message: str, *, filing: str | None = None, measure: str = "", limit: int = 0
    ) -> None:
        super().__init__(message, filing=filing)
        self.reason = message
        self.measure = measure
        self.limit = limit

    @classmethod
    def over(cls, measure: str, limit: int) -> FilingTooComplex:
        """The document has more ``measure`` than ``limit`` allows."""
        return cls(
            f"the document is too complex to analyse: more than {limit:,} {measure}",
            measure=measure,
            limit=limit,
        )

    def of(self, filing: str) -> FilingTooComplex:
        """The same error, naming the filing."""
        return FilingTooComplex(self.reason, filing=filing, measure=self.measure, limit=self.limit)


class AnalysisLimitExceeded(PermanentError):
    """The analysis of a pair of filings overran a limit of its process; ``filings``
    names them. Retrying the same filings would overrun again."""

    status = 422
    problem_type = "analysis-limit"
    title = "Analysis limit exceeded"

    def __init__(self, message: str, *, filings: str = "") -> None:
        super().__init__(message)
        self.filings = filings


class AnalysisTimeLimitExceeded(AnalysisLimitExceeded):
    """The analysis ran past its time limit; its process was killed and replaced."""

    @classmethod
    def of(cls, filings: str, limit: float) -> AnalysisTimeLimitExceeded:
        return cls(
            f"analysis exceeded its time limit ({limit:g} s) on {filings}; its process was stopped",
            filings=filings,
        )


class AnalysisMemoryExceeded(AnalysisLimitExceeded):
    """The analysis ran out of its memory ceiling (``MemoryError`` under ``RLIMIT_AS``)."""

    @classmethod
    def of(cls, filings: str, limit_mb: int) -> AnalysisMemoryExceeded:
        return cls(f"filing too large to analyse within {limit_mb} MB: {filings}", filings=filings)


# --- transient -----------------------------------------------------------------------------


class TransientError(RiskdriftError):
    """A temporary failure; the job is retried with backoff (the client after ``Retry-After``)."""

    status = 503
    problem_type = "unavailable"
    title = "Service unavailable"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)


class UpstreamUnavailable(TransientError):
    """An upstream service (EDGAR, an LLM endpoint) is rate limiting or down."""

    problem_type = "upstream-unavailable"
    title = "Upstream unavailable"


class DependencyUnavailable(TransientError):
    """Redis or Postgres cannot be reached: the answer to a lost connection in a route."""

    def __init__(
        self,
        message: str = "a backing service (Redis or Postgres) is unavailable; retry shortly",
        *,
        retry_after: float | None = 5,
    ) -> None:
        super().__init__(message, retry_after=retry_after)


class AnalysisProcessDied(TransientError):
    """The process analysing the job died under it (killed, the kernel's OOM killer); a
    fresh one replaces it and the job is retried."""


class AnalysisUnavailable(TransientError):
    """No analysis process can be started right now (the worker reports itself unhealthy)."""


class RateLimited(TransientError):
    """The client submits faster than its rate limit allows; ``retry_after`` says when to."""

    status = 429
    problem_type = "rate-limited"
    title = "Too many requests"


class QueueFull(RateLimited):
    """The tenant has as many jobs queued as it may; more are taken once some have started."""

    problem_type = "queue-full"
    title = "Too many queued jobs"


# --- the other packages' errors (raised there, declared here) ------------------------------


class TenantQueueFull(RiskdriftError):
    """A submission found ``limit`` or more of its tenant's jobs already queued (the store's
    answer; the routes turn it into :class:`QueueFull`)."""

    def __init__(self, message: str, *, tenant: str = "", limit: int = 0) -> None:
        super().__init__(message)
        self.tenant = tenant
        self.limit = limit

    @classmethod
    def of(cls, tenant: str, limit: int) -> TenantQueueFull:
        return cls(f"{limit} or more jobs are queued for tenant {tenant!r}", tenant=tenant,
                   limit=limit)  # fmt: skip


class ServiceUnavailable(ConfigurationError):
    """Postgres or Redis does not answer at the configured URL."""


class InvalidWebhookSecret(ConfigurationError):
    """A configured webhook secret is not a valid ``whsec_<base64>`` secret."""


class EmbedderUnavailable(ConfigurationError):
    """The configured embedder cannot run here (model files missing, no endpoint)."""


class RouteNotDocumented(ConfigurationError):
    """A route serves a method no OpenAPI operation declares, or the reverse; raised while
    the app is built (:mod:`riskdrift.api.openapi`)."""


class UnsafeCallbackURL(InvalidRequest):
    """The callback URL is malformed or points somewhere the service must not send to."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class WebhookVerificationError(RiskdriftError):
    """A received webhook failed verification (headers, timestamp or signature)."""


class EmbeddingRejected(PermanentError):
    """The embeddings endpoint refused the input or answered something unusable."""


class CallbackResolutionError(TransientError):
    """The callback host could not be resolved (DNS failure); worth retrying later."""


class EmbeddingServiceError(UpstreamUnavailable):
    """The embeddings endpoint failed in a way worth retrying (429, 5xx, no answer)."""
