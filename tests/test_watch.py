"""The filing watch (issue 24) over real Postgres and Redis.

The first tests drive the cron function itself (:func:`poll_watchlists`) on a local
filing directory of synthetic files (listing never parses them); the last runs the real
thing: two worker processes running the cron at ``RISKDRIFT_WATCH_INTERVAL=2`` over
NVIDIA's real 10-Ks, the API serving the watchlist, a restart, a deleted watchlist.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from arq import ArqRedis
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.queue import queued_job_ids
from riskdrift.sources.edgar import EdgarFilingSource, RetryPolicy
from riskdrift.store import watchlists
from riskdrift.store.watchlists import DueCompany
from riskdrift.watch.backfill import submit_backfill
from riskdrift.watch.listing import EdgarLister, LocalLister
from riskdrift.watch.scheduler import (
    WatchContext,
    announce_analyses,
    poll_company,
    poll_watchlists,
    watch_job_id,
)
from tests.conftest import burst_worker, eventually, serve
from tests.corpus import REAL10K, needs_corpus
from tests.doubles import SECRET, ScriptedReceiver
from tests.doubles.edgar import FIXTURES, FakeEdgar
from tests.processes import service_env, spawn, stop
from tests.sources.localserver import serve as serve_fake

pytestmark = pytest.mark.integration


def publish(root: Path, ticker: str, year: int, text: str = "<html>10-K</html>") -> None:
    """A filing appearing in the local directory: written aside, then renamed into place."""
    folder = root / ticker
    folder.mkdir(parents=True, exist_ok=True)
    part = folder / f".{year}.part"
    part.write_text(text)
    os.replace(part, folder / f"{year}.html")


@pytest.fixture
def filings(tmp_path: Path) -> Path:
    root = tmp_path / "filings"
    root.mkdir()
    return root


@pytest.fixture
def ctx(db: asyncpg.Pool, redis: ArqRedis, settings: Settings, filings: Path) -> WatchContext:
    watch_settings = settings.model_copy(
        update={"filings_dir": filings, "filings_source": "local", "watch_interval": 60}
    )
    return WatchContext(
        pool=db, redis=redis, settings=watch_settings, watch_lister=LocalLister([filings])
    )


async def make_watchlist(
    db: asyncpg.Pool, tickers: list[str], tenant: str = "default"
) -> uuid.UUID:
    created = await watchlists.create_watchlist(
        db,
        tenant=tenant,
        name=f"w-{uuid.uuid4().hex[:6]}",
        tickers=tickers,
        forms=["10-K"],
        callback_url=None,
        backfill_years=None,
        max_companies=100,
        max_watchlists=100,
    )
    return created.id


async def make_due(db: asyncpg.Pool) -> None:
    """The next tick's companies: every one due now (instead of waiting an interval)."""
    await db.execute("UPDATE watchlist_companies SET next_poll_at = now()")


async def watch_jobs(db: asyncpg.Pool) -> list[asyncpg.Record]:
    return await db.fetch(
        """SELECT id, ticker, current_year, previous_year, status, trigger, watchlist_id
           FROM jobs ORDER BY ticker, current_year"""
    )


async def company(db: asyncpg.Pool, watchlist_id: uuid.UUID, ticker: str) -> dict[str, Any]:
    found = await watchlists.companies(db, [watchlist_id])
    state = next(c for c in found[watchlist_id] if c.ticker == ticker)
    return {"status": state.status, "error": state.last_error, "year": state.last_filing_year}


async def test_first_poll_is_a_baseline_then_a_new_filing_starts_one_job(
    ctx: WatchContext, db: asyncpg.Pool, redis: ArqRedis, filings: Path, settings: Settings
) -> None:
    publish(filings, "NVDA", 2023)
    publish(filings, "NVDA", 2024)
    watchlist_id = await make_watchlist(db, ["NVDA"])
    counts = await poll_watchlists(ctx)
    assert counts == {"polled": 1, "started": 0, "failed": 0}
    assert await watch_jobs(db) == []
    assert await company(db, watchlist_id, "NVDA") == {
        "status": "watching",
        "error": None,
        "year": 2024,
    }
    # Not due again before its interval.
    assert (await poll_watchlists(ctx))["polled"] == 0

    publish(filings, "NVDA", 2025)
    await make_due(db)
    assert (await poll_watchlists(ctx))["started"] == 1
    [job] = await watch_jobs(db)
    assert (job["ticker"], job["current_year"], job["previous_year"]) == ("NVDA", 2025, 2024)
    assert (job["status"], job["trigger"], job["watchlist_id"]) == ("queued", "watch", watchlist_id)
    assert job["id"] == watch_job_id(watchlist_id, "NVDA", "local:2025")
    # Enqueued as POST /analyze enqueues: in the queue, with its job_queued event.
    assert str(job["id"]) in await queued_job_ids(redis, settings.queue_name)

    # More polls, and two pollers at once: nothing new.
    for _ in range(3):
        await make_due(db)
        results = await asyncio.gather(poll_watchlists(ctx), poll_watchlists(ctx))
        assert sum(r["polled"] for r in results) == 1  # the claim gave it to one of them
        assert sum(r["started"] for r in results) == 0
    assert len(await watch_jobs(db)) == 1


async def test_a_filing_seen_by_two_pollers_at_once_starts_one_job(
    ctx: WatchContext, db: asyncpg.Pool, filings: Path
) -> None:
    """The claim aside (both pollers hold the company, as after a lease ran out during a
    slow poll), the filing's key still admits one job."""
    publish(filings, "IBM", 2023)
    watchlist_id = await make_watchlist(db, ["IBM"])
    await poll_watchlists(ctx)
    publish(filings, "IBM", 2024)
    await make_due(db)
    [due] = await watchlists.claim_due(db, lease=60, limit=10)
    assert due.watchlist_id == watchlist_id
    started = await asyncio.gather(*(poll_company(ctx, due) for _ in range(4)))
    assert sum(len(s) for s in started) == 1
    assert len(await watch_jobs(db)) == 1


