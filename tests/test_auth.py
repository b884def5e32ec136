"""API keys, tenants and submission limits, over real HTTP, Redis and Postgres."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from starlette.routing import Route

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.store import api_keys
from tests.conftest import serve
from tests.processes import run_cli

pytestmark = pytest.mark.integration

PUBLIC = {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/init.js"}
BODY = {"ticker": "ACME", "years": [2024, 2023]}


@pytest.fixture
def auth_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"auth_enabled": True, "api_key_cache_ttl": 0.0})


@pytest.fixture
async def keys(db: asyncpg.Pool) -> dict[str, str]:
    _, alice = await api_keys.create_key(db, name="alice", tenant="tenant-a")
    _, bob = await api_keys.create_key(db, name="bob", tenant="tenant-b")
    return {"a": alice, "b": bob}


@pytest.fixture
async def base_url(auth_settings: Settings, db: asyncpg.Pool) -> AsyncIterator[str]:
    async with serve(create_app(auth_settings)) as url:
        yield url


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def concrete(path: str, job_id: str) -> str:
    return re.sub(r"\{[^}]+\}", job_id, path)


def app_routes(settings: Settings) -> list[tuple[str, str]]:
    routes = []
    for route in create_app(settings).routes:
        if isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                routes.append((method, route.path))
    return routes


async def test_every_route_but_health_needs_a_key(
    base_url: str, auth_settings: Settings, keys: dict[str, str]
) -> None:
    routes = app_routes(auth_settings)
    assert len(routes) >= 8
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        for method, path in routes:
            url = concrete(path, "00000000-0000-0000-0000-000000000000")
            for headers in ({}, bearer("rdk_not-a-real-key"), {"Authorization": "Basic x"}):
                response = await client.request(method, url, headers=headers, json=BODY)
                if path in PUBLIC:
                    assert response.status_code != 401, (method, path)
                else:
                    assert response.status_code == 401, (method, path, response.status_code)
                    assert response.headers["content-type"] == "application/problem+json"
                    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_tenants_see_only_their_own_jobs_on_every_route(
    base_url: str, auth_settings: Settings, keys: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        submitted = await client.post("/analyze", json=BODY, headers=bearer(keys["a"]))
        assert submitted.status_code == 202
        job_id = submitted.json()["job_id"]

        job_routes = [(m, p) for m, p in app_routes(auth_settings) if "{job_id}" in p]
        assert len(job_routes) >= 4
        for method, path in job_routes:
            response = await client.request(
                method, concrete(path, job_id), headers=bearer(keys["b"])
            )
            assert response.status_code == 404, (method, path, response.status_code)
            assert response.headers["content-type"] == "application/problem+json"

        owner_view = await client.get(f"/jobs/{job_id}", headers=bearer(keys["a"]))
        assert owner_view.status_code == 200
        # GET requests may carry the key as ?key= (EventSource cannot set headers).
        by_query = await client.get(f"/jobs/{job_id}", params={"key": keys["a"]})
        assert by_query.status_code == 200
        assert (await client.get("/jobs", headers=bearer(keys["b"]))).json()["jobs"] == []
        listed = (await client.get("/jobs", headers=bearer(keys["a"]))).json()["jobs"]
        assert [j["job_id"] for j in listed] == [job_id]
        # The same Idempotency-Key in two tenants names two different jobs.
        ida = await client.post(
            "/analyze", json=BODY, headers={**bearer(keys["a"]), "Idempotency-Key": "k1"}
        )
        idb = await client.post(
            "/analyze", json=BODY, headers={**bearer(keys["b"]), "Idempotency-Key": "k1"}
        )
        assert ida.status_code == idb.status_code == 202
        assert ida.json()["job_id"] != idb.json()["job_id"]


async def test_revoked_key_stops_working(
    base_url: str, db: asyncpg.Pool, keys: dict[str, str]
) -> None:
    record, key = await api_keys.create_key(db, name="temp", tenant="tenant-a")
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        assert (await client.get("/jobs", headers=bearer(key))).status_code == 200
        assert await api_keys.revoke_key(db, record.id)
        assert (await client.get("/jobs", headers=bearer(key))).status_code == 401


async def test_keys_are_stored_hashed(db: asyncpg.Pool, keys: dict[str, str]) -> None:
    rows = await db.fetch("SELECT key_hash, prefix FROM api_keys")
    stored = b"".join(r["key_hash"] for r in rows) + "".join(r["prefix"] for r in rows).encode()
    for key in keys.values():
        assert key.encode() not in stored


async def test_rate_limit_answers_429_with_retry_after(
    auth_settings: Settings, db: asyncpg.Pool, keys: dict[str, str]
) -> None:
    limited = auth_settings.model_copy(update={"submit_rate_limit": "3/minute"})
    # The limiter's Redis keys are per key digest: a fresh key starts with a full window.
    _, key = await api_keys.create_key(db, name="limited", tenant="tenant-c")
    async with serve(create_app(limited)) as url, httpx.AsyncClient(base_url=url) as client:
        codes = [
            (await client.post("/analyze", json=BODY, headers=bearer(key))).status_code
            for _ in range(4)
        ]
        assert codes == [202, 202, 202, 429]
        refused = await client.post("/analyze", json=BODY, headers=bearer(key))
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # Another key of the same tenant has its own window.
        _, other = await api_keys.create_key(db, name="other", tenant="tenant-c")
        assert (await client.post("/analyze", json=BODY, headers=bearer(other))).status_code == 202


async def test_queued_jobs_cap_per_tenant(
    auth_settings: Settings, db: asyncpg.Pool, keys: dict[str, str]
) -> None:
    capped = auth_settings.model_copy(update={"max_queued_jobs_per_tenant": 2})
    async with serve(create_app(capped)) as url, httpx.AsyncClient(base_url=url) as client:
        a = bearer(keys["a"])
        first = await client.post("/analyze", json=BODY, headers={**a, "Idempotency-Key": "x"})
        await client.post("/analyze", json=BODY, headers=a)
        third = await client.post("/analyze", json=BODY, headers=a)
        assert third.status_code == 429
        assert third.json()["type"].endswith("/queue-full")
        replay = await client.post("/analyze", json=BODY, headers={**a, "Idempotency-Key": "x"})
        assert replay.status_code == 200
        assert replay.json()["job_id"] == first.json()["job_id"]
        # Tenant B is not affected by tenant A's queue.
        assert (
            await client.post("/analyze", json=BODY, headers=bearer(keys["b"]))
        ).status_code == 202


async def test_key_lookup_during_a_postgres_outage_is_503_with_retry_after(
    auth_settings: Settings, db: asyncpg.Pool, keys: dict[str, str]
) -> None:
    """A key not in the cache, looked up while Postgres is away: 503, not a 500."""
    from tests.doubles.proxy import proxy_for

    async with proxy_for(auth_settings.database_url) as proxy:
        behind = auth_settings.model_copy(
            update={"database_url": proxy.url_for(auth_settings.database_url)}
        )
        async with serve(create_app(behind)) as url, httpx.AsyncClient(base_url=url) as client:
            assert (await client.get("/jobs", headers=bearer(keys["a"]))).status_code == 200
            proxy.cut()
            for key in (keys["b"], keys["a"]):  # never seen; seen (the cache TTL is 0)
                down = await client.get("/jobs", headers=bearer(key))
                assert down.status_code == 503, down.text
                assert down.headers["content-type"] == "application/problem+json"
                assert int(down.headers["retry-after"]) >= 1
            proxy.restore()
            back = await client.get("/jobs", headers=bearer(keys["b"]))
            assert back.status_code == 200


def test_cli_creates_a_key_on_its_last_line_and_revokes_it(settings: Settings) -> None:
    env: dict[str, Any] = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": settings.database_url,
        "RISKDRIFT_DATABASE_SCHEMA": settings.database_schema,
    }
    created = run_cli(env, "keys", "create", "ci", "--tenant", "t1", check=True)
    lines = created.stdout.strip().splitlines()
    assert lines[-1].startswith("rdk_")
    key_id = lines[0].split()[2]
    revoked = run_cli(env, "keys", "revoke", key_id)
    assert revoked.returncode == 0
    again = run_cli(env, "keys", "revoke", key_id)
    assert again.returncode == 2
    assert "no active key" in again.stderr


def test_every_route_that_can_answer_429_documents_it(auth_settings: Settings) -> None:
    """A route that checks the rate limiter or the queued-jobs cap answers 429: its OpenAPI
    operation says so, with the Retry-After header the answer carries."""
    import inspect

    from riskdrift.api.openapi import build_openapi

    routes = create_app(auth_settings).routes
    paths = build_openapi(routes)["paths"]
    limited = []
    for route in routes:
        if not isinstance(route, Route):
            continue
        source = inspect.getsource(route.endpoint)
        if "limiter" not in source and "QueueFull" not in source:
            continue
        for method in (route.methods or set()) - {"HEAD"}:
            limited.append((method, route.path))
            operation = paths[route.path][method.lower()]
            answer = operation["responses"].get("429")
            assert answer is not None, (method, route.path)
            assert "Retry-After" in answer["headers"], (method, route.path)
    assert {("POST", "/analyze"), ("POST", "/jobs/{job_id}/retry")} <= set(limited)
    # /batches dispatches GET and POST to two functions; its POST (submit) is limited.
    assert "Retry-After" in paths["/batches"]["post"]["responses"]["429"]["headers"]
