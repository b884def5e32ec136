"""The embeddings queue end to end: analysis → risks stored → generate_embeddings → search.

Real Redis, Postgres, arq workers in burst mode and the real research agent over
the bundled fictional ACME filings; the lexical embedder keeps it fast (the
MiniLM runtime is tested in tests/test_embeddings_minilm.py).
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from arq import ArqRedis

import riskdrift
from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.models import AnalyzeRequest, JobStatus
from riskdrift.store import api_keys, jobs, results
from riskdrift.worker.settings import build_embeddings_worker_settings, build_worker_settings
from tests.conftest import burst_worker, serve

pytestmark = pytest.mark.integration

SAMPLES = Path(riskdrift.__file__).parent / "samples" / "filings"


@pytest.fixture
def esettings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"filings_dir": SAMPLES, "filings_source": "local", "embedder": "lexical"}
    )


async def drain(worker_settings: type) -> None:
    worker = burst_worker(worker_settings)
    try:
        async with asyncio.timeout(30):
            await worker.main()
    finally:
        await worker.close()


async def analyse(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings, *, tenant: str = "default"
) -> uuid.UUID:
    job, _ = await jobs.create_job(
        db, AnalyzeRequest(ticker="ACME", years=[2024, 2023]), tenant=tenant
    )
    await redis.enqueue_job(
        "analyze_risk_drift", str(job.id), _job_id=str(job.id), _queue_name=settings.queue_name
    )
    await drain(build_worker_settings(settings))
    finished = await jobs.get_job(db, job.id)
    assert finished is not None
    assert finished.status is JobStatus.COMPLETED
    return job.id


async def queued(redis: ArqRedis, settings: Settings) -> int:
    return int(await redis.zcard(settings.embeddings_queue_name))


async def test_analysis_to_search(db: asyncpg.Pool, redis: ArqRedis, esettings: Settings) -> None:
    await analyse(db, redis, esettings)
    filings = await db.fetch("SELECT id, year, risk_count FROM filings ORDER BY year")
    assert [f["year"] for f in filings] == [2023, 2024]
    risks = await db.fetchval("SELECT count(*) FROM risk_factors")
    assert risks == sum(f["risk_count"] for f in filings) > 5
    assert await queued(redis, esettings) == 2  # one generate_embeddings per filing

    await drain(build_embeddings_worker_settings(esettings))
    # Counted from the text form so it holds for real[] ("{…}") and pgvector ("[…]") alike:
    # the embedded PostgreSQL (pgserver) ships pgvector, the Debian server does not.
    stored = await db.fetch(
        "SELECT model, dimensions, length(embedding::text) - "
        "length(replace(embedding::text, ',', '')) + 1 AS n FROM risk_embeddings"
    )
    assert len(stored) == risks
    assert {(r["model"], r["dimensions"], r["n"]) for r in stored} == {
        ("lexical-hash-v1-2048", 2048, 2048)
    }

    title = await db.fetchval(
        "SELECT r.title FROM risk_factors r JOIN filings f ON f.id = r.filing_id "
        "WHERE f.year = 2024 ORDER BY r.position LIMIT 1"
    )
    async with serve(create_app(esettings)) as url, httpx.AsyncClient(base_url=url) as client:
        answer = await client.get("/risks/search", params={"q": title, "year": 2024})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["model"] == "lexical-hash-v1-2048"
        top = body["results"][0]
        assert (top["ticker"], top["year"], top["title"]) == ("ACME", 2024, title)
        assert top["score"] > 0.3  # the title alone against title + body
        assert {"company", "category", "section", "excerpt"} <= set(top)
        scores = [r["score"] for r in body["results"]]
        assert scores == sorted(scores, reverse=True)


async def test_reruns_are_idempotent(
    db: asyncpg.Pool, redis: ArqRedis, esettings: Settings
) -> None:
    await analyse(db, redis, esettings)
    await drain(build_embeddings_worker_settings(esettings))
    before = await db.fetch("SELECT risk_id, created_at FROM risk_embeddings ORDER BY risk_id")
    risk_ids = await db.fetch("SELECT id FROM risk_factors ORDER BY id")

    # The same analysis again (another job): same filing rows, same risks, nothing re-embedded.
    await analyse(db, redis, esettings)
    assert await db.fetchval("SELECT count(*) FROM filings") == 2
    assert await db.fetch("SELECT id FROM risk_factors ORDER BY id") == risk_ids
    assert await db.fetchval("SELECT count(*) FROM job_filings") == 4
    await drain(build_embeddings_worker_settings(esettings))
    after = await db.fetch("SELECT risk_id, created_at FROM risk_embeddings ORDER BY risk_id")
    assert after == before

    # Another model embeds the same risks again, side by side; the first model's rows stay.
    other = esettings.model_copy(update={"lexical_dimensions": 256})
    for filing_id in await db.fetch("SELECT id FROM filings"):
        await redis.enqueue_job(
            "generate_embeddings", filing_id["id"], _queue_name=other.embeddings_queue_name
        )
    await drain(build_embeddings_worker_settings(other))
    counts = dict(
        await db.fetch("SELECT model, count(*) FROM risk_embeddings GROUP BY model")  # type: ignore[arg-type]
    )
    assert counts == {"lexical-hash-v1-2048": len(risk_ids), "lexical-hash-v1-256": len(risk_ids)}


async def test_search_filters_and_validation(
    db: asyncpg.Pool, redis: ArqRedis, esettings: Settings
) -> None:
    await analyse(db, redis, esettings)
    await drain(build_embeddings_worker_settings(esettings))
    async with serve(create_app(esettings)) as url, httpx.AsyncClient(base_url=url) as client:

        async def search(**params: object) -> httpx.Response:
            return await client.get("/risks/search", params={"q": "competition", **params})

        both = (await search(limit=100)).json()["results"]
        assert {r["year"] for r in both} == {2023, 2024}
        only = (await search(year=2023, limit=100)).json()["results"]
        assert only
        assert {r["year"] for r in only} == {2023}
        assert len((await search(limit=3)).json()["results"]) == 3
        assert (await search(ticker="nvda")).json()["results"] == []
        assert len((await search(ticker="acme")).json()["results"]) == 10

        for params, field in (
            ({"limit": 0}, "limit"),
            ({"limit": 101}, "limit"),
            ({"year": "soon"}, "year"),
            ({"year": 2147483648}, "year"),  # past int4: was a 500 from Postgres
            ({"year": 99999999999999999999}, "year"),
            ({"year": "²"}, "year"),  # str.isdigit() holds for it, int() refuses it
            ({"year": 1999}, "year"),
            ({"ticker": "$$"}, "ticker"),
        ):
            answer = await search(**params)
            assert answer.status_code == 422
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.json()["errors"][0]["field"] == field
        assert (await client.get("/risks/search")).status_code == 422
        assert (await search(sort="asc")).status_code == 400


async def test_search_is_per_tenant(db: asyncpg.Pool, redis: ArqRedis, esettings: Settings) -> None:
    await analyse(db, redis, esettings, tenant="tenant-a")
    await drain(build_embeddings_worker_settings(esettings))
    _, alice = await api_keys.create_key(db, name="alice", tenant="tenant-a")
    _, bob = await api_keys.create_key(db, name="bob", tenant="tenant-b")
    auth = esettings.model_copy(update={"auth_enabled": True})
    async with serve(create_app(auth)) as url, httpx.AsyncClient(base_url=url) as client:

        async def search(key: str | None) -> httpx.Response:
            headers = {"authorization": f"Bearer {key}"} if key else {}
            return await client.get("/risks/search", params={"q": "supplier"}, headers=headers)

        assert (await search(None)).status_code == 401
        assert len((await search(alice)).json()["results"]) == 10
        assert (await search(bob)).json()["results"] == []

        # Once tenant-b analyses the same filing it sees its risks too; tenant-a is unchanged.
        # Its job is answered from the result cache, which keeps the risk texts for this.
        second = await analyse(
            db, redis, esettings.model_copy(update={"result_cache": True}), tenant="tenant-b"
        )
        cached = await results.get_result(db, second)
        assert cached is not None
        assert cached.cached
        assert len((await search(bob)).json()["results"]) == 10
        assert len((await search(alice)).json()["results"]) == 10


async def test_search_unavailable_when_the_embedder_cannot_load(
    db: asyncpg.Pool, esettings: Settings, tmp_path: Path
) -> None:
    broken = esettings.model_copy(update={"embedder": "minilm", "minilm_path": tmp_path})
    async with serve(create_app(broken)) as url, httpx.AsyncClient(base_url=url) as client:
        answer = await client.get("/risks/search", params={"q": "x"})
        assert answer.status_code == 503
        assert "model.safetensors" in answer.json()["detail"]
        assert (await client.get("/healthz")).status_code == 200


async def test_cli_search(
    db: asyncpg.Pool,
    redis: ArqRedis,
    esettings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from riskdrift.cli import main

    await analyse(db, redis, esettings)
    await drain(build_embeddings_worker_settings(esettings))
    async with serve(create_app(esettings)) as url:
        argv = [
            "search",
            "anvils and rockets demand",
            "--api",
            url,
            "--year",
            "2024",
            "--limit",
            "2",
        ]
        assert await asyncio.to_thread(main, argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert all(" ACME 2024 " in line for line in lines)


async def test_embeddings_worker_publishes_like_the_analysis_workers(
    redis: ArqRedis, esettings: Settings
) -> None:
    """It shows in the dashboard's worker list and /metrics, with its busy-slot seconds."""
    from riskdrift.ops.cluster import live_workers
    from tests.conftest import eventually, running_worker

    queue = esettings.embeddings_queue_name
    async with running_worker(build_embeddings_worker_settings(esettings)):

        async def listed() -> bool:
            return len(await live_workers(redis, queue, stale_after=5)) == 1

        await eventually(listed, deadline=15)
        [worker] = await live_workers(redis, queue, stale_after=5)
        assert worker.max_jobs == esettings.worker_max_jobs
        assert worker.busy == 0
    assert await live_workers(redis, queue, stale_after=5) == []  # withdrawn on shutdown
