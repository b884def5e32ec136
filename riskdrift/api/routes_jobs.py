"""Job routes: submit, inspect, list, fetch results, cancel. Thin: parse, call
:mod:`riskdrift.jobs` (a state change) or the store (a read), answer."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import Iterator, Mapping

import pydantic
import structlog
from starlette.requests import Request
from starlette.responses import Response

import riskdrift.jobs as lifecycle
from riskdrift.api.auth import client_of, tenant_of
from riskdrift.api.callbacks import check_callback
from riskdrift.api.problems import read_json
from riskdrift.api.result_fields import parse_selection
from riskdrift.api.spec import (
    CURSOR,
    IDEMPOTENCY_KEY,
    TEXT,
    Answer,
    Param,
    created,
    limit_param,
    operation,
)
from riskdrift.api.state import app_state
from riskdrift.errors import (
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    InvalidQuery,
    JobNotFound,
    NoResult,
    NotCancellable,
    NotRetryable,
    QueueFull,
    ResultMissing,
    TenantQueueFull,
    UnknownQueryParameter,
)
from riskdrift.models import (
    TRIGGERS,
    AnalysisResult,
    AnalyzeRequest,
    Job,
    JobAccepted,
    JobLinks,
    JobPage,
    JobStatus,
    normalise_ticker,
)
from riskdrift.render.html import CONTENT_SECURITY_POLICY, render_report
from riskdrift.store import jobs, results
from riskdrift.store.jobs import JobRecord

log = structlog.get_logger(__name__)

MAX_PAGE = 200


def page_limit(params: Mapping[str, str], errors: list[dict[str, str]]) -> int:
    """The ``limit`` query parameter of a listing (1 to :data:`MAX_PAGE`, default 50);
    a bad one is added to ``errors``."""
    if "limit" not in params:
        return 50
    if params["limit"].isdigit() and 1 <= int(params["limit"]) <= MAX_PAGE:
        return int(params["limit"])
    errors.append({"field": "limit", "message": f"an integer from 1 to {MAX_PAGE}"})
    return 50


def cursor_page(params: Mapping[str, str]) -> tuple[str | None, int]:
    """The ``cursor`` and ``limit`` of a listing that takes nothing else (batches,
    watchlists): 400 for any other parameter, 422 for a bad limit."""
    unknown = set(params) - {"cursor", "limit"}
    if unknown:
        raise UnknownQueryParameter(", ".join(sorted(unknown)))
    errors: list[dict[str, str]] = []
    limit = page_limit(params, errors)
    if errors:
        raise InvalidQuery("invalid query parameter(s)", errors=errors)
    return params.get("cursor"), limit


@contextlib.contextmanager
def cursor_checked() -> Iterator[None]:
    """Map a store listing's ``ValueError`` (a malformed ``cursor``) to a 422 problem."""
    try:
        yield
    except ValueError:
        raise InvalidQuery(
            "malformed cursor", errors=[{"field": "cursor", "message": "malformed cursor"}]
        ) from None


def links(job_id: uuid.UUID) -> JobLinks:
    return JobLinks.for_job(job_id)


def job_view(job: JobRecord) -> Job:
    return Job(
        job_id=job.id,
        ticker=job.ticker,
        years=list(job.years),
        status=job.status,
        progress=job.progress,
        step=job.step,
        attempts=job.attempts,
        error=job.error,
        callback_url=job.callback_url,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        batch_id=job.batch_id,
        trigger="watch" if job.trigger == "watch" else "api",
        watchlist_id=job.watchlist_id,
        filing=job.filing,
        links=links(job.id),
    )


def model_response(
    model: pydantic.BaseModel, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        model.model_dump_json(), status_code=status, media_type="application/json", headers=headers
    )


def _job_id(request: Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params["job_id"])
    except ValueError:
        raise JobNotFound("no job has that id") from None


async def load_job(request: Request) -> JobRecord:
    """The caller's job named in the path, or a 404 (another tenant's job is a 404 too)."""
    job_id = _job_id(request)
    job = await jobs.get_job(app_state(request)["pool"], job_id, tenant=tenant_of(request))
    if job is None:
        raise JobNotFound(f"no job {job_id}")
    return job


def _replay(job: jobs.JobRecord, request_hash: str) -> Response:
    """The answer to a submission whose Idempotency-Key already names ``job``: the job
    again (200) for the same body, a conflict for a different one."""
    if job.request_hash != request_hash:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request body")
    return model_response(
        JobAccepted(job_id=job.id, status=job.status, links=links(job.id)),
        200,
        {"Location": f"/jobs/{job.id}"},
    )


