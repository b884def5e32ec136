"""The terminal's one way to reach a running API: a client, its key, its one-line errors.

Every ``riskdrift`` command that talks to the API over HTTP (``submit``, ``watch``,
``report``, ``search``, ``batch …``, ``history``, ``jobs …``) opens its client with
:func:`connect` and reads answers with :func:`check`, so that each failure is one
:class:`~riskdrift.errors.RiskdriftError` line rather than a traceback:

- the API does not answer → ``cannot reach the API at URL (ConnectError); start it …``
- an error answer (RFC 9457 problem) → ``WHAT failed (STATUS): detail — field: message``
- ``401`` adds where the key comes from (``--key`` or ``RISKDRIFT_API_KEY``)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import httpx
import pydantic

from riskdrift.errors import RiskdriftError

M = TypeVar("M", bound=pydantic.BaseModel)


def auth_headers(api_key: str | None) -> dict[str, str]:
    """``Authorization`` for an API key (none without one)."""
    return {"Authorization": f"Bearer {api_key}"} if api_key else {}


def unreachable(api: str, exc: httpx.TransportError) -> RiskdriftError:
    """The one-line error for an API that does not answer."""
    return RiskdriftError(
        f"cannot reach the API at {api} ({type(exc).__name__}); start it with "
        "`make run`, or point RISKDRIFT_API_URL (or --api) at it"
    )


@contextlib.asynccontextmanager
async def connect(
    api: str, *, api_key: str | None, request_timeout: float | httpx.Timeout = 30.0
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for the API at ``api``; a transport failure in the block becomes one line.

    Code that retries transport errors itself (the SSE followers) catches them
    first; only what escapes it is turned into :func:`unreachable`. ``request_timeout``
    is httpx's, per request.
    """
    async with httpx.AsyncClient(
        base_url=api, headers=auth_headers(api_key), timeout=request_timeout
    ) as client:
        try:
            yield client
        except httpx.TransportError as exc:
            raise unreachable(api, exc) from None


def problem_detail(response: httpx.Response) -> str:
    """What an error answer says: its problem's detail and field errors, else its text."""
    try:
        problem = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(problem, dict):
        return str(problem)[:300]
    detail = str(problem.get("detail") or problem.get("title") or problem)
    errors = "; ".join(
        f"{e.get('field') or 'body'}: {e.get('message')}" for e in problem.get("errors") or []
    )
    return detail + (f" — {errors}" if errors else "")


def check(response: httpx.Response, what: str) -> Any:
    """The answer's JSON (``None`` if it has none), or a one-line error for a 4xx/5xx."""
    if response.status_code >= 400:
        hint = " (pass --key or set RISKDRIFT_API_KEY)" if response.status_code == 401 else ""
        raise RiskdriftError(
            f"{what} failed ({response.status_code}): {problem_detail(response)}{hint}"
        )
    return response.json() if "json" in response.headers.get("content-type", "") else None


def parse(response: httpx.Response, model: type[M], what: str) -> M:
    """The answer as ``model`` (validated from its bytes), or a one-line error."""
    check(response, what)
    return model.model_validate_json(response.content)
