"""One EDGAR metadata download for the whole cluster: a Redis-backed single flight.

Inside one process the EDGAR source already shares work: one ``asyncio.Lock`` per
key makes concurrent jobs wait for one download of a submissions index or a
document, and the disk cache serves documents to every process of a host. What a
per-process lock cannot do is stop N worker processes (or pods) from each fetching
the same company's submissions index, and a batch spreads one company's jobs over
all of them. :class:`SharedMetadata` closes that gap for the small JSON resources
(submissions index, history pages):

- the answer is kept in Redis for ``ttl`` seconds, zlib-compressed (an index is
  ~0.1-1 MB of JSON and compresses ~10x; 1,000 companies fit in tens of MB);
- the first process to miss takes a short lock (``SET NX PX``) and downloads; the
  others poll the value (25 ms) until it appears or the lock lapses (the loader
  died or failed: then they download themselves, so nothing waits forever);
- failures are not cached (a 404 or 5xx is the job's to handle), and Redis being
  away turns this into a plain download (logged), never into a failed job.

Why Redis and not a per-process future: per process is already in place and is
not enough once jobs of one batch land on several processes; Redis is the one
store every worker shares. Documents stay on disk, not in Redis (2-10 MB each).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import zlib
from collections.abc import Awaitable, Callable

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from riskdrift.queue.keys import EDGAR_META_PREFIX, edgar_meta_key

log = structlog.get_logger(__name__)

PREFIX = EDGAR_META_PREFIX
POLL_INTERVAL = 0.025


class SharedMetadata:
    """Cluster-wide single flight and cache of small EDGAR answers (module docstring)."""

    def __init__(self, redis: Redis, *, ttl: float = 600.0, lock_ttl: float = 30.0) -> None:
        self.redis = redis
        self.ttl_ms = int(ttl * 1000)
        self.lock_ttl_ms = int(lock_ttl * 1000)
        self.downloads = 0  # loads this process ran (counted for tests and metrics)
        self.shared_hits = 0  # answers another process had downloaded

    @staticmethod
    def _key(url: str) -> str:
        return edgar_meta_key(hashlib.sha256(url.encode()).hexdigest()[:32])

    async def fetch(self, url: str, load: Callable[[], Awaitable[bytes]]) -> bytes:
        """The body of ``url``: from Redis, from another process's download, or ``load()``."""
        key = self._key(url)
        try:
            return await self._fetch(key, load)
        except (RedisError, OSError) as exc:
            log.warning("edgar_shared_metadata_unavailable", error=type(exc).__name__)
            self.downloads += 1
            return await load()

    async def _fetch(self, key: str, load: Callable[[], Awaitable[bytes]]) -> bytes:
        deadline = time.monotonic() + self.lock_ttl_ms / 1000 + 1
        while True:
            stored = await self.redis.get(key)
            if stored is not None:
                self.shared_hits += 1
                return zlib.decompress(stored)
            if await self.redis.set(key + ":lock", b"1", nx=True, px=self.lock_ttl_ms):
                try:
                    self.downloads += 1
                    content = await load()
                    await self.redis.set(key, zlib.compress(content, 6), px=self.ttl_ms)
                    return content
                finally:
                    await self.redis.delete(key + ":lock")
            if time.monotonic() > deadline:  # a loader that holds the lock and hangs
                self.downloads += 1
                return await load()
            # Another process is downloading: its answer or its lapsed lock ends the wait.
            await asyncio.sleep(POLL_INTERVAL)
