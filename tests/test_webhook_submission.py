"""``POST /analyze`` refuses callback URLs the worker must not or could not deliver to.

The API runs with no allowed networks (production's default), so every
loopback, private, link-local or otherwise non-global target is a 422 problem
naming ``callback_url``, and nothing is stored, published or enqueued.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from arq import ArqRedis
from pydantic import SecretStr

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.webhooks import generate_secret
from tests.conftest import serve

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"

UNSAFE_URLS = [
    # IPv4 loopback in every spelling parsers accept
    "http://127.0.0.1/hook",
    "http://127.1/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://0177.0.0.1/hook",
    "http://0x7f.0.0.1/hook",
    "http://017700000001/hook",
    "https://127.0.0.1:6379/",
    # private, shared, link-local (cloud metadata), this-network, special-purpose
    "http://10.0.0.1/hook",
    "http://172.16.5.4/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://0xa9fea9fe/latest/meta-data/",
    "http://0.0.0.0/hook",
    "http://0/hook",
    "http://224.0.0.1/hook",
    "http://255.255.255.255/hook",
    "http://198.18.0.1/hook",
    "http://192.0.2.1/hook",
    # IPv6 forms, including ones that carry a refused IPv4 address
    "http://[::1]/hook",
    "http://[::]/hook",
    "http://[0:0:0:0:0:0:0:1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:7f00:1]/hook",
    "http://[::ffff:a9fe:a9fe]/hook",
    "http://[fe80::1]/hook",
    "http://[fc00::1]/hook",
    "http://[fd12:3456::1]/hook",
    "http://[64:ff9b::a9fe:a9fe]/hook",
    "http://[2002:7f00:1::]/hook",
    # names that resolve to loopback
    "http://localhost/hook",
    "http://LOCALHOST:8080/hook",
    "http://localhost./hook",
    # credentials in the URL
    "http://user:secret@example.com/hook",
]


@pytest.fixture
def strict_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_allowed_cidrs": [],
            "webhook_secrets": [SecretStr(generate_secret())],
            # The table posts 40 requests; the per-key limit's Redis keys are shared by tests.
            "submit_rate_limit": "",
        }
    )


@pytest.fixture
async def client(strict_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(create_app(strict_settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):
        yield http


async def submit(client: httpx.AsyncClient, url: str) -> httpx.Response:
    return await client.post(
        "/analyze", json={"ticker": "ACME", "years": [2024, 2023], "callback_url": url}
    )


async def test_unsafe_callback_urls_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, redis: ArqRedis, strict_settings: Settings
) -> None:
    assert len(UNSAFE_URLS) >= 25
    accepted = []
    for url in UNSAFE_URLS:
        response = await submit(client, url)
        if response.status_code != 422:
            accepted.append((url, response.status_code))
            continue
        assert response.headers["content-type"] == PROBLEM, url
        problem = response.json()
        assert problem["status"] == 422, url
        assert [e["field"] for e in problem["errors"]] == ["callback_url"], (url, problem)
        assert problem["errors"][0]["type"] == "unsafe_callback_url", (url, problem)
    assert accepted == []
    assert await redis.zcard(strict_settings.queue_name) == 0
    assert (await client.get("/jobs")).json()["jobs"] == []


async def test_refusal_says_why(client: httpx.AsyncClient) -> None:
    problem = (await submit(client, "http://169.254.169.254/latest/meta-data/")).json()
    assert problem["type"].endswith("/callback-url")
    assert "link-local" in problem["detail"]
    assert problem["errors"][0]["type"] == "unsafe_callback_url"
    problem = (await submit(client, "http://localhost/hook")).json()
    assert "loopback" in problem["detail"]


async def test_callback_host_that_does_not_resolve_is_refused(
    client: httpx.AsyncClient, redis: ArqRedis, strict_settings: Settings
) -> None:
    response = await submit(client, "http://hooks.riskdrift.invalid/hook")
    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"] == "callback_url host does not resolve"
    assert problem["errors"][0]["field"] == "callback_url"
    assert await redis.zcard(strict_settings.queue_name) == 0
    assert (await client.get("/jobs")).json()["jobs"] == []


async def test_callbacks_need_a_configured_secret(settings: Settings, redis: ArqRedis) -> None:
    unconfigured = settings.model_copy(update={"webhook_secrets": [], "submit_rate_limit": ""})
    async with (
        serve(create_app(unconfigured)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):
        response = await submit(http, "http://127.0.0.1:9/hook")
        assert response.status_code == 422
        problem = response.json()
        assert problem["detail"] == "webhooks are not configured on this server"
        assert problem["errors"][0]["field"] == "callback_url"
        assert await redis.zcard(settings.queue_name) == 0
        # Without a callback the same server takes the job.
        response = await http.post("/analyze", json={"ticker": "ACME", "years": [2024, 2023]})
        assert response.status_code == 202


async def test_a_replay_gets_its_job_back_even_if_the_callback_is_refused_now(
    strict_settings: Settings, client: httpx.AsyncClient, redis: ArqRedis
) -> None:
    """The first submission was accepted while loopback callbacks were allowed; the same
    request replayed to an API that refuses them gets its job, not a 422."""
    lenient = strict_settings.model_copy(update={"webhook_allowed_cidrs": ["127.0.0.0/8"]})
    body = {"ticker": "ACME", "years": [2024, 2023], "callback_url": "http://127.0.0.1:9/hook"}
    headers = {"Idempotency-Key": "replay-after-policy-change"}
    async with (
        serve(create_app(lenient)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as first_api,
    ):
        first = await first_api.post("/analyze", json=body, headers=headers)
    assert first.status_code == 202, first.text

    replay = await client.post("/analyze", json=body, headers=headers)
    assert replay.status_code == 200, replay.text
    assert replay.json()["job_id"] == first.json()["job_id"]
    conflict = await client.post("/analyze", json={**body, "ticker": "OTHER"}, headers=headers)
    assert conflict.status_code == 422
    assert conflict.json()["type"].endswith("idempotency-conflict")
    fresh = await client.post("/analyze", json=body, headers={"Idempotency-Key": "new"})
    assert fresh.status_code == 422  # this API does refuse the callback itself
    assert fresh.json()["errors"][0]["type"] == "unsafe_callback_url"
    queued = await redis.zrange(strict_settings.queue_name, 0, -1)
    assert [m.decode() for m in queued] == [first.json()["job_id"]]
