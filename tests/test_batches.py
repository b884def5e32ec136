"""Batches over real Postgres and Redis: the API served by uvicorn, a real arq worker running
the real research agent on the local corpus (tests/corpus.py)."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from arq import ArqRedis

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.models import AnalysisResult
from riskdrift.queue.keys import batch_stream_key
from riskdrift.worker.settings import build_worker_settings
from tests.conftest import burst_worker, eventually, running_worker, serve
from tests.corpus import REAL10K, needs_corpus

pytestmark = pytest.mark.integration

# The corpus companies that have fiscal 2024 and 2023, and two that lack 2023.
HAVE_2024_2023 = ["AMZN", "HD", "IBM", "META", "NVDA", "TSLA"]
LACK_2023 = ["AAPL", "WMT"]
# Twelve more companies for a 20-company batch: each files one of the six's 10-Ks.
ALIASES = {f"SYN{i:02d}": HAVE_2024_2023[i % len(HAVE_2024_2023)] for i in range(12)}


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(create_app(settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield http


def corpus_settings(settings: Settings, filings_dir: Path = REAL10K) -> Settings:
    return settings.model_copy(update={"filings_dir": filings_dir, "filings_source": "local"})


@pytest.fixture
def twenty_companies(tmp_path: Path) -> Path:
    """A filings directory of the eight corpus companies and the twelve ALIASES."""
    root = tmp_path / "filings"
    root.mkdir()
    for ticker in HAVE_2024_2023 + LACK_2023:
        (root / ticker).symlink_to(REAL10K / ticker, target_is_directory=True)
    for alias, ticker in ALIASES.items():
        (root / alias).symlink_to(REAL10K / ticker, target_is_directory=True)
    return root


@contextlib.asynccontextmanager
async def worker(settings: Settings, filings_dir: Path = REAL10K) -> AsyncIterator[None]:
    """A running worker on the corpus; on the way out it first lets the jobs it holds end
    (a job's last steps, e.g. queueing its embeddings, follow its terminal event)."""
    worker_settings = build_worker_settings(corpus_settings(settings, filings_dir))
    async with running_worker(worker_settings) as running:
        yield

        async def idle() -> bool:
            # arq's run_job tasks too: a job's function may have returned while its
            # run_job still records the result, and close() would cancel that step.
            tasks = [*running.job_tasks.values(), *running.tasks.values()]
            return all(task.done() for task in tasks)

        await eventually(idle, deadline=30)


Frame = tuple[str, str, dict[str, Any]]


async def read_sse(
    client: httpx.AsyncClient, url: str, *, last_event_id: str | None = None
) -> tuple[int, list[Frame]]:
    """Every event frame of one SSE response until the server ends it."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    frames: list[Frame] = []
    async with client.stream("GET", url, headers=headers, timeout=300) as response:
        if response.status_code != 200:
            return response.status_code, frames
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line == "":
                if "event" in fields:
                    frames.append((fields["id"], fields["event"], json.loads(fields["data"])))
                fields = {}
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
    return 200, frames


@needs_corpus
async def test_a_batch_over_the_corpus_completes_with_its_csv_and_stream(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Pool, twenty_companies: Path
) -> None:
    tickers = HAVE_2024_2023 + LACK_2023 + list(ALIASES)
    assert len(tickers) == 20
    accepted = await client.post("/batches", json={"tickers": tickers, "years": [2024, 2023]})
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    assert accepted.headers["location"] == f"/batches/{batch_id}"
    job_ids = accepted.json()["job_ids"]
    assert len(job_ids) == len(tickers)
    # Ordinary jobs: each in /jobs, queued
    listed = (await client.get("/jobs", params={"limit": 50})).json()["jobs"]
    assert {j["job_id"] for j in listed} == set(job_ids)
    assert {j["batch_id"] for j in listed} == {batch_id}
    alone = await client.post("/analyze", json={"ticker": "AAPL", "years": [2024, 2023]})
    assert (await client.get(f"/jobs/{alone.json()['job_id']}")).json()["batch_id"] is None
    assert (await client.post(f"/jobs/{alone.json()['job_id']}/cancel")).status_code == 200

    async with worker(settings, twenty_companies):
        status, frames = await read_sse(client, f"/batches/{batch_id}/stream")
    assert status == 200

    names = [name for _, name, _ in frames]
    # One aggregate event per state change: queued→processing, then →completed|failed.
    assert names == ["batch_progress"] * (2 * len(tickers)) + ["batch_completed"]
    per_job: dict[str, list[str]] = defaultdict(list)
    for _, _, data in frames[:-1]:
        per_job[data["job_id"]].append(data["status"])
    assert set(per_job) == set(job_ids)
    finished_seen = [data["finished"] for _, _, data in frames]
    assert finished_seen == sorted(finished_seen), "counts never go backwards"
    final = frames[-1][2]
    assert final["counts"] == {
        "queued": 0,
        "processing": 0,
        "completed": 18,
        "failed": 2,
        "cancelled": 0,
    }
    for _, _, data in frames[:-1]:
        counts = data["counts"]
        assert sum(counts.values()) == len(tickers)

    # Resumable: from the 5th entry, exactly the rest; after the end, 204.
    status, rest = await read_sse(client, f"/batches/{batch_id}/stream", last_event_id=frames[4][0])
    assert status == 200
    assert rest == frames[5:]
    status, _ = await read_sse(client, f"/batches/{batch_id}/stream", last_event_id=frames[-1][0])
    assert status == 204

    batch = (await client.get(f"/batches/{batch_id}")).json()
    assert batch["status"] == "completed"
    assert batch["progress"] == 100
    assert batch["counts"]["completed"] == 18
    assert batch["counts"]["failed"] == 2
    assert batch["finished_at"] is not None
    assert sorted(f["ticker"] for f in batch["failures"]) == LACK_2023
    assert all("2023" in (f["error"] or "") for f in batch["failures"]), batch["failures"]

    csv_response = await client.get(f"/batches/{batch_id}/results.csv")
    assert csv_response.status_code == 200
    assert csv_response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    assert [r["ticker"] for r in rows] == sorted(tickers)
    json_rows = (await client.get(f"/batches/{batch_id}/results.json")).json()["rows"]
    assert [r["ticker"] for r in json_rows] == sorted(tickers)
    for row in rows:
        assert (row["current_year"], row["previous_year"]) == ("2024", "2023")
        if row["ticker"] in LACK_2023:
            assert row["status"] == "failed"
            assert row["error"]
            assert row["risks_new"] == row["similarity_cosine"] == ""
            continue
        assert row["status"] == "completed", row
        raw = await client.get(f"/jobs/{row['job_id']}/result")
        result = AnalysisResult.model_validate_json(raw.content)
        statuses = [r.status for r in result.risks]
        assert int(row["risks_new"]) == statuses.count("new")
        assert int(row["risks_removed"]) == statuses.count("removed")
        assert int(row["risks_modified"]) == statuses.count("modified")
        assert float(row["similarity_cosine"]) == pytest.approx(result.similarity.cosine)
        drift: dict[str, float] = defaultdict(float)
        for risk in result.risks:
            if risk.status != "unchanged":
                drift[risk.category] += risk.drift_score
        expected = min(drift, key=lambda c: (-drift[c], c)) if drift else ""
        assert row["top_drift_category"] == expected
        top = result.material_changes[0] if result.material_changes else None
        assert row["top_materiality"] == ("" if top is None else str(top.score))
        assert row["top_material_kind"] == ("" if top is None else top.kind)
        assert row["error"] == ""
        assert row["cached"] == "False"

    # The same batch again is answered from the result cache, pair by pair.
    again = await client.post("/batches", json={"tickers": tickers, "years": [2024, 2023]})
    assert again.status_code == 202, again.text
    again_id = again.json()["batch_id"]
    async with worker(settings, twenty_companies):
        await read_sse(client, f"/batches/{again_id}/stream")
    cached_rows = (await client.get(f"/batches/{again_id}/results.json")).json()["rows"]
    by_ticker = {r["ticker"]: r for r in json_rows}
    for row in cached_rows:
        if row["ticker"] in LACK_2023:  # a failure is never cached: tried again, fails again
            assert (row["status"], row["cached"]) == ("failed", None)
            continue
        assert (row["status"], row["cached"]) == ("completed", True), row
        first = by_ticker[row["ticker"]]
        assert {k: v for k, v in row.items() if k not in ("job_id", "cached")} == {
            k: v for k, v in first.items() if k not in ("job_id", "cached")
        }


async def test_cancel_stops_the_jobs_not_started(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Pool, redis: ArqRedis
) -> None:
    accepted = await client.post(
        "/batches", json={"ticker": "NVDA", "from_year": 2020, "to_year": 2025}
    )
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    assert accepted.json()["total"] == 5
    response = await client.post(f"/batches/{batch_id}/cancel")
    assert response.status_code == 200
    assert response.json()["counts"]["cancelled"] == 5
    assert response.json()["status"] == "completed"
    status, frames = await read_sse(client, f"/batches/{batch_id}/stream")
    assert status == 200
    assert [n for _, n, _ in frames] == ["batch_progress"] * 5 + ["batch_completed"]
    assert {d["status"] for _, _, d in frames[:-1]} == {"cancelled"}
    # The worker then finds every job cancelled and runs none of them.
    drain = burst_worker(build_worker_settings(corpus_settings(settings)))
    try:
        await drain.main()
    finally:
        await drain.close()
    rows = await db.fetch(
        "SELECT status, attempts FROM jobs WHERE batch_id = $1", uuid.UUID(batch_id)
    )
    assert [(r["status"], r["attempts"]) for r in rows] == [("cancelled", 0)] * 5
    batch = (await client.get(f"/batches/{batch_id}")).json()
    assert batch["finished_at"] is not None
    # Cancelling again cancels nothing more.
    again = await client.post(f"/batches/{batch_id}/cancel")
    assert again.json()["counts"]["cancelled"] == 5


async def test_a_trimmed_batch_stream_resyncs_with_the_batch_then_ends(
    client: httpx.AsyncClient, redis: ArqRedis
) -> None:
    """Like a job stream: where the client's next entries were trimmed away it gets the
    batch's current view as a ``resync`` event, then what is kept; never a silent gap."""
    accepted = await client.post(
        "/batches", json={"ticker": "NVDA", "from_year": 2020, "to_year": 2025}
    )
    batch_id = accepted.json()["batch_id"]
    assert (await client.post(f"/batches/{batch_id}/cancel")).status_code == 200
    status, frames = await read_sse(client, f"/batches/{batch_id}/stream")
    assert [n for _, n, _ in frames] == ["batch_progress"] * 5 + ["batch_completed"]
    await redis.xtrim(batch_stream_key(batch_id), maxlen=3, approximate=False)

    status, got = await read_sse(client, f"/batches/{batch_id}/stream",
                                 last_event_id=frames[1][0])  # fmt: skip
    assert status == 200
    assert [n for _, n, _ in got] == ["resync", "batch_completed"]
    view = got[0][2]
    assert (view["batch_id"], view["status"], view["total"]) == (batch_id, "completed", 5)
    assert view["counts"]["cancelled"] == 5
    assert got[1] == frames[-1]
    # Inside what is kept, resuming is exact; after the end, 204.
    status, got = await read_sse(client, f"/batches/{batch_id}/stream",
                                 last_event_id=frames[-3][0])  # fmt: skip
    assert got == frames[-2:]
    status, _ = await read_sse(client, f"/batches/{batch_id}/stream",
                               last_event_id=frames[-1][0])  # fmt: skip
    assert status == 204


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tickers": [], "years": [2024, 2023]}, "tickers"),
        ({"tickers": [f"T{i}" for i in range(1001)], "years": [2024, 2023]}, "tickers"),
        ({"tickers": ["AAPL", "MSFT", "aapl"], "years": [2024, 2023]}, "tickers"),
        ({"tickers": ["AAPL"], "years": [2024, 2024]}, "body"),
        ({"tickers": ["AAPL"], "years": [1999, 1998]}, "body"),
        ({"tickers": ["AAPL"]}, "body"),
        ({"ticker": "BA", "from_year": 2025, "to_year": 2015}, "body"),
        ({"ticker": "BA", "from_year": 2015}, "body"),
        ({"ticker": "BA", "from_year": 2015, "to_year": 2025, "tickers": ["X"]}, "body"),
        ({"tickers": ["not a ticker!"], "years": [2024, 2023]}, "tickers"),
    ],
)
async def test_bad_batches_get_a_problem_and_create_nothing(
    client: httpx.AsyncClient,
    db: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
    body: dict[str, Any],
    field: str,
) -> None:
    response = await client.post("/batches", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    fields = {e["field"] or "body" for e in problem["errors"]}
    assert any(f.startswith(field) or field == "body" for f in fields), problem
    assert await db.fetchval("SELECT count(*) FROM batches") == 0
    assert await db.fetchval("SELECT count(*) FROM jobs") == 0
    assert await redis.zcard(settings.queue_name) == 0


async def test_idempotency_key_returns_the_same_batch(
    client: httpx.AsyncClient, db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    body = {"tickers": ["AAPL", "MSFT"], "years": [2024, 2023]}
    first = await client.post("/batches", json=body, headers={"Idempotency-Key": "k1"})
    again = await client.post("/batches", json=body, headers={"Idempotency-Key": "k1"})
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json() == first.json()
    other = await client.post(
        "/batches", json={**body, "years": [2025, 2024]}, headers={"Idempotency-Key": "k1"}
    )
    assert other.status_code == 422
    assert await db.fetchval("SELECT count(*) FROM jobs") == 2
    assert await redis.zcard(settings.queue_name) == 2


async def test_the_tenant_cap_counts_every_job_of_a_batch(
    settings: Settings, db: asyncpg.Pool, redis: ArqRedis
) -> None:
    capped = settings.model_copy(update={"max_queued_jobs_per_tenant": 3})
    async with (
        serve(create_app(capped)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as client,
    ):
        too_many = await client.post(
            "/batches", json={"tickers": ["A", "B", "C", "D"], "years": [2024, 2023]}
        )
        assert too_many.status_code == 429, too_many.text
        assert too_many.headers["content-type"] == "application/problem+json"
        assert await db.fetchval("SELECT count(*) FROM jobs") == 0
        fits = await client.post(
            "/batches", json={"tickers": ["A", "B", "C"], "years": [2024, 2023]}
        )
        assert fits.status_code == 202
        one_more = await client.post("/analyze", json={"ticker": "D", "years": [2024, 2023]})
        assert one_more.status_code == 429
    assert await redis.zcard(settings.queue_name) == 3


async def test_list_batches_pages_newest_first(client: httpx.AsyncClient) -> None:
    made = []
    for year in (2021, 2022, 2023):
        response = await client.post(
            "/batches", json={"tickers": ["AAPL"], "years": [year, year - 1]}
        )
        made.append(response.json()["batch_id"])
    first = (await client.get("/batches", params={"limit": 2})).json()
    assert [b["batch_id"] for b in first["batches"]] == made[::-1][:2]
    second = (
        await client.get("/batches", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [b["batch_id"] for b in second["batches"]] == made[:1]
    assert second["next_cursor"] is None
    assert (await client.get("/batches", params={"cursor": "???"})).status_code == 422
    assert (await client.get(f"/batches/{uuid.uuid4()}")).status_code == 404


async def test_the_last_job_sends_one_signed_batch_completed_webhook(
    settings: Settings, db: asyncpg.Pool
) -> None:
    from pydantic import SecretStr

    from tests.doubles import SECRET, ScriptedAgent, ScriptedReceiver, settings_for, tiny_result

    async def script(request: Any, progress: Any, n: int) -> AnalysisResult:
        return tiny_result(request)

    hooked = settings.model_copy(
        update={"webhook_secrets": [SecretStr(SECRET)], "webhook_allowed_cidrs": ["127.0.0.0/8"]}
    )
    receiver = ScriptedReceiver()
    async with (
        serve(receiver.app()) as hook_base,
        serve(create_app(hooked)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as client,
    ):
        accepted = await client.post(
            "/batches",
            json={
                "tickers": ["AAA", "BBB", "CCC"],
                "years": [2024, 2023],
                "callback_url": f"{hook_base}/hook",
            },
        )
        assert accepted.status_code == 202, accepted.text
        batch_id = accepted.json()["batch_id"]
        drain = burst_worker(settings_for(ScriptedAgent(script), hooked))
        try:
            async with asyncio.timeout(30):
                await drain.main()
        finally:
            await drain.close()

        async def delivered() -> bool:
            return len(receiver.received) >= 1

        await eventually(delivered, deadline=10)
        batch = (await client.get(f"/batches/{batch_id}")).json()
    [hook] = receiver.received
    assert hook.verified
    body = json.loads(hook.body)
    assert body["type"] == "batch.completed"
    assert body["data"]["batch_id"] == batch_id
    assert body["data"]["counts"]["completed"] == 3
    assert hook.headers["webhook-id"] == f"msg_batch_{uuid.UUID(batch_id).hex}"
    assert batch["status"] == "completed"
    assert batch["finished_at"] is not None
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries") == 1


@needs_corpus
async def test_cli_submit_follow_shows_the_batch_and_its_failures(
    client: httpx.AsyncClient, settings: Settings, tmp_path: Path
) -> None:
    from tests.processes import run_cli, service_env

    tickers = tmp_path / "tickers.txt"
    tickers.write_text("# two companies\nHD\nAAPL, \n")
    async with worker(settings):
        run = await asyncio.to_thread(
            run_cli,
            service_env(settings),
            "batch",
            "submit",
            str(tickers),
            "--years",
            "2024",
            "2023",
            "--follow",
            "--api",
            str(client.base_url),
            timeout=240,
        )
    assert run.returncode == 1, run.stdout + run.stderr  # one pair failed
    out = run.stdout
    assert "2 jobs queued" in out
    assert "failed AAPL:" in out
    assert "fiscal 2023" in out
    assert "completed 1" in out
    assert "failed 1" in out
    listed = (await client.get("/batches")).json()["batches"]
    assert [b["counts"]["completed"] for b in listed] == [1]


async def test_reports_are_idempotent_and_a_finished_job_stays_finished(
    redis: ArqRedis, settings: Settings
) -> None:
    from riskdrift.events.batch_progress import (
        batch_stream_key,
        queue_batch_links,
        queue_discard_batch,
        report_state,
    )
    from riskdrift.models import JobStatus

    batch_id, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    options = {"maxlen": 1000, "ttl": 60}
    async with redis.pipeline(transaction=False) as pipe:
        queue_batch_links(pipe, batch_id, [(first, "AAA"), (second, "BBB")], total=2, ttl=60)
        await pipe.execute()
    try:
        assert await report_state(redis, uuid.uuid4(), JobStatus.COMPLETED, **options) is None
        assert await report_state(redis, first, JobStatus.PROCESSING, **options) is False
        assert await report_state(redis, first, JobStatus.PROCESSING, **options) is False
        assert await report_state(redis, first, JobStatus.FAILED, error="boom", **options) is False
        # A finished job is not moved again, by a late or a duplicate report.
        assert await report_state(redis, first, JobStatus.COMPLETED, **options) is False
        assert await report_state(redis, second, JobStatus.CANCELLED, **options) is True
        assert await report_state(redis, second, JobStatus.CANCELLED, **options) is False
        entries = await redis.xrange(batch_stream_key(batch_id))
        events = [(e[b"event"].decode(), json.loads(e[b"data"])) for _, e in entries]
        assert [(name, data.get("status")) for name, data in events] == [
            ("batch_progress", "processing"),
            ("batch_progress", "failed"),
            ("batch_progress", "cancelled"),
            ("batch_completed", None),
        ]
        assert events[1][1]["error"] == "boom"
        assert events[1][1]["ticker"] == "AAA"
        assert events[-1][1]["counts"] == {
            "queued": 0,
            "processing": 0,
            "completed": 0,
            "failed": 1,
            "cancelled": 1,
        }
    finally:
        async with redis.pipeline(transaction=False) as pipe:
            queue_discard_batch(pipe, batch_id, [first, second])
            await pipe.execute()


async def test_the_rate_limit_counts_a_batch_per_started_block_of_jobs(
    settings: Settings, db: asyncpg.Pool
) -> None:
    from riskdrift.store import api_keys

    limited = settings.model_copy(
        update={
            "auth_enabled": True,
            "submit_rate_limit": "5/minute",
            "batch_jobs_per_submission": 2,
        }
    )
    # The limiter's Redis keys are per key digest: a fresh key starts with a full window.
    _, key = await api_keys.create_key(db, name="batches", tenant="tenant-b")
    auth = {"Authorization": f"Bearer {key}"}
    async with (
        serve(create_app(limited)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10, headers=auth) as client,
    ):
        eleven = {"tickers": [f"T{c}" for c in "ABCDEFGHIJK"], "years": [2024, 2023]}
        too_big = await client.post("/batches", json=eleven)  # 6 submissions > 5
        assert too_big.status_code == 429
        assert "exceeds the submission rate limit" in too_big.json()["detail"]
        three = {"tickers": list("ABC"), "years": [2024, 2023]}  # 2 submissions
        assert (await client.post("/batches", json=three)).status_code == 202
        assert (await client.post("/batches", json=three)).status_code == 202  # 4 ≤ 5
        again = await client.post("/batches", json=three)  # 4 + 2 > 5 in the window
        assert again.status_code == 429
        assert again.headers["content-type"] == "application/problem+json"
        single = await client.post("/analyze", json={"ticker": "D", "years": [2024, 2023]})
        assert single.status_code == 202  # 4 + 1 ≤ 5
    assert await db.fetchval("SELECT count(*) FROM jobs") == 7


async def test_a_batch_of_1000_tickers_is_accepted_at_the_default_limits(
    settings: Settings, db: asyncpg.Pool
) -> None:
    """The README's promise: the largest batch passes the default rate limit and queue cap,
    even right after other submissions of the same key."""
    from riskdrift.store import api_keys

    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    limited = settings.model_copy(
        update={
            "auth_enabled": True,
            "submit_rate_limit": defaults.submit_rate_limit,
            "batch_jobs_per_submission": defaults.batch_jobs_per_submission,
            "max_queued_jobs_per_tenant": defaults.max_queued_jobs_per_tenant,
        }
    )
    _, key = await api_keys.create_key(db, name="big", tenant="tenant-big")
    auth = {"Authorization": f"Bearer {key}"}
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    tickers = [f"{a}{b}{c}" for a in letters for b in letters for c in letters][:1000]
    async with (
        serve(create_app(limited)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30, headers=auth) as client,
    ):
        for ticker in ("AAPL", "MSFT", "NVDA"):
            single = await client.post("/analyze", json={"ticker": ticker, "years": [2024, 2023]})
            assert single.status_code == 202
        big = await client.post("/batches", json={"tickers": tickers, "years": [2024, 2023]})
        assert big.status_code == 202, big.text
    assert await db.fetchval("SELECT count(*) FROM jobs") == 1003
