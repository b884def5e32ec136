"""The ``api_keys`` table. Keys are random 256-bit tokens, stored only as SHA-256.

A key looks like ``rdk_<43 url-safe characters>``. Because keys are long and
random, a plain SHA-256 is enough to make the stored hash useless to a thief
(no password-style stretching is needed), and lookups stay a single indexed
equality query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from riskdrift.store.pool import Executor

KEY_PREFIX = "rdk_"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """One key's record (never the key itself)."""

    id: uuid.UUID
    tenant: str
    name: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None


def hash_key(key: str) -> bytes:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).digest()


async def create_key(db: Executor, *, name: str, tenant: str) -> tuple[ApiKey, str]:
    """Create a key for ``tenant``; returns its record and the key, which is shown once."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = await db.fetchrow(
        """INSERT INTO api_keys (id, tenant, name, key_hash, prefix)
           VALUES ($1, $2, $3, $4, $5)
           RETURNING id, tenant, name, prefix, created_at, revoked_at""",
        uuid.uuid4(),
        tenant,
        name,
        hash_key(key),
        key[:10],
    )
    assert row is not None
    return ApiKey(**dict(row)), key


async def tenant_for_key(db: Executor, key: str) -> str | None:
    """The tenant of an active key, or ``None`` for an unknown or revoked one."""
    if not key.startswith(KEY_PREFIX):
        return None
    tenant: str | None = await db.fetchval(
        "SELECT tenant FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", hash_key(key)
    )
    return tenant


async def revoke_key(db: Executor, key_id: uuid.UUID) -> bool:
    """Revoke a key by id; ``False`` if there is no such active key."""
    status = await db.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", key_id
    )
    return status.endswith(" 1")


async def list_keys(db: Executor) -> list[ApiKey]:
    """All keys, newest first."""
    rows = await db.fetch(
        "SELECT id, tenant, name, prefix, created_at, revoked_at FROM api_keys "
        "ORDER BY created_at DESC"
    )
    return [ApiKey(**dict(r)) for r in rows]
