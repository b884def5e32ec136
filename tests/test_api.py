"""The HTTP API against real Postgres and Redis, served by uvicorn on loopback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from arq import ArqRedis

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.events.publish import stream_key
from tests.conftest import serve

pytestmark = pytest.mark.integration

PROBLEM = "application/problem+json"


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(create_app(settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):
        yield http


async def queued_job_ids(redis: ArqRedis, settings: Settings) -> list[str]:
    return [m.decode() for m in await redis.zrange(settings.queue_name, 0, -1)]


async def test_submit_stores_enqueues_and_publishes(
    client: httpx.AsyncClient, redis: ArqRedis, settings: Settings
) -> None:
    response = await client.post("/analyze", json={"ticker": "aapl", "years": [2024, 2023]})
    assert response.status_code == 202
    body = response.json()
    job_id = body["job_id"]
    assert body["status"] == "queued"
    assert body["links"] == {
        "self": f"/jobs/{job_id}",
        "stream": f"/stream/{job_id}",
        "result": f"/jobs/{job_id}/result",
        "report": f"/jobs/{job_id}/report",
    }
    assert response.headers["location"] == f"/jobs/{job_id}"
    assert await queued_job_ids(redis, settings) == [job_id]
    entries = await redis.xrange(stream_key(job_id))
    assert [e[1][b"event"] for e in entries] == [b"job_queued"]

    job = (await client.get(f"/jobs/{job_id}")).json()
    assert job["ticker"] == "AAPL"
    assert job["years"] == [2024, 2023]
    assert job["status"] == "queued"
    assert job["progress"] == 0
    assert job["attempts"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ticker": "AAPL", "years": [2024, 2023], "extra": 1}, "extra"),
        ({"ticker": "1AAPL", "years": [2024, 2023]}, "ticker"),
        ({"ticker": "TOOLONGTICKER", "years": [2024, 2023]}, "ticker"),
        ({"ticker": "AAPL", "years": [2024]}, "years"),
        ({"ticker": "AAPL", "years": [2024, 2024]}, "years"),
        ({"ticker": "AAPL", "years": [2024, 1999]}, "years"),
        ({"ticker": "AAPL", "years": [2024, 2023, 2022]}, "years"),
        ({"ticker": "AAPL", "years": ["x", 2023]}, "years.0"),
        (
            {"ticker": "AAPL", "years": [2024, 2023], "callback_url": "ftp://example.com/x"},
            "callback_url",
        ),
        ({"ticker": "AAPL", "years": [2024, 2023], "callback_url": "/relative"}, "callback_url"),
        ({"years": [2024, 2023]}, "ticker"),
    ],
)
async def test_bad_input_is_a_problem_and_enqueues_nothing(
    client: httpx.AsyncClient, redis: ArqRedis, settings: Settings, body: object, field: str
) -> None:
    response = await client.post("/analyze", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    assert field in [e["field"] for e in problem["errors"]]
    assert await queued_job_ids(redis, settings) == []


async def test_malformed_bodies(
    client: httpx.AsyncClient, redis: ArqRedis, settings: Settings
) -> None:
    not_json = await client.post(
        "/analyze", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert not_json.headers["content-type"] == PROBLEM

    array = await client.post("/analyze", json=[1, 2])
    assert array.status_code == 422

    huge = await client.post(
        "/analyze", content=b"x" * 1_000_000, headers={"content-type": "application/json"}
    )
    assert huge.status_code == 413
    assert huge.headers["content-type"] == PROBLEM

    form = await client.post("/analyze", data={"ticker": "AAPL"})
    assert form.status_code == 415
    assert await queued_job_ids(redis, settings) == []


async def test_idempotency_key(
    client: httpx.AsyncClient, redis: ArqRedis, settings: Settings
) -> None:
    body = {"ticker": "MSFT", "years": [2024, 2023]}
    headers = {"Idempotency-Key": "order-42"}
    first = await client.post("/analyze", json=body, headers=headers)
    again = await client.post("/analyze", json={**body, "ticker": "msft"}, headers=headers)
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json()["job_id"] == first.json()["job_id"]
    other = await client.post("/analyze", json={**body, "years": [2023, 2022]}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"] == PROBLEM
    assert len(await queued_job_ids(redis, settings)) == 1


async def test_list_filters_and_cursor_pagination(
    client: httpx.AsyncClient, db: asyncpg.Pool
) -> None:
    submitted = []
    for ticker in ["AAA", "BBB", "AAA", "CCC", "AAA"]:
        r = await client.post("/analyze", json={"ticker": ticker, "years": [2024, 2023]})
        submitted.append(r.json()["job_id"])

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/jobs", params=params)).json()
        seen += [j["job_id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(submitted))

    only_aaa = (await client.get("/jobs", params={"ticker": "aaa"})).json()["jobs"]
    assert [j["job_id"] for j in only_aaa] == [submitted[4], submitted[2], submitted[0]]
    queued = (await client.get("/jobs", params={"status": "completed"})).json()["jobs"]
    assert queued == []
    # A watchlist's job beside the clients' (the watch writes the row with its trigger).
    await db.execute("UPDATE jobs SET trigger = 'watch' WHERE id = $1", uuid.UUID(submitted[2]))
    watch = (await client.get("/jobs", params={"trigger": "watch"})).json()["jobs"]
    assert [(j["job_id"], j["trigger"]) for j in watch] == [(submitted[2], "watch")]
    by_clients = (await client.get("/jobs", params={"trigger": "api", "ticker": "AAA"})).json()
    assert [j["job_id"] for j in by_clients["jobs"]] == [submitted[4], submitted[0]]
    bad = await client.get("/jobs", params={"status": "nope", "limit": "0", "trigger": "cron"})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} == {"status", "limit", "trigger"}
    assert (await client.get("/jobs", params={"cursor": "garbage!"})).status_code == 422


async def test_unknown_job_and_result_before_completion(client: httpx.AsyncClient) -> None:
    missing = await client.get(f"/jobs/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert (await client.get("/jobs/not-a-uuid")).status_code == 404

    job_id = (await client.post("/analyze", json={"ticker": "IBM", "years": [2024, 2023]})).json()[
        "job_id"
    ]
    result = await client.get(f"/jobs/{job_id}/result")
    assert result.status_code == 409
    assert result.json()["detail"] == "job is queued"


async def test_cancel_queued_job(client: httpx.AsyncClient, redis: ArqRedis) -> None:
    job_id = (await client.post("/analyze", json={"ticker": "IBM", "years": [2024, 2023]})).json()[
        "job_id"
    ]
    cancelled = await client.post(f"/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/jobs/{job_id}/cancel")
    assert again.status_code == 409
    events = [e[1][b"event"] for e in await redis.xrange(stream_key(job_id))]
    assert events == [b"job_queued", b"job_cancelled"]
    assert await redis.zscore("arq:abort", job_id) is not None


async def test_health_ready_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"redis": "ok", "postgres": "ok", "migrations": "ok"}
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert "AnalysisResult" in spec["components"]["schemas"]
    assert "/analyze" in spec["paths"]