async def test_failures_stay_with_their_company_and_back_off(
    ctx: WatchContext, db: asyncpg.Pool, filings: Path
) -> None:
    publish(filings, "META", 2023)
    watchlist_id = await make_watchlist(db, ["META", "NOPE"])
    counts = await poll_watchlists(ctx)
    assert counts == {"polled": 2, "started": 0, "failed": 1}
    nope = await company(db, watchlist_id, "NOPE")
    assert nope["status"] == "unknown_ticker"
    assert "no filings directory for NOPE" in nope["error"]
    backoff = await db.fetchval(
        """SELECT extract(epoch FROM next_poll_at - last_polled_at) FROM watchlist_companies
           WHERE ticker = 'NOPE'"""
    )
    assert backoff >= 60  # watch_interval × 2^0, not the next tick

    publish(filings, "META", 2024)
    await make_due(db)
    counts = await poll_watchlists(ctx)
    assert counts == {"polled": 2, "started": 1, "failed": 1}
    assert [j["ticker"] for j in await watch_jobs(db)] == ["META"]
    failures = await db.fetchval("SELECT failures FROM watchlist_companies WHERE ticker = 'NOPE'")
    assert failures == 2
    # Its folder appears: the next poll takes it as its baseline.
    publish(filings, "NOPE", 2024)
    await make_due(db)
    await poll_watchlists(ctx)
    assert (await company(db, watchlist_id, "NOPE"))["status"] == "watching"
    assert len(await watch_jobs(db)) == 1


async def test_a_filing_without_its_previous_year_is_recorded_not_analysed(
    ctx: WatchContext, db: asyncpg.Pool, filings: Path
) -> None:
    publish(filings, "TSLA", 2020)
    watchlist_id = await make_watchlist(db, ["TSLA"])
    await poll_watchlists(ctx)
    publish(filings, "TSLA", 2024)  # 2023 never filed here
    await make_due(db)
    assert (await poll_watchlists(ctx))["started"] == 0
    skipped = await db.fetchval(
        "SELECT skipped FROM watch_filings WHERE watchlist_id = $1 AND filing_key = 'local:2024'",
        watchlist_id,
    )
    assert skipped == "no fiscal 2023 10-K to compare with"
    assert await watch_jobs(db) == []


async def test_a_deleted_watchlist_stops_and_its_jobs_stay(
    ctx: WatchContext, db: asyncpg.Pool, filings: Path
) -> None:
    publish(filings, "HD", 2022)
    publish(filings, "AMZN", 2022)
    kept = await make_watchlist(db, ["AMZN"])
    dropped = await make_watchlist(db, ["HD"])
    await poll_watchlists(ctx)
    publish(filings, "HD", 2023)
    await make_due(db)
    await poll_watchlists(ctx)
    [hd_2023] = await watch_jobs(db)
    assert await watchlists.delete_watchlist(db, dropped, tenant="default")
    publish(filings, "HD", 2024)
    publish(filings, "AMZN", 2023)
    await make_due(db)
    assert (await poll_watchlists(ctx)) == {"polled": 1, "started": 1, "failed": 0}
    rows = await watch_jobs(db)
    assert [(j["ticker"], j["current_year"], j["watchlist_id"]) for j in rows] == [
        ("AMZN", 2023, kept),
        ("HD", 2023, None),  # the job stays, its watchlist gone
    ]
    assert rows[1]["id"] == hd_2023["id"]


