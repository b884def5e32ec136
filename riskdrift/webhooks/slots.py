"""A cap on concurrent deliveries per receiver host, shared by every webhooks worker.

A slow or hanging receiver must delay only its own deliveries. Each attempt takes
a lease on one of ``limit`` slots of its callback's host (``host:port``) before it
connects, and gives it back after; an attempt that finds every slot taken does not
wait in its worker slot (that would let one receiver fill the worker) but is
deferred by the caller and tries again shortly.

The slots are a Redis sorted set per host (:func:`riskdrift.queue.keys.webhook_slots_key`),
members the attempt's lease token, scores when the lease expires (ms). Taking a slot
drops expired leases first, so a worker killed mid-attempt frees its slot after
``lease`` seconds (the attempt's own timeout plus a margin) without anyone's help.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from redis.asyncio import Redis

from riskdrift.queue.keys import webhook_slots_key

_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
"""


def receiver_of(callback_url: str) -> str:
    """The receiver a callback URL names, as slots count it: lower-case host and port."""
    parts = urlsplit(callback_url)
    host = (parts.hostname or "").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{host}:{port}"


async def take_slot(redis: Redis, receiver: str, *, limit: int, lease: float) -> str | None:
    """A lease token on one of ``receiver``'s ``limit`` slots, or ``None`` if all are taken."""
    token = secrets.token_hex(8)
    now_ms = int(time.time() * 1000)
    taken = await redis.eval(  # type: ignore[misc]
        _TAKE,
        1,
        webhook_slots_key(receiver),
        str(now_ms),
        str(now_ms + int(lease * 1000)),
        str(limit),
        token,
    )
    return token if taken else None


async def give_slot(redis: Redis, receiver: str, token: str) -> None:
    """Give back the lease ``token`` (a no-op if it already expired)."""
    await redis.zrem(webhook_slots_key(receiver), token)


@contextlib.asynccontextmanager
async def receiver_slot(
    redis: Redis, callback_url: str, *, limit: int, lease: float
) -> AsyncIterator[bool]:
    """Hold a slot of the callback's receiver for the block; yields ``False`` (and holds
    nothing) when every slot is taken."""
    receiver = receiver_of(callback_url)
    token = await take_slot(redis, receiver, limit=limit, lease=lease)
    try:
        yield token is not None
    finally:
        if token is not None:
            await give_slot(redis, receiver, token)
