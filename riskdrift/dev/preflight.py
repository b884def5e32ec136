"""Start-up checks of an entrypoint: Postgres and Redis answer, or one line says why not.

``riskdrift api`` and ``riskdrift worker`` call :func:`check_services` before
starting, so an unreachable service is a one-line error naming the URL (its
password masked) instead of a traceback from deep inside a lifespan.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from redis.asyncio import Redis

from riskdrift.config import Settings
from riskdrift.errors import (
    ServiceUnavailable,
)

TIMEOUT = 5.0  # seconds per service


def masked(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def check_postgres(settings: Settings) -> None:
    """Connect once; :class:`ServiceUnavailable` if Postgres does not answer."""
    try:
        conn = await asyncpg.connect(settings.database_url, timeout=TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise ServiceUnavailable(
            f"PostgreSQL is not reachable at {masked(settings.database_url)} ({_reason(exc)}); "
            "start it or set DATABASE_URL"
        ) from None
    await conn.close()


async def check_redis(settings: Settings) -> None:
    """PING once; :class:`ServiceUnavailable` if Redis does not answer."""
    redis = Redis.from_url(
        settings.redis_url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT
    )
    try:
        await redis.ping()
    except Exception as exc:  # redis-py raises its own ConnectionError/TimeoutError tree
        raise ServiceUnavailable(
            f"Redis is not reachable at {masked(settings.redis_url)} ({_reason(exc)}); "
            "start it or set REDIS_URL"
        ) from None
    finally:
        await redis.aclose()


def check_services(settings: Settings) -> None:
    """Both checks, from an entrypoint (it runs its own event loop)."""

    async def both() -> None:
        await check_postgres(settings)
        await check_redis(settings)

    asyncio.run(both())
