"""RFC 9457 problem details: every error the API returns goes through here.

Routes raise the errors of :mod:`riskdrift.errors`; each declares its own
``status``, ``problem_type`` and ``title``, and :func:`problem_of` reads them.
The one mapping serves the exception handler and the pure ASGI middleware that
answer before a route runs (authentication, the body size cap).
"""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic
import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from riskdrift.errors import (
    DependencyUnavailable,
    InvalidRequest,
    MalformedJSON,
    RiskdriftError,
    TransientError,
    UnsupportedMediaType,
)
from riskdrift.models import Problem
from riskdrift.queue.retrying import CONNECTION_LOST

PROBLEM_JSON = "application/problem+json"

log = structlog.get_logger(__name__)

M = TypeVar("M", bound=pydantic.BaseModel)


def problem_of(exc: RiskdriftError, instance: str | None = None) -> Problem:
    """The problem document of an error, from the attributes its class declares."""
    return Problem(
        type=exc.type_uri(),
        title=exc.title,
        status=exc.status,
        detail=exc.detail,
        instance=instance,
        errors=exc.errors,
    )


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response:
    """Serialise a problem with its media type."""
    return Response(
        problem.model_dump_json(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def error_response(exc: RiskdriftError, instance: str | None = None) -> Response:
    """The answer to ``exc``: its problem document and headers (``Retry-After``, …)."""
    return problem_response(problem_of(exc, instance), exc.headers)


def validation_problem(exc: pydantic.ValidationError) -> InvalidRequest | MalformedJSON:
    """A 422 (or 400 for JSON that does not parse) naming each field at fault."""
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or None
        errors.append({"field": field, "message": err["msg"], "type": err["type"]})
    if any(e["type"] == "json_invalid" for e in errors):
        return MalformedJSON("the request body is not valid JSON", errors=errors)
    if any(e["type"] == "model_type" for e in errors):
        return InvalidRequest("the request body must be a JSON object", errors=errors)
    fields = ", ".join(sorted({e["field"] or "body" for e in errors}))
    return InvalidRequest(f"invalid field(s): {fields}", errors=errors)


async def read_json(request: Request, model: type[M]) -> M:
    """The request's JSON body as ``model``: a 415 for another media type, a 400/422
    (:func:`validation_problem`) for a body that does not parse or validate."""
    content_type = request.headers.get("content-type", "application/json")
    if not content_type.split(";")[0].strip().lower().endswith(("/json", "+json")):
        raise UnsupportedMediaType("send the request as application/json")
    try:
        return model.model_validate_json(await request.body())
    except pydantic.ValidationError as exc:
        raise validation_problem(exc) from None


async def handle_error(request: Request, exc: Exception) -> Response:
    """Any :class:`~riskdrift.errors.RiskdriftError` a route raises, as its problem."""
    assert isinstance(exc, RiskdriftError)
    if exc.status == 500:
        # Raised on purpose, still a broken invariant or a set-up fault: keep the trace.
        log.exception("request_failed", path=request.url.path, error=type(exc).__name__)
    elif isinstance(exc, TransientError) and exc.status == 503:
        log.warning("upstream_unavailable", path=request.url.path, error=type(exc).__name__)
    return error_response(exc, request.url.path)


async def handle_http(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no such route, method not allowed)."""
    assert isinstance(exc, HTTPException)
    problem = Problem(
        title=exc.detail or "HTTP error", status=exc.status_code, instance=request.url.path
    )
    return problem_response(problem, dict(exc.headers or {}))


async def handle_unavailable(request: Request, exc: Exception) -> Response:
    """Redis or Postgres lost mid-request: :class:`~riskdrift.errors.DependencyUnavailable`."""
    log.warning("dependency_unavailable", path=request.url.path, error=type(exc).__name__)
    return error_response(DependencyUnavailable(), request.url.path)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: 500 without detail, the trace in the log."""
    log.exception("request_crashed", path=request.url.path)
    return error_response(RiskdriftError(), request.url.path)


# Redis or Postgres away: the same list that makes a worker's task retry. Routes do
# no other OS-level I/O, so an OSError here is a refused connect or a vanished socket.
UNAVAILABLE: tuple[type[Exception], ...] = CONNECTION_LOST

EXCEPTION_HANDLERS: dict[Any, Any] = {
    RiskdriftError: handle_error,
    HTTPException: handle_http,
    **dict.fromkeys(UNAVAILABLE, handle_unavailable),
    Exception: handle_unexpected,
}