@operation(
    "POST",
    "Submit an analysis job",
    description=(
        "With a callback_url the finished job is announced by a signed Standard Webhooks "
        "POST (job.completed or job.failed). The URL is refused with 422 if it resolves to "
        "a private, loopback, link-local or otherwise non-global address (unless the "
        "operator allows it), if its host does not resolve, or if the server has no "
        'webhook secret. callback_payload "thin" leaves the result out of job.completed.'
    ),
    params=[IDEMPOTENCY_KEY],
    body=AnalyzeRequest,
    answers={
        202: created("queued", JobAccepted),
        200: created("replay of an Idempotency-Key", JobAccepted),
    },
    problems=(400, 413, 415, 422, 429, 503),
)
async def analyze(request: Request) -> Response:
    """``POST /analyze``: store the job, publish ``job_queued``, enqueue it."""
    state = app_state(request)
    await state["limiter"].check(client_of(request))
    body = await read_json(request, AnalyzeRequest)
    tenant = tenant_of(request)
    key = request.headers.get("idempotency-key")
    if key is not None and not 1 <= len(key) <= 255:
        raise InvalidIdempotencyKey("use 1 to 255 characters")
    request_hash = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    if key is not None:
        # A replay gets the answer its first submission got, even if its callback host
        # no longer resolves or is no longer allowed (each delivery checks it again).
        earlier = await jobs.get_job_by_key(state["pool"], tenant, key)
        if earlier is not None:
            return _replay(earlier, request_hash)
    return await _create_and_enqueue(request, body, tenant, key, request_hash)


async def _create_and_enqueue(
    request: Request, body: AnalyzeRequest, tenant: str, key: str | None, request_hash: str
) -> Response:
    """Check the callback, store the job under the tenant's cap, enqueue it: a 202 answer.

    If enqueueing fails, neither the row nor any Redis write is left behind.
    """
    state = app_state(request)
    settings = state["settings"]
    await check_callback(body.callback_url, settings)
    limit = settings.max_queued_jobs_per_tenant
    try:
        job, created = await lifecycle.submit(
            body,
            tenant=tenant,
            idempotency_key=key,
            request_hash=request_hash,
            max_queued=limit,
            pool=state["pool"],
            redis=state["redis"],
            settings=settings,
        )
    except TenantQueueFull:
        # Over the cap, only a replay of an accepted submission still gets its job back.
        raise QueueFull(
            f"this tenant already has {limit} jobs queued, its limit; retry when some have started",
            retry_after=30,
        ) from None
    if not created:  # the key's job was committed after the look-up above
        return _replay(job, request_hash)
    return model_response(
        JobAccepted(job_id=job.id, status=job.status, links=links(job.id)),
        202,
        {"Location": f"/jobs/{job.id}"},
    )


@operation("GET", "Job status", answers={200: Answer("the job", Job)}, problems=(404,))
async def get_job(request: Request) -> Response:
    """``GET /jobs/{id}``."""
    return model_response(job_view(await load_job(request)))


@operation(
    "GET",
    "List jobs, newest first",
    params=[
        Param("status", schema={"type": "string", "enum": [s.value for s in JobStatus]}),
        Param("ticker"),
        Param(
            "trigger",
            schema={"type": "string", "enum": list(TRIGGERS)},
            description="api: submitted by a client; watch: started by a watchlist",
        ),
        CURSOR,
        limit_param(MAX_PAGE),
    ],
    answers={200: Answer("a page of jobs", JobPage)},
    problems=(400, 422),
)
async def list_jobs(request: Request) -> Response:
    """``GET /jobs?status=&ticker=&trigger=&cursor=&limit=``, newest first."""
    params = request.query_params
    unknown = set(params) - {"status", "ticker", "trigger", "cursor", "limit"}
    if unknown:
        raise UnknownQueryParameter(", ".join(sorted(unknown)))
    errors = []
    status = ticker = None
    if "status" in params:
        try:
            status = JobStatus(params["status"])
        except ValueError:
            errors.append(
                {"field": "status", "message": f"one of {', '.join(s.value for s in JobStatus)}"}
            )
    if "ticker" in params:
        try:
            ticker = normalise_ticker(params["ticker"])
        except ValueError as exc:
            errors.append({"field": "ticker", "message": str(exc)})
    trigger = params.get("trigger")
    if trigger is not None and trigger not in TRIGGERS:
        errors.append({"field": "trigger", "message": f"one of {', '.join(TRIGGERS)}"})
    limit = page_limit(params, errors)
    if errors:
        raise InvalidQuery("invalid query parameter(s)", errors=errors)
    with cursor_checked():
        page, next_cursor = await jobs.list_jobs(
            app_state(request)["pool"],
            tenant=tenant_of(request),
            status=status,
            ticker=ticker,
            trigger=trigger,
            cursor=params.get("cursor"),
            limit=limit,
        )
    return model_response(JobPage(jobs=[job_view(j) for j in page], next_cursor=next_cursor))