async def test_jobs_list_shows_the_trigger_and_watchlist(
    ctx: WatchContext, db: asyncpg.Pool, filings: Path, settings: Settings
) -> None:
    publish(filings, "IBM", 2023)
    watchlist_id = await make_watchlist(db, ["IBM"])
    await poll_watchlists(ctx)
    publish(filings, "IBM", 2024)
    await make_due(db)
    await poll_watchlists(ctx)
    async with (
        serve(create_app(settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        accepted = await http.post("/analyze", json={"ticker": "IBM", "years": [2024, 2023]})
        listed = (await http.get("/jobs")).json()["jobs"]
        shown = (await http.get(f"/watchlists/{watchlist_id}")).json()
    by_trigger = {j["trigger"]: j for j in listed}
    assert set(by_trigger) == {"api", "watch"}
    assert by_trigger["api"]["job_id"] == accepted.json()["job_id"]
    assert by_trigger["api"]["watchlist_id"] is None
    assert by_trigger["watch"]["watchlist_id"] == str(watchlist_id)
    [ibm] = shown["companies"]
    assert ibm["last_filing"]["key"] == "local:2024"
    assert ibm["last_job_id"] == by_trigger["watch"]["job_id"]


# --- the real thing: worker processes running the cron ---------------------------------------


@pytest.fixture
def receiver() -> ScriptedReceiver:
    return ScriptedReceiver()


@pytest.fixture
def hooked(settings: Settings) -> Settings:
    """Webhooks configured, to a receiver on loopback."""
    return settings.model_copy(
        update={"webhook_secrets": [SecretStr(SECRET)], "webhook_allowed_cidrs": ["127.0.0.0/8"]}
    )


@pytest.fixture
async def api(
    hooked: Settings, db: asyncpg.Pool, receiver: ScriptedReceiver
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(receiver.app()) as hook_base,
        serve(create_app(hooked)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        http.headers["x-test-hook"] = f"{hook_base}/hook"  # read back by the test
        yield http


@needs_corpus
async def test_two_workers_analyse_a_new_10k_once_across_polls_and_a_restart(
    api: httpx.AsyncClient,
    receiver: ScriptedReceiver,
    db: asyncpg.Pool,
    settings: Settings,
    filings: Path,
    tmp_path: Path,
) -> None:
    shutil.copy(REAL10K / "NVDA" / "2024.html", filings / "NVDA.2024.tmp")
    (filings / "NVDA").mkdir()
    os.replace(filings / "NVDA.2024.tmp", filings / "NVDA" / "2024.html")
    (filings / "AMZN").mkdir()
    shutil.copy(REAL10K / "AMZN" / "2023.html", filings / "AMZN" / "2023.html")
    env = service_env(
        settings,
        RISKDRIFT_FILINGS_DIR=str(filings),
        RISKDRIFT_FILINGS_SOURCE="local",
        RISKDRIFT_WATCH_INTERVAL="2",
        RISKDRIFT_ANALYSIS_PROCESSES="0",
        RISKDRIFT_RESULT_CACHE="false",
        RISKDRIFT_WORKER_SHUTDOWN_GRACE="5",
        RISKDRIFT_WEBHOOK_SECRETS=SECRET,
        RISKDRIFT_WEBHOOK_ALLOWED_CIDRS='["127.0.0.0/8"]',
    )
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(generation: int) -> list[Any]:
        return [spawn(["worker"], env, logs / f"worker-{generation}-{i}.log") for i in range(2)]

    async def polls_after(watchlist_id: str, polls: int) -> None:
        """Wait until the watch has polled the watchlist's companies ``polls`` more times."""
        for _ in range(polls):
            at = await db.fetchval("SELECT now()")
            await eventually(
                lambda at=at: polled_since_db(at, watchlist_id),  # type: ignore[misc]
                deadline=30,
                interval=0.2,
            )

    async def polled_since_db(at: Any, watchlist_id: str) -> bool:
        return bool(
            await db.fetchval(
                """SELECT bool_and(last_polled_at > $2) FROM watchlist_companies
                   WHERE watchlist_id = $1""",
                uuid.UUID(watchlist_id),
                at,
            )
        )

    async def nvda_jobs() -> list[dict[str, Any]]:
        listed = (await api.get("/jobs", params={"ticker": "NVDA"})).json()["jobs"]
        return [j for j in listed if j["trigger"] == "watch"]

    procs = start(1)
    try:
        hook = api.headers["x-test-hook"]
        created = await api.post(
            "/watchlists", json={"name": "nvidia", "tickers": ["NVDA"], "callback_url": hook}
        )
        assert created.status_code == 201, created.text
        nvidia = created.json()["watchlist_id"]
        other = await api.post("/watchlists", json={"name": "amazon", "tickers": ["AMZN"]})
        amazon = other.json()["watchlist_id"]

        async def baselined() -> bool:
            shown = (await api.get(f"/watchlists/{nvidia}")).json()
            [nvda] = shown["companies"]
            return bool(nvda["status"] == "watching")

        await eventually(baselined, deadline=60, interval=0.2)
        await polls_after(nvidia, 2)
        assert (await api.get("/jobs")).json()["jobs"] == []  # only the 2024 10-K: nothing

        # The amazon watchlist is deleted before its next 10-K appears: nothing for it.
        assert (await api.delete(f"/watchlists/{amazon}")).status_code == 204
        shutil.copy(REAL10K / "AMZN" / "2024.html", filings / "AMZN" / ".2024.part")
        os.replace(filings / "AMZN" / ".2024.part", filings / "AMZN" / "2024.html")
        shutil.copy(REAL10K / "NVDA" / "2025.html", filings / "NVDA" / ".2025.part")
        os.replace(filings / "NVDA" / ".2025.part", filings / "NVDA" / "2025.html")

        async def completed() -> bool:
            found = await nvda_jobs()
            return len(found) == 1 and found[0]["status"] == "completed"

        await eventually(completed, deadline=120, interval=0.5)
        [job] = await nvda_jobs()
        assert job["years"] == [2025, 2024]
        assert job["watchlist_id"] == nvidia
        result = (await api.get(f"/jobs/{job['job_id']}/result")).json()
        assert result["ticker"] == "NVDA"
        assert result["years"] == [2025, 2024]
        ranked = await api.get(f"/watchlists/{nvidia}/ranking", params={"year": 2025})
        assert [(r["job_id"], r["rank"], r["percentile"]) for r in ranked.json()["rows"]] == [
            (job["job_id"], 1, 50.0)
        ]
        assert ranked.json()["rows"][0]["similarity_cosine"] == result["similarity"]["cosine"]

        await polls_after(nvidia, 3)
        assert [j["job_id"] for j in await nvda_jobs()] == [job["job_id"]]

        async def announced() -> bool:
            return len(receiver.received) >= 1

        await eventually(announced, deadline=30, interval=0.2)
    finally:
        stop(procs)

    procs = start(2)
    try:
        await polls_after(nvidia, 3)
        listed = (await api.get("/jobs")).json()["jobs"]
        assert [j["job_id"] for j in listed] == [job["job_id"]]  # no AMZN job either
        shown = (await api.get(f"/watchlists/{nvidia}")).json()
        assert shown["companies"][0]["last_job_id"] == job["job_id"]
    finally:
        stop(procs)
    # One filing.analysed webhook, signed, for the one job, through every poll and restart.
    [webhook] = receiver.received
    assert webhook.verified
    body = json.loads(webhook.body)
    assert (body["type"], body["data"]["job_id"]) == ("filing.analysed", job["job_id"])
    for log in logs.glob("*.log"):
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


# --- EDGAR: the submissions index of a fake EDGAR that files new reports on demand ----------

NVDA_INDEX = "/data/submissions/CIK0001045810.json"
TSLA_INDEX = "/data/submissions/CIK0001318605.json"


@dataclass
class FilingEdgar(FakeEdgar):
    """The fake EDGAR whose submissions indexes leave out the ``unfiled`` accessions until
    a test files them, and answer ``If-None-Match`` with its ETag as EDGAR does."""

    unfiled: set[str] = field(default_factory=set)
    not_modified: int = 0
    request_etag: str | None = None
    # Filings a test writes itself: index path → rows added to its filings.recent, and
    # archive path → the document served there.
    added: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    added_documents: dict[str, bytes] = field(default_factory=dict)

    def file(
        self, cik: int, accession: str, form: str, period: str, document: str, body: bytes
    ) -> None:
        """A filing of the test's own, listed from now on and its document served."""
        index = f"/data/submissions/CIK{cik:010d}.json"
        self.added.setdefault(index, []).append(
            {
                "accessionNumber": accession,
                "form": form,
                "reportDate": period,
                "filingDate": "2025-06-02",
                "primaryDocument": document,
            }
        )
        folder = accession.replace("-", "")
        self.added_documents[f"/www/Archives/edgar/data/{cik}/{folder}/{document}"] = body

    def _serve(self, path: str) -> Response:
        if path in self.added_documents:
            return Response(self.added_documents[path], media_type="text/html")
        if not path.startswith("/data/submissions/CIK"):
            return super()._serve(path)
        file = FIXTURES / path.removeprefix("/data/submissions/")
        if not file.is_file():
            return super()._serve(path)
        data = json.loads(file.read_bytes())
        recent = data["filings"]["recent"]
        keep = [i for i, a in enumerate(recent["accessionNumber"]) if a not in self.unfiled]
        for name, column in recent.items():
            if isinstance(column, list):
                recent[name] = [column[i] for i in keep]
        for row in self.added.get(path, []):
            for name, column in recent.items():
                if isinstance(column, list):
                    column.insert(0, row.get(name, ""))  # EDGAR lists the newest first
        body = json.dumps(data).encode()
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
        if self.request_etag == etag:
            self.not_modified += 1
            return Response(status_code=304, headers={"ETag": etag})
        return Response(body, media_type="application/json", headers={"ETag": etag})

    async def _dispatch(self, request: Request) -> Response:
        self.request_etag = request.headers.get("if-none-match")
        return await super()._dispatch(request)


@pytest.fixture
async def edgar_ctx(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings, tmp_path: Path
) -> AsyncIterator[tuple[WatchContext, FilingEdgar]]:
    fake = FilingEdgar(corpus=REAL10K)
    async with serve_fake(fake.app()) as url:
        edgar_settings = settings.model_copy(
            update={
                "filings_source": "edgar",
                "edgar_user_agent": "riskdrift-tests ops@riskdrift.example",
                "edgar_base_url": f"{url}/www",
                "edgar_data_url": f"{url}/data",
                "edgar_cache_dir": tmp_path / "edgar",
                "edgar_requests_per_second": 1000.0,
                "edgar_timeout": 5.0,
                "watch_interval": 60,
            }
        )
        source = EdgarFilingSource(
            edgar_settings,
            retry=RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_max=0.01),
        )
        try:
            yield (
                WatchContext(
                    pool=db, redis=redis, settings=edgar_settings, watch_lister=EdgarLister(source)
                ),
                fake,
            )
        finally:
            await source.aclose()
            fake.release.set()


@needs_corpus  # the new filings' documents (read for their fiscal-year tag) are the corpus's
async def test_edgar_new_filing_backoff_pickup_and_amendment(
    edgar_ctx: tuple[WatchContext, FilingEdgar], db: asyncpg.Pool
) -> None:
    ctx, fake = edgar_ctx
    nvda_2025, tsla_amendment = "0001045810-25-000023", "0001104659-25-042659"
    fake.unfiled = {nvda_2025, tsla_amendment}
    created = await watchlists.create_watchlist(
        db,
        tenant="default",
        name="edgar",
        tickers=["NVDA", "TSLA", "ZZZZ"],
        forms=["10-K", "10-K/A"],
        callback_url=None,
        backfill_years=None,
        max_companies=10,
        max_watchlists=10,
    )
    assert await poll_watchlists(ctx) == {"polled": 3, "started": 0, "failed": 1}
    nvda = await company(db, created.id, "NVDA")
    assert nvda == {"status": "watching", "error": None, "year": 2024}  # FY ended 2024-01-28
    assert (await company(db, created.id, "ZZZZ"))["status"] == "unknown_ticker"
    assert await db.fetchval("SELECT cik FROM watchlist_companies WHERE ticker = 'NVDA'") == (
        "1045810"
    )

    # Nothing new: EDGAR answers 304 to the conditional request, no body.
    await make_due(db)
    assert (await poll_watchlists(ctx))["started"] == 0
    assert fake.not_modified == 2  # NVDA and TSLA

    # NVIDIA files its fiscal 2025 10-K while EDGAR fails: the poll backs off, TSLA is
    # polled all the same, and the filing is picked up by a later poll.
    fake.unfiled.discard(nvda_2025)
    fake.break_path(NVDA_INDEX, 503)
    await make_due(db)
    assert await poll_watchlists(ctx) == {"polled": 3, "started": 0, "failed": 2}
    failing = await company(db, created.id, "NVDA")
    assert failing["status"] == "failing"
    assert "503" in failing["error"]
    assert await db.fetchval(
        """SELECT next_poll_at - last_polled_at >= interval '60 seconds'
           FROM watchlist_companies WHERE ticker = 'NVDA'"""
    )
    assert (await company(db, created.id, "TSLA"))["status"] == "watching"
    del fake.broken[NVDA_INDEX]
    await make_due(db)
    assert (await poll_watchlists(ctx))["started"] == 1
    [job] = await watch_jobs(db)
    assert (job["ticker"], job["current_year"], job["previous_year"]) == ("NVDA", 2025, 2024)
    assert job["id"] == watch_job_id(created.id, "NVDA", nvda_2025)

    # EDGAR rate-limits NVIDIA's index with a long Retry-After: the poll fails at once and
    # its next one waits at least that long (longer than the interval's backoff here).
    fake.fail(NVDA_INDEX, 429, {"Retry-After": "900"})
    await make_due(db)
    assert (await poll_watchlists(ctx))["failed"] == 2  # NVDA and the unknown ticker
    assert "429" in (await company(db, created.id, "NVDA"))["error"]
    wait = await db.fetchval(
        """SELECT extract(epoch FROM next_poll_at - last_polled_at) FROM watchlist_companies
           WHERE ticker = 'NVDA'"""
    )
    assert 899 <= wait <= 901
    # The fault is spent: the next poll picks up where the last left off, nothing new.
    await make_due(db)
    assert (await poll_watchlists(ctx))["started"] == 0
    assert (await company(db, created.id, "NVDA"))["status"] == "watching"

    # Tesla amends its fiscal 2024 10-K with Part III alone (no Item 1A): the amendment is
    # seen, read, and replaces nothing (tests/test_amendments.py: one that restates Item 1A).
    fake.unfiled.discard(tsla_amendment)
    await make_due(db)
    assert (await poll_watchlists(ctx))["started"] == 0
    assert [j["ticker"] for j in await watch_jobs(db)] == ["NVDA"]
    seen = await db.fetchrow(
        "SELECT form, fiscal_year, job_id, skipped FROM watch_filings WHERE filing_key = $1",
        tsla_amendment,
    )
    assert dict(seen) == {
        "form": "10-K/A",
        "fiscal_year": 2024,
        "job_id": None,
        "skipped": "no Item 1A in the amendment; the original's analysis stands",
    }
    await make_due(db)
    assert (await poll_watchlists(ctx))["started"] == 0
    assert len(await watch_jobs(db)) == 1


# --- announcements: the filing.analysed webhook and the watchlist's stream --------------------


async def sse_frames(
    client: httpx.AsyncClient, url: str, count: int, *, last_event_id: str | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """The first ``count`` event frames of a stream that does not end by itself."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    frames: list[tuple[str, str, dict[str, Any]]] = []
    async with (
        asyncio.timeout(30),
        client.stream("GET", url, headers=headers) as response,
    ):
        assert response.status_code == 200
        fields: dict[str, str] = {}
        async for line in response.aiter_lines():
            if line == "":
                if "event" in fields:
                    frames.append((fields["id"], fields["event"], json.loads(fields["data"])))
                    if len(frames) == count:
                        return frames
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
    return frames


async def test_an_analysed_filing_is_announced_once_by_webhook_and_stream(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings, filings: Path
) -> None:
    from tests.doubles import ScriptedAgent, settings_for, tiny_result

    async def script(request: Any, progress: Any, n: int) -> Any:
        return tiny_result(request)

    hooked = settings.model_copy(
        update={
            "webhook_secrets": [SecretStr(SECRET)],
            "webhook_allowed_cidrs": ["127.0.0.0/8"],
            "filings_dir": filings,
            "filings_source": "local",
            "watch_interval": 60,
        }
    )
    ctx = WatchContext(pool=db, redis=redis, settings=hooked, watch_lister=LocalLister([filings]))
    worker_settings = settings_for(ScriptedAgent(script), hooked)

    async def drain() -> None:
        worker = burst_worker(worker_settings)
        try:
            async with asyncio.timeout(30):
                await worker.main()
        finally:
            await worker.close()

    receiver = ScriptedReceiver()
    publish(filings, "IBM", 2023)
    publish(filings, "HD", 2023)
    async with (
        serve(receiver.app()) as hook_base,
        serve(create_app(hooked)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as client,
    ):
        created = await client.post(
            "/watchlists",
            json={"name": "w", "tickers": ["IBM", "HD"], "callback_url": f"{hook_base}/hook"},
        )
        assert created.status_code == 201, created.text
        watchlist_id = created.json()["watchlist_id"]
        await poll_watchlists(ctx)  # the baseline
        publish(filings, "IBM", 2024)
        await make_due(db)
        assert (await poll_watchlists(ctx))["started"] == 1
        [job] = await watch_jobs(db)
        await drain()  # the analysis
        # Announced by this call, or by the burst worker's own announcing cron if a tick of
        # it fell after the job's end: either way once (webhook stored, attempt 1 queued).
        await announce_analyses(ctx)
        await drain()  # the delivery

        async def delivered() -> bool:
            return len(receiver.received) >= 1

        await eventually(delivered, deadline=10)
        for _ in range(2):  # later ticks announce nothing again
            await make_due(db)
            await poll_watchlists(ctx)
            assert await announce_analyses(ctx) == 0
            await drain()
        [hook] = receiver.received
        assert hook.verified
        assert hook.headers["webhook-id"] == f"msg_filing_{job['id'].hex}"
        body = json.loads(hook.body)
        assert body["type"] == "filing.analysed"
        data = body["data"]
        assert (data["watchlist_id"], data["ticker"], data["years"]) == (
            watchlist_id,
            "IBM",
            [2024, 2023],
        )
        assert (data["status"], data["error"]) == ("completed", None)
        assert data["filing"] == {"key": "local:2024", "form": "10-K", "fiscal_year": 2024}
        result = (await client.get(f"/jobs/{job['id']}/result")).json()
        assert data["similarity"] == result["similarity"]
        assert data["links"]["result"].endswith(f"/jobs/{job['id']}/result")
        assert (
            await db.fetchval(
                "SELECT count(*) FROM webhook_deliveries WHERE event_type = 'filing.analysed'"
            )
            == 1
        )

        url = f"/stream/watchlists/{watchlist_id}"
        [(first_id, name, event)] = await sse_frames(client, url, 1)
        assert (name, event["ticker"]) == ("filing_analysed", "IBM")
        assert event["job_id"] == str(job["id"])

        publish(filings, "HD", 2024)
        await make_due(db)
        await poll_watchlists(ctx)
        await drain()
        await announce_analyses(ctx)
        [(_, name, event)] = await sse_frames(client, url, 1, last_event_id=first_id)
        assert (name, event["ticker"], event["years"]) == ("filing_analysed", "HD", [2024, 2023])
        everything = await sse_frames(client, url, 2)
        assert [e["ticker"] for _, _, e in everything] == ["IBM", "HD"]
        missing = await client.get("/stream/watchlists/00000000-0000-0000-0000-000000000000")
        assert missing.status_code == 404


async def test_backfill_submits_the_history_as_one_batch_once(
    ctx: WatchContext, db: asyncpg.Pool, redis: ArqRedis, filings: Path, settings: Settings
) -> None:
    for year in (2021, 2022, 2023, 2024):
        publish(filings, "IBM", year)
    created = await watchlists.create_watchlist(
        db,
        tenant="default",
        name="history",
        tickers=["IBM"],
        forms=["10-K"],
        callback_url=None,
        backfill_years=2,
        max_companies=10,
        max_watchlists=10,
    )
    assert (await poll_watchlists(ctx))["started"] == 0  # the baseline starts no watch job
    [batch] = await db.fetch("SELECT id, kind, request, job_count FROM batches")
    assert (batch["kind"], batch["job_count"]) == ("history", 2)
    assert batch["request"] == {"ticker": "IBM", "from_year": 2022, "to_year": 2024}
    rows = await watch_jobs(db)
    assert [(j["current_year"], j["previous_year"], j["trigger"]) for j in rows] == [
        (2023, 2022, "api"),
        (2024, 2023, "api"),
    ]
    queued = await queued_job_ids(redis, settings.queue_name)
    assert {str(j["id"]) for j in rows} <= set(queued)
    # Later polls, and the same backfill submitted again (a retried first poll): nothing more.
    await make_due(db)
    await poll_watchlists(ctx)
    [company_row] = await watchlists.claim_due(db, lease=60, limit=10) or [None]
    assert company_row is None  # just polled, not due
    due = DueCompany(created.id, "default", "IBM", ("10-K",), None, None, True, 0)
    again = await submit_backfill(db, redis, ctx["settings"], due, latest=2024, years=2)
    assert again is None
    assert await db.fetchval("SELECT count(*) FROM batches") == 1
    assert len(await watch_jobs(db)) == 2


async def test_the_workers_lister_counts_its_edgar_requests_with_the_agents(
    settings: Settings, redis: ArqRedis, tmp_path: Path
) -> None:
    from riskdrift.sources.edgar import EdgarStats
    from riskdrift.watch.listing import open_lister

    fake = FakeEdgar(corpus=REAL10K)
    async with serve_fake(fake.app()) as url:
        edgar_settings = settings.model_copy(
            update={
                "filings_source": "edgar",
                "edgar_user_agent": "riskdrift-tests ops@riskdrift.example",
                "edgar_base_url": f"{url}/www",
                "edgar_data_url": f"{url}/data",
                "edgar_cache_dir": tmp_path / "edgar",
            }
        )
        stats = EdgarStats()
        async with open_lister(edgar_settings, redis=redis, stats=stats) as lister:
            listing = await lister.list_filings("NVDA", cik=None)
        fake.release.set()
    assert listing.cik == "1045810"
    assert {(f.form, f.fiscal_year) for f in listing.filings} >= {("10-K", 2025), ("10-K", 2024)}
    assert stats.requests == len(fake.seen) == 2  # the tickers map, the submissions index


@needs_corpus
async def test_edgar_years_are_the_filers_own_labels(
    edgar_ctx: tuple[WatchContext, FilingEdgar], db: asyncpg.Pool
) -> None:
    """Home Depot's 10-K for the year ended 2025-02-02 is its fiscal 2024 (the document's
    dei tag says so): the watch compares 2024 with 2023, not 2025 with 2024."""
    ctx, fake = edgar_ctx
    hd_2024 = "0000354950-25-000062"
    fake.unfiled = {hd_2024}
    watchlist_id = await make_watchlist(db, ["HD"])
    await poll_watchlists(ctx)
    # The baseline reads no document: its years are the period ends' (a known limit of
    # what "last filing seen" shows for such filers until their next filing).
    assert (await company(db, watchlist_id, "HD"))["year"] == 2024  # ended 2024-01-28
    fake.unfiled.clear()
    await make_due(db)
    assert (await poll_watchlists(ctx))["started"] == 1
    [job] = await watch_jobs(db)
    assert (job["ticker"], job["current_year"], job["previous_year"]) == ("HD", 2024, 2023)
    recorded = await db.fetchval(
        "SELECT fiscal_year FROM watch_filings WHERE filing_key = $1", hd_2024
    )
    assert recorded == 2024


# --- amendments: a 10-K/A with Item 1A replaces its year's analysis; Part III alone does not -

ACME_SAMPLES = Path(__file__).resolve().parent.parent / "riskdrift" / "samples" / "filings" / "ACME"
NO_ITEM_1A = "no Item 1A in the amendment; the original's analysis stands"
RESTATED_RISKS = [
    (
        "Demand for our anvils and rockets is cyclical and depends on economic conditions.",
        "Our sales fall when customers delay purchases in a downturn, and a recession could "
        "reduce our revenue and margins significantly. Distributors reduce their inventories "
        "when they expect weaker demand, which magnifies the effect on our orders.",
    ),
    (
        "Tariffs on imported steel announced after our original report could raise our costs.",
        "The tariffs could increase the cost of our main raw material by a quarter, and we may "
        "be unable to pass the increase on to our customers without losing market share to "
        "competitors whose plants are located outside the affected markets.",
    ),
    (
        "A cybersecurity incident could disrupt our operations and expose personal data.",
        "Attackers have targeted manufacturers with ransomware; an incident could halt our "
        "plants, expose the personal information of our customers and employees, and subject "
        "us to regulatory penalties, litigation and lasting damage to our reputation.",
    ),
    (
        "We restated our results for the prior year, which may harm investor confidence.",
        "We identified errors in the timing of revenue recognised on distributor shipments and "
        "restated our financial statements. The restatement may lead to shareholder lawsuits, "
        "inquiries by regulators and higher costs for our audit and internal controls.",
    ),
    (
        "We have identified a material weakness in our internal control over financial reporting.",
        "If we fail to remediate the material weakness, or identify others, we may be unable to "
        "report our results accurately and on time, which could cause the price of our common "
        "stock to decline and limit our access to the capital markets.",
    ),
    (
        "Product defects or accidents involving our rockets could lead to claims and recalls.",
        "Our consumer rocket kits contain propellant that can injure users when it is handled "
        "incorrectly. Claims, recalls and the publicity around them could be costly, and our "
        "insurance may not cover every loss.",
    ),
    (
        "Our indebtedness and higher interest rates could limit our flexibility.",
        "Our credit facility bears interest at floating rates and contains covenants that limit "
        "our ability to borrow, pay dividends and make acquisitions; a breach could accelerate "
        "the repayment of all amounts outstanding under it.",
    ),
    (
        "Extreme weather and climate change could damage our facilities.",
        "Our main plant lies in a region exposed to floods and severe storms. Damage to it, or "
        "to the ports through which our steel arrives, could interrupt production for months "
        "and increase the cost of insuring our property.",
    ),
]


async def amendment_watchlist(db: asyncpg.Pool, tickers: list[str]) -> uuid.UUID:
    created = await watchlists.create_watchlist(
        db,
        tenant="default",
        name=f"amend-{uuid.uuid4().hex[:6]}",
        tickers=tickers,
        forms=["10-K", "10-K/A"],
        callback_url=None,
        backfill_years=None,
        max_companies=10,
        max_watchlists=10,
    )
    return created.id


async def analyse_queued(worker_settings: type) -> None:
    """Run every queued job to its end, in this process."""
    worker = burst_worker(worker_settings)
    try:
        async with asyncio.timeout(120):
            await worker.main()
    finally:
        await worker.close()


async def job_row(db: asyncpg.Pool, job_id: uuid.UUID) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT status, error, current_year, previous_year, filing_key FROM jobs WHERE id = $1",
        job_id,
    )
    assert row is not None
    return dict(row)


async def shown_for(db: asyncpg.Pool, watchlist_id: uuid.UUID, year: int) -> dict[str, str]:
    """The watchlist's view of fiscal ``year``: each company's analysis (job id)."""
    from riskdrift.store.ranking import watchlist_pairs

    return {p.ticker: p.key for p in await watchlist_pairs(db, watchlist_id, year)}


async def test_local_amendment_with_item_1a_replaces_its_year_and_part_iii_keeps_the_original(
    ctx: WatchContext, db: asyncpg.Pool, filings: Path, settings: Settings
) -> None:
    """ROCK files a 10-K/A restating Item 1A: analysed in place of its 2024 original. ACME
    files a Part III-only 10-K/A: seen, read, no job; its original's analysis stands."""
    from riskdrift.agent.research import ResearchAgent
    from riskdrift.sources.local import LocalFilingSource
    from riskdrift.store.results import get_result
    from tests.doubles import settings_for
    from tests.doubles.amendments import part_iii_10ka, restated_10ka

    for ticker in ("ACME", "ROCK"):
        (filings / ticker).mkdir()
        shutil.copy(ACME_SAMPLES / "2023.html", filings / ticker / "2023.html")
    watchlist_id = await amendment_watchlist(db, ["ACME", "ROCK"])
    await poll_watchlists(ctx)  # the baseline: 2023 only
    for ticker in ("ACME", "ROCK"):
        shutil.copy(ACME_SAMPLES / "2024.html", filings / ticker / "2024.html")
    await make_due(db)
    assert (await poll_watchlists(ctx))["started"] == 2
    originals = {
        ticker: watch_job_id(watchlist_id, ticker, "local:2024") for ticker in ("ACME", "ROCK")
    }
    agent = ResearchAgent(LocalFilingSource(filings))
    worker_settings = settings_for(agent, ctx["settings"])
    await analyse_queued(worker_settings)
    for job_id in originals.values():
        assert (await job_row(db, job_id))["status"] == "completed"
    assert await shown_for(db, watchlist_id, 2024) == {t: str(j) for t, j in originals.items()}

    (filings / "ACME" / "2024.10-KA.html").write_bytes(part_iii_10ka("ACME", 2024))
    (filings / "ROCK" / "2024.10-KA.html").write_bytes(restated_10ka("ROCK", 2024, RESTATED_RISKS))
    await make_due(db)
    assert (await poll_watchlists(ctx))["started"] == 1
    amended = watch_job_id(watchlist_id, "ROCK", "local:2024.10-KA.html")
    assert (await job_row(db, amended))["filing_key"] == "2024.10-KA.html"
    skipped = await db.fetchrow(
        """SELECT form, fiscal_year, job_id, skipped FROM watch_filings
           WHERE ticker = 'ACME' AND filing_key = 'local:2024.10-KA.html'"""
    )
    assert dict(skipped) == {
        "form": "10-K/A",
        "fiscal_year": 2024,
        "job_id": None,
        "skipped": NO_ITEM_1A,
    }
    await analyse_queued(worker_settings)

    job = await job_row(db, amended)
    assert (job["status"], job["error"]) == ("completed", None)
    assert (job["current_year"], job["previous_year"]) == (2024, 2023)
    result = await get_result(db, amended)
    assert result is not None
    current, previous = result.filings
    assert (current.year, current.form, current.document) == (2024, "10-K/A", "2024.10-KA.html")
    assert (previous.year, previous.form, previous.document) == (2023, "10-K", "2023.html")
    assert current.risk_count == len(RESTATED_RISKS)
    original = await get_result(db, originals["ROCK"])
    assert original is not None
    assert original.filings[0].document == "2024.html"
    assert original.filings[0].risk_count != current.risk_count

    # The year's view: ROCK's amendment, ACME's original (whose job is untouched).
    view = await shown_for(db, watchlist_id, 2024)
    assert view == {"ACME": str(originals["ACME"]), "ROCK": str(amended)}
    assert (await job_row(db, originals["ACME"]))["status"] == "completed"
    # The amendment wins by when its filing was seen, not by which analysis ended last.
    await db.execute(
        "UPDATE jobs SET finished_at = now() + interval '1 hour' WHERE id = $1",
        originals["ROCK"],
    )
    assert (await shown_for(db, watchlist_id, 2024))["ROCK"] == str(amended)

    # Later polls: nothing new, nothing started again.
    for _ in range(2):
        await make_due(db)
        assert (await poll_watchlists(ctx))["started"] == 0


@needs_corpus  # Tesla's real 10-Ks and its real Part III amendment
async def test_edgar_amendment_with_item_1a_replaces_its_year_and_part_iii_keeps_the_original(
    edgar_ctx: tuple[WatchContext, FilingEdgar], db: asyncpg.Pool
) -> None:
    """Tesla's fiscal 2024 10-K is analysed; its real 10-K/A (Part III only) replaces
    nothing; a 10-K/A restating Item 1A (synthetic) is analysed in its place: the job read
    the amendment's document, and the year's view shows it."""
    from riskdrift.agent.research import ResearchAgent
    from riskdrift.store.results import get_result
    from tests.doubles import settings_for
    from tests.doubles.amendments import many_risks, restated_10ka

    ctx, fake = edgar_ctx
    # Long enough beside Tesla's own Item 1A (the analysis refuses a section cut short).
    restated_risks = many_risks(56)
    original, part_iii = "0001628280-25-003063", "0001104659-25-042659"
    restated, restated_doc = "0001318605-25-000077", "tsla-20241231x10ka.htm"
    fake.unfiled = {original, part_iii}
    watchlist_id = await amendment_watchlist(db, ["TSLA"])
    await poll_watchlists(ctx)  # the baseline: fiscal 2023
    agent = ResearchAgent(EdgarFilingSource(ctx["settings"]))
    worker_settings = settings_for(agent, ctx["settings"])
    try:
        fake.unfiled.discard(original)
        await make_due(db)
        assert (await poll_watchlists(ctx))["started"] == 1
        first = watch_job_id(watchlist_id, "TSLA", original)
        assert (await job_row(db, first))["filing_key"] == original
        await analyse_queued(worker_settings)
        assert (await job_row(db, first))["status"] == "completed"

        fake.unfiled.discard(part_iii)
        await make_due(db)
        assert (await poll_watchlists(ctx))["started"] == 0
        skipped = await db.fetchval(
            "SELECT skipped FROM watch_filings WHERE filing_key = $1 AND job_id IS NULL", part_iii
        )
        assert skipped == NO_ITEM_1A
        assert await shown_for(db, watchlist_id, 2024) == {"TSLA": str(first)}

        fake.file(
            1318605,
            restated,
            "10-K/A",
            "2024-12-31",
            restated_doc,
            restated_10ka("Tesla, Inc.", 2024, restated_risks),
        )
        await make_due(db)
        assert (await poll_watchlists(ctx))["started"] == 1
        amended = watch_job_id(watchlist_id, "TSLA", restated)
        await analyse_queued(worker_settings)
        job = await job_row(db, amended)
        assert (job["status"], job["error"], job["filing_key"]) == ("completed", None, restated)
        result = await get_result(db, amended)
        assert result is not None
        current, previous = result.filings
        assert (current.accession, current.document, current.form) == (
            restated,
            restated_doc,
            "10-K/A",
        )
        assert current.risk_count == len(restated_risks)
        assert (previous.year, previous.form) == (2023, "10-K")
        assert await shown_for(db, watchlist_id, 2024) == {"TSLA": str(amended)}
        first_result = await get_result(db, first)
        assert first_result is not None
        assert first_result.filings[0].accession == original
    finally:
        await agent.source.aclose()


async def test_post_analyze_takes_a_named_filing_and_its_retry_keeps_it(
    db: asyncpg.Pool, settings: Settings
) -> None:
    async with (
        serve(create_app(settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        body = {"ticker": "TSLA", "years": [2024, 2023], "filing": "0001104659-25-042659"}
        accepted = await http.post("/analyze", json=body)
        assert accepted.status_code == 202, accepted.text
        job_id = uuid.UUID(accepted.json()["job_id"])
        assert (await job_row(db, job_id))["filing_key"] == "0001104659-25-042659"
        shown = (await http.get(f"/jobs/{job_id}")).json()
        assert shown["filing"] == "0001104659-25-042659"
        await db.execute("UPDATE jobs SET status = 'failed', error = 'x' WHERE id = $1", job_id)
        retried = await http.post(f"/jobs/{job_id}/retry")
        assert retried.status_code == 202, retried.text
        again = uuid.UUID(retried.json()["job_id"])
        assert (await job_row(db, again))["filing_key"] == "0001104659-25-042659"
        # Without it, the year's lookup (the original) as before.
        plain = await http.post("/analyze", json={"ticker": "TSLA", "years": [2024, 2023]})
        assert (await job_row(db, uuid.UUID(plain.json()["job_id"])))["filing_key"] is None
        refused = await http.post("/analyze", json={**body, "filing": "2023.10-KA.html"})
        assert refused.status_code == 422
        assert "not the current year 2024" in refused.text
