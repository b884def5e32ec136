"""The arq queue as both sides see it: connection settings, the pool, job serialisation.

The API enqueues and the workers consume; both build their arq Redis pool from
:func:`redis_settings` and (de)serialise jobs with :func:`dumps` / :func:`loads`.
JSON instead of arq's default pickle keeps queue entries readable by any tool,
and a queue entry can never execute code when it is loaded.
"""

from __future__ import annotations

import json
from typing import Any

from arq import ArqRedis
from arq import create_pool as create_arq_pool
from arq.connections import RedisSettings

from riskdrift.config import Settings

__all__ = ["ArqRedis", "RedisSettings", "create_pool", "dumps", "loads", "redis_settings"]


def redis_settings(settings: Settings) -> RedisSettings:
    """arq's connection settings from our Redis URL."""
    rs = RedisSettings.from_dsn(settings.redis_url)
    rs.conn_retries = 5
    rs.conn_retry_delay = 1
    return rs


def dumps(obj: Any) -> bytes:
    """Serialise an arq job or result; exceptions in results become their ``repr``."""
    return json.dumps(obj, default=repr, separators=(",", ":")).encode()


def loads(data: bytes) -> Any:
    """Inverse of :func:`dumps`."""
    return json.loads(data)


async def create_pool(settings: Settings, *, queue: str | None = None) -> ArqRedis:
    """An arq Redis pool with our serialisation, enqueueing to ``queue`` (default: the
    analysis queue) unless a call names another."""
    return await create_arq_pool(
        redis_settings(settings),
        job_serializer=dumps,
        job_deserializer=loads,
        default_queue_name=queue or settings.queue_name,
    )
