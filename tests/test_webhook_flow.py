"""Webhooks end to end: API submission, the analysis worker, deliver_webhook, a real receiver.

Every attempt, the first included, is a ``deliver_webhook`` job (here on the
analysis queue, as tests/conftest.py sets ``webhooks_queue_name``; the webhooks
queue of its own, the per-receiver cap and a hanging receiver are at the end).

Everything is real except the analysis (a scripted agent) and, where a test
needs to control it, the worker's DNS answers for the callback host: Redis,
Postgres, the API and the receiver (uvicorn on loopback) all run for real,
and the receiver verifies every request with the reference ``standardwebhooks``
library. Retry delays are shrunk with ``webhook_backoff_scale``; waits are
conditions with deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from arq import ArqRedis
from arq.jobs import Job
from pydantic import SecretStr
from redis.asyncio import Redis

from riskdrift.agent.progress import ProgressReporter
from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.errors import FilingNotFound
from riskdrift.models import AnalysisResult, AnalyzeRequest, JobStatus
from riskdrift.store import deliveries, jobs
from riskdrift.webhooks import webhook_id
from riskdrift.worker import serialization
from riskdrift.worker.analysis_pool import AnalysisPool
from riskdrift.worker.context import Agent
from riskdrift.worker.settings import build_worker_settings
from riskdrift.worker.webhook_task import prepare_delivery
from tests.conftest import burst_worker, eventually, free_port, serve
from tests.doubles import SECRET, ScriptedAgent, ScriptedDNS, ScriptedReceiver, tiny_result

pytestmark = pytest.mark.integration

PUBLIC_URL = "https://riskdrift.example"


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def wh_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "webhook_secrets": [SecretStr(SECRET)],
            "webhook_backoff_scale": 0.001,  # 5 ms, 0.3 s, 1.8 s, ...
            "webhook_allowed_cidrs": ["127.0.0.0/8", "::1/128"],
            "public_url": PUBLIC_URL,
            "submit_rate_limit": "",  # its Redis keys are shared by every test
        }
    )


@pytest.fixture
async def api(wh_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(create_app(wh_settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):
        yield http


def worker_settings(settings: Settings, agent: Agent, dns: ScriptedDNS) -> type:
    @contextlib.asynccontextmanager
    async def factory(
        s: Settings, *, executor: AnalysisPool | None, pool: asyncpg.Pool, redis: Redis
    ) -> AsyncIterator[Agent]:
        yield agent

    return build_worker_settings(settings, agent_factory=factory, webhook_resolver=dns)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, agent: Agent, dns: ScriptedDNS) -> AsyncIterator[None]:
    """A burst worker in the background; the block must let it drain the queue."""
    worker = burst_worker(worker_settings(settings, agent, dns), poll_delay=0.01)
    task = asyncio.create_task(worker.main())
    try:
        yield
        async with asyncio.timeout(15):
            await task
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await worker.close()


async def drain(settings: Settings, agent: Agent, dns: ScriptedDNS) -> None:
    async with running_worker(settings, agent, dns):
        pass


def succeed() -> ScriptedAgent:
    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        return tiny_result(request)

    return ScriptedAgent(script)


async def submit(api: httpx.AsyncClient, callback_url: str | None) -> str:
    body: dict[str, object] = {"ticker": "ACME", "years": [2024, 2023]}
    if callback_url is not None:
        body["callback_url"] = callback_url
    response = await api.post("/analyze", json=body)
    assert response.status_code == 202, response.text
    job_id: str = response.json()["job_id"]
    return job_id


async def deliveries_of(api: httpx.AsyncClient, job_id: str) -> list[dict[str, object]]:
    response = await api.get(f"/jobs/{job_id}/deliveries")
    assert response.status_code == 200, response.text
    found: list[dict[str, object]] = response.json()["deliveries"]
    return found


async def attempts_of(api: httpx.AsyncClient, job_id: str) -> list[dict[str, object]]:
    found = await deliveries_of(api, job_id)
    return [] if not found else list(found[0]["attempts"])  # type: ignore[call-overload]


async def attempt_jobs(redis: ArqRedis, msg_id: str) -> set[str]:
    """``series:attempt`` of every attempt of the webhook that arq holds or held as a job."""
    prefix = f"webhook:{msg_id}:"
    keys = [key.decode() async for key in redis.scan_iter(match=f"arq:*{prefix}*")]
    return {key.split(prefix, 1)[1] for key in keys}


def arq_job(redis: ArqRedis, settings: Settings, job_id: str) -> Job:
    return Job(job_id, redis, _queue_name=settings.queue_name, _deserializer=serialization.loads)


# --- tests ----------------------------------------------------------------------------------


async def test_retries_through_errors_and_an_outage_then_delivers_once(
    api: httpx.AsyncClient, wh_settings: Settings
) -> None:
    port = free_port()
    receiver = ScriptedReceiver(statuses=deque([500, 500]))
    # Attempts 3 and 4 wait at DNS until the test has stopped / restarted the receiver.
    dns = ScriptedDNS(["127.0.0.1"], hold=(3, 4))
    job_id = None
    async with running_worker(wh_settings, succeed(), dns):
        async with serve(receiver.app(), port=port):
            job_id = await submit(api, f"http://localhost:{port}/hook")

            async def attempt_3_waiting() -> bool:
                return len(dns.lookups) >= 3 and len(await attempts_of(api, job_id)) == 2

            await eventually(attempt_3_waiting)
        # The receiver is down (connection refused) when attempt 3 connects.
        dns.release(3)

        async def attempt_4_waiting() -> bool:
            return len(dns.lookups) >= 4 and len(await attempts_of(api, job_id)) == 3

        await eventually(attempt_4_waiting)
        async with serve(receiver.app(), port=port):
            dns.release(4)

            async def delivered() -> bool:
                found = await deliveries_of(api, job_id)
                return bool(found) and found[0]["status"] == "delivered"

            await eventually(delivered)

    assert job_id is not None
    job = (await api.get(f"/jobs/{job_id}")).json()
    assert job["status"] == "completed"

    # The receiver: three requests, all verified, one id, the very same bytes.
    msg_id = webhook_id(job_id, "job.completed")
    assert [h.status for h in receiver.received] == [500, 500, 200]
    assert all(h.verified for h in receiver.received)
    assert {h.headers["webhook-id"] for h in receiver.received} == {msg_id}
    assert len({h.body for h in receiver.received}) == 1
    assert Counter(h.headers["webhook-id"] for h in receiver.received if h.status == 200) == {
        msg_id: 1
    }
    payload = json.loads(receiver.received[-1].body)
    assert payload["type"] == "job.completed"
    data = payload["data"]
    assert (data["job_id"], data["ticker"], data["years"], data["status"]) == (
        job_id,
        "ACME",
        [2024, 2023],
        "completed",
    )
    assert data["summary"] == "s"
    assert data["error"] is None
    assert data["links"] == {
        "self": f"{PUBLIC_URL}/jobs/{job_id}",
        "stream": f"{PUBLIC_URL}/stream/{job_id}",
        "result": f"{PUBLIC_URL}/jobs/{job_id}/result",
        "report": f"{PUBLIC_URL}/jobs/{job_id}/report",
    }

    # The record: every attempt, in order, with what happened.
    (delivery,) = await deliveries_of(api, job_id)
    assert delivery["webhook_id"] == msg_id
    assert (delivery["type"], delivery["series"], delivery["attempt_count"]) == (
        "job.completed",
        1,
        4,
    )
    assert delivery["delivered_at"] is not None
    assert delivery["next_attempt_at"] is None
    attempts = delivery["attempts"]
    assert isinstance(attempts, list)
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4]
    assert [a["status_code"] for a in attempts] == [500, 500, None, 200]
    assert [a["outcome"] for a in attempts] == ["retrying", "retrying", "retrying", "delivered"]
    assert "ConnectError" in attempts[2]["error"]
    assert attempts[3]["error"] is None
    assert {a["address"] for a in attempts} == {"127.0.0.1"}
    assert all(a["duration_ms"] >= 0 for a in attempts)
    assert len(dns.lookups) == 4  # one lookup per attempt, none in between


async def test_failed_job_sends_job_failed_with_the_error(
    api: httpx.AsyncClient, wh_settings: Settings
) -> None:
    async def script(request: AnalyzeRequest, progress: ProgressReporter, n: int) -> AnalysisResult:
        raise FilingNotFound("no 10-K for ACME fiscal 2024")

    receiver = ScriptedReceiver()
    async with serve(receiver.app()) as base_url:
        job_id = await submit(api, f"{base_url}/hook")
        await drain(wh_settings, ScriptedAgent(script), ScriptedDNS(["127.0.0.1"]))

    (hook,) = receiver.received
    assert hook.verified
    assert hook.headers["webhook-id"] == webhook_id(job_id, "job.failed")
    payload = json.loads(hook.body)
    assert payload["type"] == "job.failed"
    assert payload["data"]["status"] == "failed"
    assert payload["data"]["error"] == "no 10-K for ACME fiscal 2024"
    assert payload["data"]["summary"] is None
    (delivery,) = await deliveries_of(api, job_id)
    assert (delivery["type"], delivery["status"], delivery["attempt_count"]) == (
        "job.failed",
        "delivered",
        1,
    )


async def test_dns_rebinding_to_a_private_address_is_refused_at_delivery(
    api: httpx.AsyncClient, wh_settings: Settings
) -> None:
    receiver = ScriptedReceiver(statuses=deque([503]))
    # Loopback (allowed here) at submission and for attempt 1, then a private address.
    dns = ScriptedDNS(["127.0.0.1"], ["10.0.0.5"])
    async with serve(receiver.app()) as base_url:
        port = base_url.rsplit(":", 1)[1]
        job_id = await submit(api, f"http://localhost:{port}/hook")
        await drain(wh_settings, succeed(), dns)

    assert [h.status for h in receiver.received] == [503]
    (delivery,) = await deliveries_of(api, job_id)
    assert delivery["status"] == "refused"
    assert delivery["attempt_count"] == 2
    attempts = delivery["attempts"]
    assert isinstance(attempts, list)
    assert [a["outcome"] for a in attempts] == ["retrying", "refused"]
    assert attempts[1]["status_code"] is None
    assert attempts[1]["address"] is None
    assert "10.0.0.5" in attempts[1]["error"]
    assert "private" in attempts[1]["error"]
    assert len(dns.lookups) == 2  # refused: no retry


async def test_gone_stops_and_redeliver_sends_the_same_webhook_again(
    api: httpx.AsyncClient, wh_settings: Settings
) -> None:
    receiver = ScriptedReceiver(statuses=deque([410]))
    dns = ScriptedDNS(["127.0.0.1"])
    async with serve(receiver.app()) as base_url:
        job_id = await submit(api, f"{base_url}/hook")
        await drain(wh_settings, succeed(), dns)
        (delivery,) = await deliveries_of(api, job_id)
        assert (delivery["status"], delivery["attempt_count"]) == ("gone", 1)

        response = await api.post(f"/jobs/{job_id}/deliveries/redeliver")
        assert response.status_code == 202, response.text
        assert (response.json()["series"], response.json()["status"]) == (2, "pending")
        await drain(wh_settings, succeed(), dns)

    assert [h.status for h in receiver.received] == [410, 200]
    assert len({h.headers["webhook-id"] for h in receiver.received}) == 1
    assert len({h.body for h in receiver.received}) == 1
    (delivery,) = await deliveries_of(api, job_id)
    assert (delivery["status"], delivery["series"], delivery["attempt_count"]) == (
        "delivered",
        2,
        1,
    )
    attempts = delivery["attempts"]
    assert isinstance(attempts, list)
    assert [(a["series"], a["attempt"], a["outcome"]) for a in attempts] == [
        (1, 1, "gone"),
        (2, 1, "delivered"),
    ]


async def test_duplicate_run_of_a_delivered_attempt_does_nothing(
    api: httpx.AsyncClient, wh_settings: Settings, redis: ArqRedis
) -> None:
    receiver = ScriptedReceiver()
    dns = ScriptedDNS(["127.0.0.1"])
    async with serve(receiver.app()) as base_url:
        port = base_url.rsplit(":", 1)[1]
        job_id = await submit(api, f"http://localhost:{port}/hook")
        await drain(wh_settings, succeed(), dns)
        # arq runs jobs at least once: the same attempt again, under a fresh arq id.
        await redis.enqueue_job(
            "deliver_webhook", job_id, "job.completed", 1, 1, _queue_name=wh_settings.queue_name
        )
        await drain(wh_settings, succeed(), dns)

    assert len(receiver.received) == 1
    assert len(dns.lookups) == 1
    (delivery,) = await deliveries_of(api, job_id)
    assert (delivery["status"], delivery["attempt_count"]) == ("delivered", 1)


async def test_redeliver_conflicts_and_unknown_jobs(api: httpx.AsyncClient) -> None:
    queued = await submit(api, "http://127.0.0.1:9/hook")
    response = await api.post(f"/jobs/{queued}/deliveries/redeliver")
    assert response.status_code == 409
    assert "queued" in response.json()["detail"]
    assert await deliveries_of(api, queued) == []

    for path in (f"/jobs/{uuid.uuid4()}/deliveries", "/jobs/not-a-uuid/deliveries"):
        response = await api.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
    response = await api.post(f"/jobs/{uuid.uuid4()}/deliveries/redeliver")
    assert response.status_code == 404


async def test_redeliver_needs_a_callback_url(
    api: httpx.AsyncClient, wh_settings: Settings
) -> None:
    job_id = await submit(api, None)
    await drain(wh_settings, succeed(), ScriptedDNS(["127.0.0.1"]))
    assert (await api.get(f"/jobs/{job_id}")).json()["status"] == "completed"
    response = await api.post(f"/jobs/{job_id}/deliveries/redeliver")
    assert response.status_code == 409
    assert "callback_url" in response.json()["detail"]
    assert await deliveries_of(api, job_id) == []


async def test_openapi_documents_the_delivery_routes(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    assert "get" in document["paths"]["/jobs/{job_id}/deliveries"]
    assert "post" in document["paths"]["/jobs/{job_id}/deliveries/redeliver"]
    for model in ("WebhookDelivery", "WebhookDeliveryList", "WebhookAttempt"):
        assert model in document["components"]["schemas"]


async def failed_by_a_lost_worker(db: asyncpg.Pool, callback_url: str) -> jobs.JobRecord:
    """A job whose worker died right after its terminal UPDATE (failed)."""
    request = AnalyzeRequest(ticker="ACME", years=[2024, 2023], callback_url=callback_url)
    job, _ = await jobs.create_job(db, request, tenant="default")
    await jobs.start_attempt(db, job.id)
    finished = await jobs.finish_job(db, job.id, JobStatus.FAILED, error="worker lost")
    assert finished is not None
    return finished


async def enqueue_rerun(redis: ArqRedis, settings: Settings, job_id: uuid.UUID) -> None:
    """arq delivering the analysis job of ``job_id`` once more."""
    await redis.enqueue_job(
        "analyze_risk_drift", str(job_id), _job_id=str(job_id), _queue_name=settings.queue_name
    )


async def test_rerun_of_a_finished_job_schedules_its_missing_webhook(
    db: asyncpg.Pool, redis: ArqRedis, wh_settings: Settings
) -> None:
    receiver = ScriptedReceiver()
    async with serve(receiver.app()) as base_url:
        # A worker died right after the terminal UPDATE: no delivery row, nothing queued.
        job = await failed_by_a_lost_worker(db, f"{base_url}/hook")
        # arq runs the analysis job again (at least once); it finds the job finished.
        await enqueue_rerun(redis, wh_settings, job.id)
        await drain(wh_settings, succeed(), ScriptedDNS(["127.0.0.1"]))

    (hook,) = receiver.received
    assert hook.verified
    assert json.loads(hook.body)["data"]["error"] == "worker lost"
    delivery = await deliveries.get_delivery(db, job.id, "job.failed")
    assert delivery is not None
    assert (delivery.status, delivery.attempts) == ("delivered", 1)


# --- attempt 1: a deliver_webhook job, never the analysis task's ---------------------------


async def test_attempt_1_is_a_deliver_webhook_job_of_its_own(
    api: httpx.AsyncClient, wh_settings: Settings, redis: ArqRedis
) -> None:
    receiver = ScriptedReceiver()
    async with serve(receiver.app()) as base_url:
        job_id = await submit(api, f"{base_url}/hook")
        await drain(wh_settings, succeed(), ScriptedDNS(["127.0.0.1"]))
    metrics = (await api.get("/metrics")).text  # the worker flushed its counters on shutdown

    msg_id = webhook_id(job_id, "job.completed")
    (hook,) = receiver.received
    assert (hook.verified, hook.headers["webhook-id"], hook.status) == (True, msg_id, 200)
    (delivery,) = await deliveries_of(api, job_id)
    assert (delivery["status"], delivery["attempt_count"]) == ("delivered", 1)
    # The analysis job only queued it: a slow receiver never holds an analysis slot.
    assert await attempt_jobs(redis, msg_id) == {"1:1"}
    analysis = await arq_job(redis, wh_settings, job_id).result_info()
    assert analysis is not None
    assert (analysis.success, analysis.result) == (True, "completed")
    attempt = await arq_job(redis, wh_settings, f"webhook:{msg_id}:1:1").result_info()
    assert attempt is not None
    assert (attempt.success, attempt.result) == (True, "delivered")
    delivered = f'outcome="delivered",queue="{wh_settings.queue_name}"'
    assert f"riskdrift_webhook_deliveries_total{{{delivered}}} 1.0" in metrics.splitlines()


async def test_a_failed_attempt_1_queues_attempt_2_as_a_deferred_job(
    api: httpx.AsyncClient, wh_settings: Settings, redis: ArqRedis
) -> None:
    settings = wh_settings.model_copy(update={"webhook_backoff_scale": 0.1})  # 4-6 s -> 0.4-0.6 s
    receiver = ScriptedReceiver(statuses=deque([503]))
    dns = ScriptedDNS(["127.0.0.1"], hold=(2,))  # attempt 2 waits at DNS while the test looks
    async with serve(receiver.app()) as base_url:
        port = base_url.rsplit(":", 1)[1]
        job_id = await submit(api, f"http://localhost:{port}/hook")
        msg_id = webhook_id(job_id, "job.completed")
        async with running_worker(settings, succeed(), dns):

            async def attempt_2_running() -> bool:
                return len(dns.lookups) >= 2

            await eventually(attempt_2_running)
            assert [(a["attempt"], a["outcome"]) for a in await attempts_of(api, job_id)] == [
                (1, "retrying")
            ]
            assert await attempt_jobs(redis, msg_id) == {"1:1", "1:2"}
            queued = await arq_job(redis, settings, f"webhook:{msg_id}:1:2").info()
            assert queued is not None
            assert (queued.function, list(queued.args)) == (
                "deliver_webhook",
                [job_id, "job.completed", 1, 2],
            )
            assert queued.score is not None
            enqueued_ms = queued.enqueue_time.timestamp() * 1000
            assert queued.score - enqueued_ms >= 300  # deferred by the backoff
            dns.release(2)

    assert [h.status for h in receiver.received] == [503, 200]
    (delivery,) = await deliveries_of(api, job_id)
    assert (delivery["status"], delivery["attempt_count"]) == ("delivered", 2)
    assert await attempt_jobs(redis, msg_id) == {"1:1", "1:2"}


async def test_attempt_1_is_made_again_when_recording_it_loses_the_connection(
    api: httpx.AsyncClient, db: asyncpg.Pool, wh_settings: Settings, redis: ArqRedis
) -> None:
    # The first INSERT into webhook_attempts kills its own Postgres connection: attempt 1
    # reaches the receiver but its outcome is lost mid-statement (a transient
    # ConnectionDoesNotExistError in the worker: arq Retry). Later INSERTs go through.
    await db.execute(
        """CREATE SEQUENCE attempt_inserts;
           CREATE FUNCTION lose_first_attempt_insert() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
               IF nextval('attempt_inserts') = 1 THEN
                   PERFORM pg_terminate_backend(pg_backend_pid());
               END IF;
               RETURN NEW;
           END $$;
           CREATE TRIGGER lose_first_attempt_insert BEFORE INSERT ON webhook_attempts
               FOR EACH ROW EXECUTE FUNCTION lose_first_attempt_insert();"""
    )
    receiver = ScriptedReceiver()
    async with serve(receiver.app()) as base_url:
        job_id = await submit(api, f"{base_url}/hook")
        await drain(wh_settings, succeed(), ScriptedDNS(["127.0.0.1"]))

    msg_id = webhook_id(job_id, "job.completed")
    assert await db.fetchval("SELECT last_value FROM attempt_inserts") == 2
    analysis = await arq_job(redis, wh_settings, job_id).result_info()
    assert analysis is not None
    assert (analysis.success, analysis.result) == (True, "completed")
    # At least once: the lost attempt and the job's, the same webhook; one attempt recorded.
    assert [h.status for h in receiver.received] == [200, 200]
    assert {h.headers["webhook-id"] for h in receiver.received} == {msg_id}
    assert len({h.body for h in receiver.received}) == 1
    assert await attempt_jobs(redis, msg_id) == {"1:1"}
    made_by_job = await arq_job(redis, wh_settings, f"webhook:{msg_id}:1:1").result_info()
    assert made_by_job is not None
    assert made_by_job.result == "delivered"
    (delivery,) = await deliveries_of(api, job_id)
    assert (delivery["status"], delivery["attempt_count"]) == ("delivered", 1)


async def test_rerun_queues_attempt_2_that_a_crash_after_attempt_1_lost(
    db: asyncpg.Pool, redis: ArqRedis, wh_settings: Settings
) -> None:
    receiver = ScriptedReceiver()
    async with serve(receiver.app()) as base_url:
        # What a worker wrote before dying: the job failed, attempt 1 made and
        # recorded as retrying, attempt 2 never queued.
        job = await failed_by_a_lost_worker(db, f"{base_url}/hook")
        delivery = await prepare_delivery(db, wh_settings, job)
        assert delivery is not None
        recorded = await deliveries.record_attempt(
            db,
            delivery.id,
            series=1,
            attempt=1,
            outcome="retrying",
            duration_ms=1.0,
            status_code=500,
            next_attempt_at=dt.datetime.now(dt.UTC),
        )
        assert recorded is not None
        # arq runs the analysis job again; it finds the job finished.
        await enqueue_rerun(redis, wh_settings, job.id)
        await drain(wh_settings, succeed(), ScriptedDNS(["127.0.0.1"]))

    (hook,) = receiver.received  # attempt 2; attempt 1 is not made again
    assert hook.status == 200
    stored = await deliveries.get_delivery(db, job.id, "job.failed")
    assert stored is not None
    assert (stored.status, stored.attempts) == ("delivered", 2)
    msg_id = webhook_id(str(job.id), "job.failed")
    assert await attempt_jobs(redis, msg_id) == {"1:1", "1:2"}


# --- the webhooks queue: a slow receiver delays only its own deliveries ---------------------


async def test_a_hanging_receiver_delays_only_its_own_deliveries(
    api: httpx.AsyncClient, db: asyncpg.Pool, redis: ArqRedis, wh_settings: Settings
) -> None:
    """Tenant A's receiver hangs on every webhook; tenant B's answers at once.

    Attempts run on a webhooks queue and worker of their own, at most
    ``webhook_receiver_concurrency`` per receiver: A's hanging attempts hold two
    webhook slots, the rest of A's wait their turn outside any slot, and B's jobs
    and webhooks all finish while A's receiver still hangs."""
    from riskdrift.worker.settings import build_webhook_worker_settings
    from riskdrift.worker.webhook_task import RECEIVER_BUSY_DELAY
    from tests.conftest import running_worker as running
    from tests.doubles.receiver import serve_receiver

    cap, per_tenant = 2, 6
    settings = wh_settings.model_copy(
        update={
            "webhooks_queue_name": f"{wh_settings.queue_name}:webhooks",
            "webhook_receiver_concurrency": cap,
            "webhook_max_jobs": 4,
            "webhook_timeout": 120.0,  # A's attempts hang until the test lets them go
            "worker_max_jobs": 2,
        }
    )
    # Two receivers as the cap counts them (host:port): A by name, B by address.
    dns = ScriptedDNS(by_name={"localhost": ["127.0.0.1"], "127.0.0.1": ["127.0.0.1"]})
    async with serve_receiver(SECRET) as receiver:
        a_jobs = [
            await submit(api, receiver.url("slow", host="localhost")) for _ in range(per_tenant)
        ]
        b_jobs = [
            await submit(api, receiver.url("ok", host="127.0.0.1")) for _ in range(per_tenant)
        ]
        queue = settings.webhooks_queue_name
        a_attempts = [f"webhook:{webhook_id(j, 'job.completed')}:1:1" for j in a_jobs]

        def a_in_flight() -> int:
            return sum(r.script == "slow" for r in receiver.received)

        async def delivered(job_ids: list[str]) -> bool:
            rows = await db.fetch(
                "SELECT status FROM webhook_deliveries WHERE job_id = ANY($1::uuid[])",
                [uuid.UUID(j) for j in job_ids],
            )
            return len(rows) == len(job_ids) and all(r["status"] == "delivered" for r in rows)

        async with (
            running(worker_settings(settings, succeed(), dns)),
            running(build_webhook_worker_settings(settings, webhook_resolver=dns)),
        ):

            async def b_done_and_a_turned_away() -> bool:
                # Each of A's attempts not in flight was turned away twice or more: arq
                # moved its score past its enqueue time by over one longest deferral.
                waiting = 0
                for attempt in a_attempts:
                    if await redis.exists(f"arq:in-progress:{attempt}"):
                        continue
                    info = await Job(
                        attempt, redis, _queue_name=queue, _deserializer=serialization.loads
                    ).info()
                    if info is None or info.score is None:
                        return False
                    deferred = info.score - info.enqueue_time.timestamp() * 1000
                    if deferred <= 1000 * RECEIVER_BUSY_DELAY:
                        return False
                    waiting += 1
                return waiting == per_tenant - cap and await delivered(b_jobs)

            await eventually(b_done_and_a_turned_away, deadline=60, interval=0.05)
            assert a_in_flight() == cap  # A's receiver never had more at once
            assert not await delivered(a_jobs)
            rows = await db.fetch(
                "SELECT status FROM jobs WHERE id = ANY($1::uuid[])",
                [uuid.UUID(j) for j in a_jobs + b_jobs],
            )
            assert [r["status"] for r in rows] == ["completed"] * (2 * per_tenant)
            # B's webhooks went out as its jobs finished, not after A's timeouts.
            lags = await db.fetch(
                """SELECT extract(epoch FROM d.delivered_at - j.finished_at) AS lag
                   FROM webhook_deliveries d JOIN jobs j ON j.id = d.job_id
                   WHERE j.id = ANY($1::uuid[])""",
                [uuid.UUID(j) for j in b_jobs],
            )
            assert max(float(r["lag"]) for r in lags) < 5.0, lags

            receiver.release.set()
            await eventually(lambda: delivered(a_jobs), deadline=60, interval=0.05)
    assert a_in_flight() == per_tenant
    assert await redis.zcard(f"riskdrift:webhook-slots:localhost:{receiver.port}") == 0
    # The webhooks worker's figures: 12 delivered; A's turns away sent nothing, counted nothing.
    async with (
        serve(create_app(settings)) as base_url,  # an API that knows the webhooks queue
        httpx.AsyncClient(base_url=base_url) as http,
    ):
        metrics = (await http.get("/metrics")).text.splitlines()
    ours = [line for line in metrics if f'queue="{queue}"' in line]
    assert f'riskdrift_webhook_deliveries_total{{outcome="delivered",queue="{queue}"}} 12.0' in ours
    assert not [line for line in ours if 'outcome="retrying"' in line]
