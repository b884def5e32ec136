"""Who is calling: bearer API keys mapped to tenants.

Every route but ``/healthz``, ``/readyz`` and ``/metrics`` needs
``Authorization: Bearer <key>``. Browsers' ``EventSource`` cannot set headers,
so GET requests may pass the key as ``?key=`` instead. The tenant found is
put in the ASGI scope; routes read it with :func:`tenant_of` and only ever
touch that tenant's rows (another tenant's job is a 404, not a 403).

Lookups are cached per process for ``api_key_cache_ttl`` seconds, so a
revoked key stops working within that time.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from riskdrift.api.problems import UNAVAILABLE, error_response
from riskdrift.errors import DependencyUnavailable, Unauthorized

DEFAULT_TENANT = "default"
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"})
PUBLIC_PREFIXES = ("/docs/",)  # the API docs' bundled assets
TENANT_SCOPE_KEY = "riskdrift.tenant"
CLIENT_SCOPE_KEY = "riskdrift.client"  # a digest of the caller's key: the rate-limit identity

log = structlog.get_logger(__name__)

KeyLookup = Callable[[str], Awaitable[str | None]]


def is_public(path: str) -> bool:
    """Whether ``path`` answers without a key (the OpenAPI document says so too)."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def tenant_of(request: Request) -> str:
    """The caller's tenant (the default tenant when auth is off)."""
    tenant: str = request.scope.get(TENANT_SCOPE_KEY, DEFAULT_TENANT)
    return tenant


def client_of(request: Request) -> str:
    """Who to rate-limit: a digest of the caller's key (the tenant when auth is off)."""
    client: str = request.scope.get(CLIENT_SCOPE_KEY) or f"tenant:{tenant_of(request)}"
    return client


class KeyCache:
    """A small TTL cache in front of the key table (unknown keys are cached too)."""

    def __init__(self, lookup: KeyLookup, *, ttl: float, max_entries: int = 10_000) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._max = max_entries
        self._entries: dict[str, tuple[float, str | None]] = {}

    async def tenant(self, key: str) -> str | None:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        tenant = await self._lookup(key)
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key] = (now + self._ttl, tenant)
        return tenant


def _presented_key(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    if scope["method"] == "GET":
        raw: bytes = scope.get("query_string", b"")
        values = parse_qs(raw.decode("latin-1")).get("key")
        if values:
            return values[0]
    return None


class ApiKeyAuth:
    """Pure ASGI middleware: 401 problem unless a valid key is presented.

    The key cache lives in the lifespan state (``scope["state"]["key_cache"]``),
    next to the pool it reads from; ``None`` there means auth is off.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cache: KeyCache | None = scope.get("state", {}).get("key_cache")
        if scope["type"] != "http" or is_public(scope["path"]) or cache is None:
            await self.app(scope, receive, send)
            return
        key = _presented_key(scope)
        try:
            tenant = await cache.tenant(key) if key else None
        except UNAVAILABLE as exc:
            # Outside the router's exception handlers too: Postgres away while the key
            # is looked up is the same 503 + Retry-After a route would answer.
            log.warning("dependency_unavailable", path=scope["path"], error=type(exc).__name__)
            response = error_response(DependencyUnavailable(), scope["path"])
            await response(scope, receive, send)
            return
        if tenant is None:
            # Outside the router, so no exception handler: the same mapping, called directly.
            response = error_response(
                Unauthorized(
                    "missing or invalid API key" if key else "send Authorization: Bearer <key>"
                ),
                scope["path"],
            )
            await response(scope, receive, send)
            return
        scope[TENANT_SCOPE_KEY] = tenant
        scope[CLIENT_SCOPE_KEY] = hashlib.sha256(str(key).encode()).hexdigest()[:16]
        await self.app(scope, receive, send)
