"""What the dashboard acts with: retrying a failed job and the last hour's per-minute series."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from arq import ArqRedis

import riskdrift
from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.worker.settings import build_worker_settings
from tests.conftest import burst_worker, serve

pytestmark = pytest.mark.integration

SAMPLES = Path(riskdrift.__file__).parent / "samples" / "filings"


@pytest.fixture
def local(settings: Settings) -> Settings:
    return settings.model_copy(update={"filings_dir": SAMPLES, "filings_source": "local"})


@pytest.fixture
async def client(local: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(create_app(local)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):
        yield http


async def drain(settings: Settings) -> None:
    worker = burst_worker(build_worker_settings(settings))
    try:
        async with asyncio.timeout(60):
            await worker.main()
    finally:
        await worker.close()


async def test_retry_submits_a_failed_jobs_request_again(
    client: httpx.AsyncClient, local: Settings, redis: ArqRedis
) -> None:
    # The bundled samples have ACME 2023 and 2024 only: 2022 fails for good.
    first = (await client.post("/analyze", json={"ticker": "ACME", "years": [2024, 2022]})).json()
    await drain(local)
    failed = (await client.get(f"/jobs/{first['job_id']}")).json()
    assert failed["status"] == "failed"
    assert "2022" in failed["error"]

    retried = await client.post(f"/jobs/{first['job_id']}/retry")
    assert retried.status_code == 202, retried.text
    new_id = retried.json()["job_id"]
    assert new_id != first["job_id"]
    assert retried.headers["location"] == f"/jobs/{new_id}"
    new = (await client.get(f"/jobs/{new_id}")).json()
    assert (new["ticker"], new["years"], new["status"]) == ("ACME", [2024, 2022], "queued")
    assert [m.decode() for m in await redis.zrange(local.queue_name, 0, -1)] == [new_id]
    # The old job keeps its error for the record.
    assert (await client.get(f"/jobs/{first['job_id']}")).json()["status"] == "failed"

    not_finished = await client.post(f"/jobs/{new_id}/retry")
    assert not_finished.status_code == 409
    assert not_finished.headers["content-type"] == "application/problem+json"
    assert not_finished.json()["type"].endswith("not-retryable")
    assert (await client.post(f"/jobs/{uuid.uuid4()}/retry")).status_code == 404


async def test_timeseries_counts_the_last_hour_per_minute(
    client: httpx.AsyncClient, local: Settings
) -> None:
    for years in ([2024, 2023], [2024, 2022]):
        await client.post("/analyze", json={"ticker": "ACME", "years": years})
    await client.post("/analyze", json={"ticker": "ACME", "years": [2024, 2023]})
    waiting_before = (await client.get("/dashboard/timeseries")).json()["minutes"]
    assert len(waiting_before) == 60
    assert waiting_before[-1]["waiting"] == 3
    await drain(local)
    minutes = (await client.get("/dashboard/timeseries")).json()["minutes"]
    assert len(minutes) == 60
    assert minutes == sorted(minutes, key=lambda m: m["minute"])
    assert sum(m["completed"] for m in minutes) == 2
    assert sum(m["failed"] for m in minutes) == 1
    assert minutes[-1]["waiting"] == 0
    latencies = [m["p95_seconds"] for m in minutes if m["p95_seconds"] is not None]
    assert latencies
    assert all(0 < p < 120 for p in latencies)