async def _completed_result(request: Request) -> tuple[JobRecord, str]:
    """The job (tenant-checked) and its stored result's JSON; 409 while it has none."""
    job = await load_job(request)
    if job.status is not JobStatus.COMPLETED:
        detail = (
            f"job is {job.status.value}"
            if not job.status.finished
            else f"job {job.status.value}: {job.error or 'no result'}"
        )
        raise NoResult(detail, retry_after=None if job.status.finished else 2)
    raw = await results.get_result_json(app_state(request)["pool"], job.id)
    if raw is None:  # completed rows are written together with their result
        raise ResultMissing("the completed job has no stored result")
    return job, raw


@operation(
    "GET",
    "Analysis result",
    description=(
        "The whole result by default: what the report needs, including every risk's text "
        "for both years and its sentence changes. `fields` keeps only the named fields, "
        "`exclude` leaves them out; names are top-level fields or `risks.<field>`, and "
        "`exclude=texts` drops the large per-risk texts (`risks.text_current`, "
        "`risks.text_previous`, `risks.changes`). An unknown name is a 400. 409 while the "
        "job has no result (with Retry-After while it is still running)."
    ),
    params=[
        Param("fields", example="ticker,years,similarity,summary,risks.title_current"),
        Param("exclude", example="texts"),
    ],
    answers={200: Answer("the result", AnalysisResult)},
    problems=(400, 404, 409),
    retry_after=(409,),
)
async def get_result(request: Request) -> Response:
    """``GET /jobs/{id}/result``: the analysis, or 409 while the job has none.

    ``?fields=`` / ``?exclude=`` leave parts out (:mod:`riskdrift.api.result_fields`).
    """
    selection = parse_selection(request.query_params)
    _, raw = await _completed_result(request)
    if selection is not None:
        raw = await asyncio.to_thread(selection.apply, raw)
    return Response(raw, media_type="application/json")


@operation(
    "GET",
    "The result as a self-contained HTML report",
    description=(
        "Summary, extraction warnings, heatmap (inline SVG), themes, every modified risk "
        "as a redline and new/removed risks in full; no external assets. 409 while the "
        "job has no result."
    ),
    answers={200: Answer("the report page", media={"text/html": TEXT})},
    problems=(404, 409),
    retry_after=(409,),
)
async def get_report(request: Request) -> Response:
    """``GET /jobs/{id}/report``: the result as a self-contained HTML page (same 409s)."""
    job, raw = await _completed_result(request)
    page = await asyncio.to_thread(_render, raw)
    filename = f"riskdrift-{job.ticker}-{job.years[0]}-{job.years[1]}.html"
    return Response(
        page,
        media_type="text/html; charset=utf-8",
        headers={
            "content-security-policy": CONTENT_SECURITY_POLICY,
            "content-disposition": f'inline; filename="{filename}"',
        },
    )


def _render(raw: str) -> str:
    return render_report(AnalysisResult.model_validate_json(raw))


@operation(
    "POST",
    "Cancel a queued or running job",
    answers={200: Answer("cancelled", Job)},
    problems=(404, 409),
)
async def cancel(request: Request) -> Response:
    """``POST /jobs/{id}/cancel``: queued or running jobs end ``cancelled``."""
    state = app_state(request)
    job = await load_job(request)
    cancelled = await lifecycle.cancel(
        job.id,
        tenant=tenant_of(request),
        pool=state["pool"],
        redis=state["redis"],
        settings=state["settings"],
    )
    if cancelled is None:
        current = await jobs.get_job(state["pool"], job.id)
        status = current.status.value if current else "gone"
        raise NotCancellable(f"job is already {status}")
    return model_response(job_view(cancelled))


RETRYABLE = (JobStatus.FAILED, JobStatus.CANCELLED)


@operation(
    "POST",
    "Submit a failed or cancelled job's request again, as a new job",
    description=(
        "The new job is an ordinary one (same ticker, years and callback); the tenant's "
        "rate limit and queued-jobs cap apply. 409 unless the job is failed or cancelled."
    ),
    answers={202: created("queued", JobAccepted)},
    problems=(404, 409, 422, 429, 503),
)
async def retry(request: Request) -> Response:
    """``POST /jobs/{id}/retry``: submit a failed or cancelled job's request again, as a new job.

    The new job is an ordinary one (same ticker, years, filing and callback; the tenant's
    cap and rate limit apply); the old one keeps its error for the record.
    """
    await app_state(request)["limiter"].check(client_of(request))
    job = await load_job(request)
    if job.status not in RETRYABLE:
        raise NotRetryable(
            f"job is {job.status.value}; only failed or cancelled jobs can be retried"
        )
    body = AnalyzeRequest(
        ticker=job.ticker,
        years=list(job.years),
        callback_url=job.callback_url,
        filing=job.filing,
    )
    request_hash = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
    log.info("job_retry_requested", job_id=str(job.id))
    return await _create_and_enqueue(request, body, tenant_of(request), None, request_hash)
