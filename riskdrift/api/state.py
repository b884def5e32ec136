"""The clients an API process shares, made once in the lifespan."""

from __future__ import annotations

from typing import TypedDict, cast

import asyncpg
from arq import ArqRedis
from starlette.requests import Request

from riskdrift.config import Settings


class AppState(TypedDict):
    """What the lifespan yields; Starlette exposes it as ``request.state``."""

    settings: Settings
    pool: asyncpg.Pool
    redis: ArqRedis  # one connection pool for the arq queue and the event streams


def app_state(request: Request) -> AppState:
    """The typed view of ``request.state``."""
    return cast(AppState, request.state._state)
