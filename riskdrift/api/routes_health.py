"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse

from riskdrift.api.spec import Answer, operation
from riskdrift.api.state import app_state
from riskdrift.store.migrate import current_version, latest_version


@operation("GET", "Liveness", answers={200: Answer("alive")})
async def healthz(request: Request) -> JSONResponse:
    """The process is alive and serving."""
    return JSONResponse({"status": "ok"})


@operation(
    "GET",
    "Readiness (Redis, Postgres, migrations)",
    answers={200: Answer("ready"), 503: Answer("not ready")},
)
async def readyz(request: Request) -> JSONResponse:
    """Redis and Postgres answer, and the schema is at the version this code expects."""
    state = app_state(request)
    checks: dict[str, str] = {}

    async def check_redis() -> None:
        try:
            async with asyncio.timeout(2):
                await state["redis"].ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unavailable: {type(exc).__name__}"

    async def check_postgres() -> None:
        try:
            async with asyncio.timeout(2), state["pool"].acquire() as conn:
                version = await current_version(conn)
            expected = latest_version()
            checks["postgres"] = "ok"
            checks["migrations"] = (
                "ok" if version == expected else f"at {version}, expected {expected}"
            )
        except Exception as exc:
            checks["postgres"] = f"unavailable: {type(exc).__name__}"

    await asyncio.gather(check_redis(), check_postgres())
    ready = (
        checks.get("redis") == "ok"
        and checks.get("postgres") == "ok"
        and checks.get("migrations") == "ok"
    )
    return JSONResponse(
        {"status": "ready" if ready else "unready", "checks": checks},
        status_code=200 if ready else 503,
    )
