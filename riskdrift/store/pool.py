"""The per-process asyncpg pool."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from riskdrift.config import Settings

Pool = asyncpg.Pool
# A connection straight from asyncpg.connect or one borrowed from the pool.
Connection = asyncpg.Connection | PoolConnectionProxy
# What the table modules accept: the pool itself or one of its connections.
Executor = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSONB values arrive as already-serialised text from pydantic; decode to Python on read.
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: v if isinstance(v, str) else json.dumps(v),
        decoder=json.loads,
        schema="pg_catalog",
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool release hook: skip asyncpg's reset query (one round trip per release).

    asyncpg still rolls back an open transaction itself; riskdrift sets no
    session state (no SET, LISTEN, cursors or held advisory locks), so there
    is nothing else to reset.
    """


async def create_pool(settings: Settings, **overrides: Any) -> Pool:
    """Open the process's pool; every connection uses ``settings.database_schema``."""
    options: dict[str, Any] = {
        "min_size": settings.db_pool_min,
        "max_size": settings.db_pool_max,
        "server_settings": {
            "search_path": settings.database_schema,
            "application_name": "riskdrift",
        },
        "init": _init_connection,
        "reset": _keep_session,
        "command_timeout": 30,
    }
    options.update(overrides)
    pool: Pool = await asyncpg.create_pool(settings.database_url, **options)
    return pool
