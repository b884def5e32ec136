"""The clients an API process shares, made once in the lifespan."""

from __future__ import annotations

from typing import TypedDict, cast

import asyncpg
from starlette.requests import Request

from riskdrift.api.auth import KeyCache
from riskdrift.api.limits import SubmissionLimiter
from riskdrift.config import Settings
from riskdrift.events.hub import EventHub
from riskdrift.queue import ArqRedis


class AppState(TypedDict):
    """What the lifespan yields; Starlette exposes it as ``request.state``."""

    settings: Settings
    pool: asyncpg.Pool
    redis: ArqRedis  # one connection pool for the arq queue and the event streams
    hub: EventHub  # the one Redis reader behind every SSE client of this process
    limiter: SubmissionLimiter
    key_cache: KeyCache | None  # None: auth is off (local development only)


def app_state(request: Request) -> AppState:
    """The typed view of ``request.state``."""
    return cast(AppState, request.state._state)
