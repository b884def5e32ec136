"""Versioned SQL migrations, applied at start-up and by ``riskdrift migrate``.

Files ``migrations/NNN_name.sql`` are applied in order, each in its own
transaction, and recorded in ``schema_migrations``. A session-level advisory
lock (keyed by schema) serialises concurrent starts, so an API and several
workers booting at once apply each migration exactly once.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from importlib import resources

import structlog

from riskdrift.store.pool import Connection

log = structlog.get_logger(__name__)

MIGRATION_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    """The migrations shipped in the package, in version order."""
    found = []
    for entry in resources.files("riskdrift.store.migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    return found


def latest_version() -> int:
    """The version the code expects the schema to be at."""
    return max(m.version for m in load_migrations())


def _lock_key(schema: str) -> int:
    return zlib.crc32(f"riskdrift-migrate:{schema}".encode())


async def migrate(conn: Connection) -> list[int]:
    """Apply pending migrations on ``conn``'s schema; returns the versions applied."""
    schema: str = await conn.fetchval("SELECT current_schema()") or "public"
    applied: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _lock_key(schema))
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for migration in load_migrations():
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            applied.append(migration.version)
            log.info("migration_applied", version=migration.version, name=migration.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _lock_key(schema))
    return applied


async def current_version(conn: Connection) -> int | None:
    """The newest applied migration, or ``None`` on an empty schema."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return None
    version: int | None = await conn.fetchval("SELECT max(version) FROM schema_migrations")
    return version
