"""RFC 9457 problem details: every error the API returns goes through here."""

from __future__ import annotations

from typing import Any

import pydantic
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from riskdrift.models import Problem
from riskdrift.retrying import CONNECTION_LOST

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://riskdrift.dev/problems/"


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        type_: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(
            type=TYPE_BASE + type_ if type_ else "about:blank",
            title=title,
            status=status,
            detail=detail,
            errors=errors,
        )
        self.headers = headers or {}


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> Response:
    """Serialise a problem with its media type."""
    return Response(
        problem.model_dump_json(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def validation_problem(exc: pydantic.ValidationError) -> ProblemError:
    """A 422 (or 400 for JSON that does not parse) naming each field at fault."""
    errors = []
    for err in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(p) for p in err["loc"]) or None
        errors.append({"field": field, "message": err["msg"], "type": err["type"]})
    if any(e["type"] == "json_invalid" for e in errors):
        return ProblemError(
            400,
            "Malformed JSON",
            "the request body is not valid JSON",
            type_="malformed-json",
            errors=errors,
        )
    if any(e["type"] == "model_type" for e in errors):
        return ProblemError(
            422,
            "Invalid request",
            "the request body must be a JSON object",
            type_="validation",
            errors=errors,
        )
    fields = ", ".join(sorted({e["field"] or "body" for e in errors}))
    return ProblemError(
        422, "Invalid request", f"invalid field(s): {fields}", type_="validation", errors=errors
    )


async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    problem = exc.problem.model_copy(update={"instance": request.url.path})
    return problem_response(problem, exc.headers)


async def handle_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    problem = Problem(
        title=exc.detail or "HTTP error", status=exc.status_code, instance=request.url.path
    )
    return problem_response(problem, dict(exc.headers or {}))


async def handle_unavailable(request: Request, exc: Exception) -> Response:
    import structlog

    structlog.get_logger(__name__).warning(
        "dependency_unavailable", path=request.url.path, error=type(exc).__name__
    )
    return problem_response(
        Problem(
            type=TYPE_BASE + "unavailable",
            title="Service unavailable",
            status=503,
            detail="a backing service (Redis or Postgres) is unavailable; retry shortly",
            instance=request.url.path,
        ),
        {"Retry-After": "5"},
    )


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    import structlog

    structlog.get_logger(__name__).exception("request_crashed", path=request.url.path)
    return problem_response(
        Problem(title="Internal server error", status=500, instance=request.url.path)
    )


# Redis or Postgres away: the same list that makes a worker's task retry. Routes do
# no other OS-level I/O, so an OSError here is a refused connect or a vanished socket.
UNAVAILABLE: tuple[type[Exception], ...] = CONNECTION_LOST

EXCEPTION_HANDLERS: dict[Any, Any] = {
    ProblemError: handle_problem,
    HTTPException: handle_http,
    **dict.fromkeys(UNAVAILABLE, handle_unavailable),
    Exception: handle_unexpected,
}
