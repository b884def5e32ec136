"""The service's own speed, side by side with raw arq on the same Redis.

Starts its own API and worker processes (``bench/service_procs.py``) against the
configured Redis and Postgres (``REDIS_URL`` / ``DATABASE_URL`` or the
defaults), on a Postgres schema and an arq queue of its own (``bench_<tag>``),
with auth and the submit rate limit off. The worker runs a no-op research agent
that only this benchmark can select: it reports the real agent's six progress
steps and returns a minimal result, so every job still does all of riskdrift's
own work (HTTP submit, job row, ``job_queued``, arq job, claim heartbeat,
``processing`` UPDATE, progress events, result row in a transaction,
``job_completed``, metrics, and a signed webhook job delivered to a local
receiver). Jobs are submitted with a lean HTTP/1.1 keep-alive client
(``bench/loadgen.py``: pre-encoded request, ``httptools`` parser, one request in
flight per connection), cheap like wrk so the load generator takes little of the
CPU the service is measured on; ``--client httpx`` submits with
``httpx.AsyncClient`` instead, for comparison. The webhook receiver is an
``asyncio.Protocol`` with ``httptools`` answering 204. It prints:

* **raw arq drain**: a backlog of no-op arq jobs drained by one plain arq worker
  with the same queue knobs (jobs/s, from arq's own start/finish stamps);
* **riskdrift drain**: a backlog of jobs submitted over HTTP, then drained by
  one riskdrift worker (jobs/s, first ``started_at`` to last webhook received);
* **pipeline**: submit over HTTP (16 in flight, ``--client``) while the worker drains;
* **submit latency**: ``POST /analyze`` p50/p99 at a fixed open-loop rate, and
  the closed-loop maximum;
* **pickup latency**: ``POST /analyze`` returned → ``job_started`` received over
  SSE (``GET /stream/{id}`` with httpx-sse), idle and under load;
* **per-job cost**: CPU ms/job of worker and API (psutil), Postgres round trips
  and Redis commands per job (counted inside the processes, see
  ``service_procs.py``), Redis INFO commandstats delta (server-wide, so other
  clients of the same Redis inflate it), RSS.

    .venv/bin/python bench/bench_service.py --quick
    .venv/bin/python bench/bench_service.py              # more jobs, 5 runs, scaling
    .venv/bin/python bench/bench_service.py --workers 1,2,4 --depths 10,100,1000,10000
    .venv/bin/python bench/bench_service.py --quick --client httpx   # the old, costlier client

Figures only; nothing is asserted. Everything is loopback, bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil  # type: ignore[import-untyped,unused-ignore]
from arq import ArqRedis, create_pool
from httpx_sse import aconnect_sse
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadgen import LoadClient, start_receiver  # noqa: E402
from riskdrift.config import Settings  # noqa: E402
from riskdrift.webhooks.signing import generate_secret  # noqa: E402
from riskdrift.worker import serialization  # noqa: E402
from riskdrift.worker.settings import redis_settings  # noqa: E402

PROCS = ROOT / "bench" / "service_procs.py"
BODY = {"ticker": "BENCH", "years": [2024, 2023]}


# --- small helpers ---------------------------------------------------------------------------


def pct(values: Iterable[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def redis_commandstats(redis: Redis) -> dict[str, int]:
    info = await redis.info("commandstats")
    return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()}


def cpu_seconds(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def servers_cpu_seconds(name: str) -> float:
    """CPU time of every running process called ``name`` (``postgres`` backends, ``redis-server``).

    A backend that exits during the window takes its CPU with it; the pools keep
    their connections, so that is rare in a run.
    """
    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] != name:
            continue
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            total += t.user + t.system
    return total


def machine_cpu_seconds() -> float:
    """Busy CPU time of the whole machine (every core, every process)."""
    t = psutil.cpu_times()
    return float(sum(getattr(t, f) for f in ("user", "nice", "system", "irq", "softirq")))


def cpu_snapshot(procs: Mapping[str, int]) -> dict[str, float]:
    """CPU seconds so far of the processes under test, this bench process (client and
    webhook receiver), the Redis and Postgres servers, and the machine."""
    snap = {name: cpu_seconds(pid) for name, pid in procs.items()}
    snap["bench"] = cpu_seconds(os.getpid())
    snap["redis_server"] = servers_cpu_seconds("redis-server")
    snap["postgres"] = servers_cpu_seconds("postgres")
    snap["machine"] = machine_cpu_seconds()
    return snap


def rss_mib(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss / 2**20)


# --- the processes under test ----------------------------------------------------------------


@dataclass
class Proc:
    """One API or worker subprocess with its counters file."""

    role: str
    process: asyncio.subprocess.Process
    count_file: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    async def counting(self) -> None:
        """Wait until the process counts (before that, SIGUSR1 would kill it)."""
        async with asyncio.timeout(60):
            while not self.count_file.exists():
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.role} exited with {self.process.returncode}")
                await asyncio.sleep(0.01)

    async def counts(self) -> dict[str, Any]:
        """Ask the process for its Postgres/Redis counters (SIGUSR1) and read them."""
        self.count_file.unlink(missing_ok=True)
        self.process.send_signal(signal.SIGUSR1)
        async with asyncio.timeout(5):
            while not self.count_file.exists():  # noqa: ASYNC110 - another process writes it
                await asyncio.sleep(0.01)
        result: dict[str, Any] = json.loads(self.count_file.read_text())
        return result

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@dataclass
class Bench:
    """The bench's own schema, queue, receiver and processes."""

    args: argparse.Namespace
    settings: Settings
    env: dict[str, str]
    port: int
    tmp: Path
    redis: Redis
    arq: ArqRedis
    pg: asyncpg.Connection
    procs: list[Proc] = field(default_factory=list)
    received: int = 0
    receiver_port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, role: str, mode: str, extra: dict[str, str] | None = None) -> Proc:
        count_file = self.tmp / f"{role}-{len(self.procs)}.json"
        count_file.unlink(missing_ok=True)  # an earlier process's: its name comes round again
        env = {**self.env, **(extra or {}), "BENCH_COUNT_FILE": str(count_file)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(PROCS), mode, env=env,
            stdout=subprocess.DEVNULL, stderr=self.tmp.joinpath(f"{role}.log").open("ab"),
        )  # fmt: skip
        proc = Proc(role, process, count_file)
        self.procs.append(proc)
        return proc

    async def start_api(self) -> Proc:
        api = await self.start("api", "api")
        async with asyncio.timeout(60), httpx.AsyncClient(timeout=2) as http:
            while True:
                if api.process.returncode is not None:
                    raise RuntimeError(f"API exited with {api.process.returncode}: see {self.tmp}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get(f"{self.base_url}/healthz")).status_code == 200:
                        return api
                await asyncio.sleep(0.05)

    async def start_worker(
        self, mode: str, queue: str, extra: dict[str, str] | None = None
    ) -> Proc:
        """Start a worker and wait until it polls (arq's health-check key appears)."""
        key = f"{queue}:health-check"
        await self.redis.delete(key)
        worker = await self.start(
            f"worker-{mode}",
            mode,
            # One worker drains jobs and their webhook attempts, as before the webhooks
            # queue, so the figures stay comparable with the recorded ones.
            {
                "RISKDRIFT_QUEUE_NAME": queue,
                "RISKDRIFT_WEBHOOKS_QUEUE_NAME": queue,
                **(extra or {}),
            },
        )
        async with asyncio.timeout(60):
            while not await self.redis.exists(key):
                if worker.process.returncode is not None:
                    raise RuntimeError(f"worker exited: see {self.tmp}")
                await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # startup (migrations, metrics publisher, reconcile) settles
        return worker

    async def stop(self, proc: Proc) -> None:
        await proc.stop()
        self.procs.remove(proc)

    def count_delivery(self) -> None:
        self.received += 1

    async def completed_jobs(self) -> int:
        n: int = await self.pg.fetchval("SELECT count(*) FROM jobs WHERE status = 'completed'")
        return n


async def receiver(bench: Bench) -> asyncio.Server:
    """A loopback webhook receiver answering 204 to every request; counts deliveries."""
    server = await start_receiver(bench.count_delivery)
    bench.receiver_port = server.sockets[0].getsockname()[1]
    return server


@contextlib.asynccontextmanager
async def bench_environment(args: argparse.Namespace) -> AsyncIterator[Bench]:
    base = Settings(_env_file=None)  # type: ignore[call-arg,unused-ignore]
    tag = uuid.uuid4().hex[:8]
    schema, queue = f"bench_{tag}", f"bench:{tag}"
    settings = base.model_copy(update={"database_schema": schema, "queue_name": queue})
    pg = await asyncpg.connect(settings.database_url)
    await pg.execute(f'CREATE SCHEMA "{schema}"')
    await pg.execute(f'SET search_path TO "{schema}"')
    redis = Redis.from_url(settings.redis_url)
    arq = await create_pool(
        redis_settings(settings), job_serializer=serialization.dumps,
        job_deserializer=serialization.loads, default_queue_name=queue,
    )  # fmt: skip
    port = args.port or 18000 + random.randrange(1000)
    tmp = Path(tempfile.mkdtemp(prefix="riskdrift-bench-"))
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "RISKDRIFT_DATABASE_SCHEMA": schema,
        "RISKDRIFT_QUEUE_NAME": queue,
        # One worker kind drains jobs and their webhook attempts, as before the webhooks
        # queue, so the figures stay comparable with the recorded ones.
        "RISKDRIFT_WEBHOOKS_QUEUE_NAME": queue,
        "RISKDRIFT_API_PORT": str(port),
        "RISKDRIFT_AUTH_ENABLED": "false",
        "RISKDRIFT_SUBMIT_RATE_LIMIT": "",
        "RISKDRIFT_MAX_QUEUED_JOBS_PER_TENANT": "1000000",
        "RISKDRIFT_LOG_LEVEL": "WARNING",
        "RISKDRIFT_ANALYSIS_PROCESSES": "0",
        "RISKDRIFT_WEBHOOK_SECRETS": json.dumps([generate_secret()]),
        "RISKDRIFT_WEBHOOK_ALLOWED_CIDRS": '["127.0.0.0/8"]',
        "PYTHONPATH": str(ROOT),
    }
    for item in args.set or []:
        name, _, value = item.partition("=")
        env[name] = value
    bench = Bench(args, settings, env, port, tmp, redis, arq, pg)
    server = await receiver(bench)
    try:
        yield bench
    finally:
        for proc in list(bench.procs):
            await proc.stop()
        server.close()
        await pg.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await pg.close()
        async for key in redis.scan_iter(f"{queue}*", count=1000):
            await redis.delete(key)
        await arq.aclose()
        await redis.aclose()


# --- measurements ----------------------------------------------------------------------------


def callback(bench: Bench) -> dict[str, Any]:
    if bench.args.no_webhooks:
        return BODY
    return {**BODY, "callback_url": f"http://127.0.0.1:{bench.receiver_port}/hook"}


def load_client(bench: Bench, max_connections: int) -> LoadClient:
    """The lean client, ``POST /analyze`` with the jobs' body encoded once."""
    return LoadClient("127.0.0.1", bench.port, "/analyze", callback(bench),
                      max_connections=max_connections, timeout=30)  # fmt: skip


async def submit_many(bench: Bench, n: int, concurrency: int = 16) -> list[float]:
    """POST ``n`` jobs with ``concurrency`` in flight; returns each request's latency (s)."""
    if bench.args.client == "httpx":
        return await submit_many_httpx(bench, n, concurrency)
    latencies: list[float] = []
    todo = iter(range(n))
    clock = time.perf_counter
    async with load_client(bench, concurrency) as client:

        async def one_client() -> None:
            for _ in todo:
                t = clock()
                await client.submit(202)
                latencies.append(clock() - t)

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return latencies


async def submit_many_httpx(bench: Bench, n: int, concurrency: int = 16) -> list[float]:
    """:func:`submit_many` with ``httpx.AsyncClient`` (``--client httpx``)."""
    latencies: list[float] = []
    body = callback(bench)
    todo = iter(range(n))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=bench.base_url, limits=limits, timeout=30) as http:

        async def one_client() -> None:
            for _ in todo:
                t = time.perf_counter()
                r = await http.post("/analyze", json=body)
                latencies.append(time.perf_counter() - t)
                if r.status_code != 202:
                    raise RuntimeError(f"POST /analyze: {r.status_code} {r.text[:200]}")

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return latencies


async def wait_done(bench: Bench, n: int, *, deadline: float, webhooks: bool) -> float:
    """Wait until ``n`` jobs are finished (webhooks received, or rows completed); end time."""
    async with asyncio.timeout(deadline):
        while True:
            done = bench.received if webhooks else await bench.completed_jobs()
            if done >= n:
                return time.perf_counter()
            await asyncio.sleep(0.005 if webhooks else 0.05)


@dataclass
class Cost:
    """What a measured window cost, per job."""

    jobs: int
    cpu: dict[str, float]
    counts: dict[str, dict[str, Any]]
    commandstats: dict[str, int]

    def per_job(self) -> dict[str, float]:
        n = max(1, self.jobs)
        worker = self.counts.get("worker", {})
        api = self.counts.get("api", {})
        return {
            "worker_cpu_ms": 1000 * self.cpu.get("worker", 0) / n,
            "api_cpu_ms": 1000 * self.cpu.get("api", 0) / n,
            "worker_pg_rt": worker.get("pg", 0) / n,
            "api_pg_rt": api.get("pg", 0) / n,
            "worker_redis_cmds": sum(worker.get("redis", {}).values()) / n,
            "api_redis_cmds": sum(api.get("redis", {}).values()) / n,
            "worker_redis_rt": worker.get("redis_rt", 0) / n,
            "api_redis_rt": api.get("redis_rt", 0) / n,
            "server_redis_cmds": sum(self.commandstats.values()) / n,
            **{
                f"{name}_cpu_ms": 1000 * self.cpu.get(name, 0) / n
                for name in ("bench", "redis_server", "postgres", "machine")
            },
        }


async def measure_cost(
    bench: Bench, procs: dict[str, Proc], jobs: int, run: Callable[[], Awaitable[None]]
) -> Cost:
    """Run ``run`` and return the CPU, Postgres and Redis work it cost the processes."""
    pids = {name: p.pid for name, p in procs.items()}
    cpu0 = cpu_snapshot(pids)
    counts0 = {name: await p.counts() for name, p in procs.items()}
    stats0 = await redis_commandstats(bench.redis)
    await run()
    stats1 = await redis_commandstats(bench.redis)
    cpu = {name: seconds - cpu0[name] for name, seconds in cpu_snapshot(pids).items()}
    counts: dict[str, dict[str, Any]] = {}
    for name, p in procs.items():
        after = await p.counts()
        before = counts0[name]
        counts[name] = {
            "pg": after["pg"] - before["pg"],
            "redis_rt": after["redis_rt"] - before["redis_rt"],
            "redis": {
                k: v - before["redis"].get(k, 0)
                for k, v in after["redis"].items()
                if v - before["redis"].get(k, 0)
            },
        }
    delta = {k: v - stats0.get(k, 0) for k, v in stats1.items() if v - stats0.get(k, 0)}
    delta.pop("info", None)
    return Cost(jobs, cpu, counts, delta)


async def raw_drain(bench: Bench, n: int) -> float:
    """Enqueue ``n`` no-op arq jobs, start a plain arq worker, return its drain rate (jobs/s)."""
    queue = f"{bench.settings.queue_name}:raw"
    ids = [f"raw-{uuid.uuid4().hex}" for _ in range(n)]
    for chunk in range(0, n, 500):
        await asyncio.gather(
            *(bench.arq.enqueue_job("noop", _job_id=i, _queue_name=queue)
              for i in ids[chunk : chunk + 500])
        )  # fmt: skip
    worker = await bench.start("worker-raw", "raw", {"RISKDRIFT_QUEUE_NAME": queue})
    try:
        async with asyncio.timeout(max(60, n / 50)):
            while await bench.redis.zcard(queue):  # noqa: ASYNC110 - polling Redis
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    finally:
        await bench.stop(worker)
    starts, finishes = [], []
    for chunk in range(0, n, 500):
        for result in await asyncio.gather(*(_result(bench, i) for i in ids[chunk : chunk + 500])):
            if result is not None:
                starts.append(result[0])
                finishes.append(result[1])
    if len(finishes) < n:
        print(f"  (raw drain: {len(finishes)}/{n} results found)")
    return len(finishes) / max(1e-9, max(finishes) - min(starts))


async def _result(bench: Bench, job_id: str) -> tuple[float, float] | None:
    raw = await bench.redis.get(f"arq:result:{job_id}")
    if raw is None:
        return None
    data = serialization.loads(raw)
    return data["st"] / 1000, data["ft"] / 1000


async def riskdrift_drain(bench: Bench, n: int, workers: int = 1) -> tuple[float, Cost | None]:
    """Submit ``n`` jobs over HTTP with no worker running, then drain them; jobs/s and cost."""
    api = next(p for p in bench.procs if p.role == "api")
    await submit_many(bench, n)
    bench.received = 0
    webhooks = not bench.args.no_webhooks
    cost: Cost | None = None
    # The rate runs from the first job's started_at, so worker start-up is not counted.
    started = [await bench.start("worker", "riskdrift") for _ in range(workers)]
    try:

        async def run() -> None:
            await wait_done(bench, n, deadline=max(120, n / 20), webhooks=webhooks)

        cost = await measure_cost(bench, {"api": api}, n, run)
    finally:
        for w in started:
            await bench.stop(w)
    rate = await drain_rate(bench, n, webhooks=webhooks)
    if os.environ.get("BENCH_DEBUG"):
        print(await bench.pg.fetch(
            """SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY
                   extract(epoch FROM finished_at - started_at)) AS run_s,
                   count(*) FROM jobs"""))  # fmt: skip
    await bench.pg.execute("TRUNCATE jobs, analysis_results, webhook_deliveries CASCADE")
    return rate, cost


async def drain_rate(bench: Bench, n: int, *, webhooks: bool) -> float:
    """``n`` jobs over the time from the first job's ``started_at`` to the last webhook
    delivered (or job finished): worker start-up is not counted."""
    first: float = await bench.pg.fetchval(
        "SELECT extract(epoch FROM min(started_at)) FROM jobs WHERE status = 'completed'"
    )
    if webhooks:
        last: float = await bench.pg.fetchval(
            "SELECT extract(epoch FROM max(delivered_at)) FROM webhook_deliveries"
        )
    else:
        last = await bench.pg.fetchval(
            "SELECT extract(epoch FROM max(finished_at)) FROM jobs WHERE status = 'completed'"
        )
    return n / max(1e-9, float(last) - float(first))


async def pipeline(bench: Bench, worker: Proc, api: Proc, n: int) -> tuple[float, Cost]:
    """Submit ``n`` jobs over HTTP while the worker drains; jobs/s from first POST to last done."""
    bench.received = 0
    webhooks = not bench.args.no_webhooks
    rate = 0.0

    async def run() -> None:
        nonlocal rate
        t0 = time.perf_counter()
        await submit_many(bench, n)
        t1 = await wait_done(bench, n, deadline=max(120, n / 20), webhooks=webhooks)
        rate = n / (t1 - t0)

    cost = await measure_cost(bench, {"worker": worker, "api": api}, n, run)
    await bench.pg.execute("TRUNCATE jobs, analysis_results, webhook_deliveries CASCADE")
    return rate, cost


async def open_loop(bench: Bench, rate: float, seconds: float) -> tuple[list[float], float]:
    """``POST /analyze`` at ``rate``/s on schedule (latency from the scheduled send time).

    Up to 256 connections, opened as the requests in flight need them.
    """
    if bench.args.client == "httpx":
        body = callback(bench)
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
        async with httpx.AsyncClient(base_url=bench.base_url, limits=limits, timeout=30) as http:
            await http.get("/healthz")

            async def post_httpx() -> int:
                return (await http.post("/analyze", json=body)).status_code

            return await _on_schedule(post_httpx, rate, seconds)
    async with load_client(bench, 256) as client:
        await client.warm()  # as httpx's GET /healthz: the first request finds a connection

        async def post() -> int:
            return (await client.post())[0]

        return await _on_schedule(post, rate, seconds)


async def _on_schedule(
    post: Callable[[], Awaitable[int]], rate: float, seconds: float
) -> tuple[list[float], float]:
    """Call ``post`` (returning the status) ``rate`` times a second for ``seconds``, each
    on time whatever the ones before; latencies from the scheduled time, achieved rate."""
    n = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    t0 = time.perf_counter()

    async def one(at: float) -> None:
        nonlocal errors
        status = await post()
        latencies.append(time.perf_counter() - at)
        errors += status != 202

    tasks = []
    try:
        for i in range(n):
            at = t0 + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(at)))
        await asyncio.gather(*tasks)
    finally:  # cancelled as background load: take the requests in flight down too
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    achieved = n / (time.perf_counter() - t0)
    if errors:
        print(f"  ({errors} non-202 answers at {rate:g}/s)")
    return latencies, achieved


async def pickup(bench: Bench, n: int) -> tuple[list[float], list[float]]:
    """``n`` jobs one at a time: POST returned → ``job_started`` received over SSE.

    Returns (received-over-SSE latencies, worker-side latencies from the event's own
    ``at`` stamp, same host clock); each job is followed to its end before the next.
    """
    received, stamped = [], []
    body = callback(bench)
    async with httpx.AsyncClient(base_url=bench.base_url, timeout=30) as http:
        for _ in range(n):
            await asyncio.sleep(random.uniform(0.01, 0.06))  # desynchronise from poll ticks
            r = await http.post("/analyze", json=body)
            t_wall, t0 = time.time(), time.perf_counter()
            job_id = r.json()["job_id"]
            async with asyncio.timeout(30), aconnect_sse(http, "GET", f"/stream/{job_id}") as es:
                async for sse in es.aiter_sse():
                    if sse.event == "job_started":
                        received.append(time.perf_counter() - t0)
                        at = json.loads(sse.data)["at"]
                        stamped.append(dt.datetime.fromisoformat(at).timestamp() - t_wall)
                    if sse.event in ("job_completed", "job_failed"):
                        break
    return received, stamped


# --- the run ---------------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{1000 * x:.1f}"


TARGET_SUBMIT_RATE = 200.0  # req/s at which submit p99 is judged


@dataclass
class Targets:
    """The benchmark issue's targets, judged on this run's medians."""

    raw: float
    pipeline: float
    submit_p99_ms: float | None = None  # at TARGET_SUBMIT_RATE, a worker draining
    pickup_ms: tuple[float, float] | None = None  # idle worker, SSE received p50, p99

    def print(self) -> None:
        def verdict(ok: bool) -> str:
            return "met" if ok else "**missed**"

        rows = [
            ("pipeline ≥ 50 % of raw arq drain", f"{self.pipeline / self.raw:.0%}",
             verdict(self.pipeline >= self.raw / 2)),
            ("pipeline > 470 jobs/s (Celery's raw no-op drain)", f"{self.pipeline:.0f} jobs/s",
             verdict(self.pipeline > 470)),
        ]  # fmt: skip
        if self.pickup_ms is not None:
            p50, p99 = self.pickup_ms
            rows.append(("idle pickup p50 ≤ 15 ms, p99 ≤ 50 ms", f"{p50:.1f} / {p99:.1f} ms",
                         verdict(p50 <= 15 and p99 <= 50)))  # fmt: skip
        if self.submit_p99_ms is not None:
            rows.append((f"submit p99 ≤ 20 ms at {TARGET_SUBMIT_RATE:g} req/s (worker draining)",
                         f"{self.submit_p99_ms:.1f} ms",
                         verdict(self.submit_p99_ms <= 20)))  # fmt: skip
        print("\n## Targets (this run)")
        print("| target | this run | |")
        print("|---|---|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")


async def main_async(args: argparse.Namespace) -> None:
    runs = args.runs
    print(f"# riskdrift service benchmark — {platform.node()} {os.cpu_count()} CPU, "
          f"Python {platform.python_version()}, {'quick' if args.quick else 'full'}, "
          f"client={args.client}")  # fmt: skip
    async with bench_environment(args) as bench:
        redis_info = await bench.redis.info("server")
        pg_version = await bench.pg.fetchval("SHOW server_version")
        poll = bench.env.get("RISKDRIFT_WORKER_POLL_DELAY", bench.settings.worker_poll_delay)
        max_jobs = bench.env.get("RISKDRIFT_WORKER_MAX_JOBS", bench.settings.worker_max_jobs)
        print(f"# Redis {redis_info['redis_version']}, Postgres {pg_version}; "
              f"poll_delay={poll} max_jobs={max_jobs} "
              f"webhooks={'off' if args.no_webhooks else 'on'}; logs in {bench.tmp}")  # fmt: skip
        api = await bench.start_api()
        await submit_many(bench, 20)  # warm the API up (routes, prepared statements)
        await bench.pg.execute("TRUNCATE jobs, analysis_results, webhook_deliveries CASCADE")

        # 1. throughput: raw arq drain vs riskdrift drain vs the HTTP pipeline, interleaved.
        raw, drain, pipe = [], [], []
        costs: list[Cost] = []
        for _ in range(runs):
            raw.append(await raw_drain(bench, args.jobs))
            rate, _ = await riskdrift_drain(bench, args.jobs)
            drain.append(rate)
            worker = await bench.start_worker("riskdrift", bench.settings.queue_name)
            prate, cost = await pipeline(bench, worker, api, args.jobs)
            pipe.append(prate)
            costs.append(cost)
            await bench.stop(worker)
        print("\n## Throughput (no-op jobs, one worker process), jobs/s")
        print("| measure | median | runs |")
        print("|---|---|---|")

        def runs(values: list[float]) -> str:
            return ", ".join(f"{x:.0f}" for x in values)

        print(f"| raw arq drain (same worker knobs) | {median(raw):.0f} | {runs(raw)} |")
        print(
            f"| riskdrift drain (backlog, + webhook jobs) | {median(drain):.0f} | {runs(drain)} |"
        )
        pipe_label = "riskdrift pipeline (HTTP submit while draining)"
        print(f"| {pipe_label} | {median(pipe):.0f} | {runs(pipe)} |")
        print(f"| ratio drain / raw | {median(drain) / median(raw):.0%} | |")
        print(f"| ratio pipeline / raw | {median(pipe) / median(raw):.0%} | |")

        # 2. per-job cost, from the pipeline runs.
        per = [c.per_job() for c in costs]
        print("\n## Per-job cost (pipeline runs, medians)")
        print("| cost | worker | API |")
        print("|---|---|---|")
        for label, key in (("CPU ms/job", "cpu_ms"), ("Postgres round trips/job", "pg_rt"),
                           ("Redis commands/job", "redis_cmds"),
                           ("Redis round trips/job", "redis_rt")):  # fmt: skip
            w = median([p[f"worker_{key}"] for p in per])
            a = median([p[f"api_{key}"] for p in per])
            print(f"| {label} | {w:.2f} | {a:.2f} |")
        print(f"| Redis server commands/job (INFO commandstats, all clients) | "
              f"{median([p['server_redis_cmds'] for p in per]):.1f} | |")  # fmt: skip
        print("\n## Where the machine's CPU goes, ms per job (pipeline runs, medians)")
        print("| worker | API | bench client + receiver | Redis server | Postgres | all other "
              "| whole machine | = ceiling on these cores |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        roles = ("worker", "api", "bench", "redis_server", "postgres", "machine")
        shares = {k: median([p[f"{k}_cpu_ms"] for p in per]) for k in roles}
        other = shares["machine"] - sum(v for k, v in shares.items() if k != "machine")
        ceiling = 1000 * (psutil.cpu_count() or 1) / max(1e-9, shares["machine"])
        print(f"| {shares['worker']:.2f} | {shares['api']:.2f} | {shares['bench']:.2f} | "
              f"{shares['redis_server']:.2f} | {shares['postgres']:.2f} | {other:.2f} | "
              f"{shares['machine']:.2f} | {ceiling:.0f} jobs/s |")  # fmt: skip
        # One worker process runs one event loop: it cannot use more than one core.
        worker_ceiling = 1000 / max(1e-9, shares["worker"])
        print(
            f"\nOne worker process is one event loop, one core at most: at "
            f"{shares['worker']:.2f} ms/job it completes at most {worker_ceiling:.0f} jobs/s."
        )
        targets = Targets(raw=median(raw), pipeline=median(pipe))
        last = costs[-1]
        for role in ("worker", "api"):
            top = sorted(last.counts[role]["redis"].items(), key=lambda kv: -kv[1])
            print(f"\n{role} Redis commands per job: "
                  + ", ".join(f"{k} {v / last.jobs:.2f}" for k, v in top[:12]))  # fmt: skip

        if args.only_throughput:
            targets.print()
            return
        # 3. submit latency at a fixed rate, and the closed-loop maximum (worker running).
        print("\n## Submit latency, POST /analyze")
        print("| offered | achieved | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|")
        # The API alone first (jobs pile up, then are thrown away), then with a worker
        # draining on the same cores.
        for rate in args.rates:
            lat, achieved = await open_loop(bench, rate, args.seconds)
            print(f"| {rate:g}/s, no worker running | {achieved:.0f}/s | {ms(pct(lat, 50))} | "
                  f"{ms(pct(lat, 99))} | {ms(max(lat))} |")  # fmt: skip
        await bench.redis.delete(bench.settings.queue_name)
        await bench.pg.execute("TRUNCATE jobs, analysis_results, webhook_deliveries CASCADE")
        worker = await bench.start_worker("riskdrift", bench.settings.queue_name)
        for rate in args.rates:
            lat, achieved = await open_loop(bench, rate, args.seconds)
            print(f"| {rate:g}/s, worker draining | {achieved:.0f}/s | {ms(pct(lat, 50))} | "
                  f"{ms(pct(lat, 99))} | {ms(max(lat))} |")  # fmt: skip
            if rate == TARGET_SUBMIT_RATE:
                targets.submit_p99_ms = pct(lat, 99) * 1000
        t0 = time.perf_counter()
        closed = await submit_many(bench, args.jobs)
        print(f"| closed loop, 16 in flight | {args.jobs / (time.perf_counter() - t0):.0f}/s | "
              f"{ms(pct(closed, 50))} | {ms(pct(closed, 99))} | {ms(max(closed))} |")  # fmt: skip
        async with asyncio.timeout(120):
            while await bench.redis.zcard(bench.settings.queue_name):  # noqa: ASYNC110
                await asyncio.sleep(0.1)

        # 4. pickup latency, idle and under load.
        print("\n## Pickup latency: POST returned → job_started (ms)")
        print("| condition | SSE received p50 | p99 | worker stamp p50 | p99 |")
        print("|---|---|---|---|---|")
        rec, stamp = await pickup(bench, args.pickups)
        print(f"| idle worker | {ms(pct(rec, 50))} | {ms(pct(rec, 99))} | "
              f"{ms(pct(stamp, 50))} | {ms(pct(stamp, 99))} |")  # fmt: skip
        targets.pickup_ms = (pct(rec, 50) * 1000, pct(rec, 99) * 1000)
        load_rate = args.load_rate
        load = asyncio.create_task(open_loop(bench, load_rate, args.seconds * 3))
        await asyncio.sleep(0.5)
        rec, stamp = await pickup(bench, min(args.pickups, int(args.seconds * 3 * 8)))
        load.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load
        print(f"| under {load_rate:g} submits/s | {ms(pct(rec, 50))} | {ms(pct(rec, 99))} | "
              f"{ms(pct(stamp, 50))} | {ms(pct(stamp, 99))} |")  # fmt: skip
        print(f"\nRSS: API {rss_mib(api.pid):.0f} MiB, worker {rss_mib(worker.pid):.0f} MiB")
        await bench.stop(worker)
        await bench.pg.execute("TRUNCATE jobs, analysis_results, webhook_deliveries CASCADE")
        targets.print()

        # 5. scaling (full runs): worker processes and queue depth.
        if args.workers:
            print("\n## Drain rate by worker processes (backlog of "
                  f"{args.jobs * 2} jobs), jobs/s")  # fmt: skip
            print("| workers | jobs/s |")
            print("|---|---|")
            for w in args.workers:
                rate, _ = await riskdrift_drain(bench, args.jobs * 2, workers=w)
                print(f"| {w} | {rate:.0f} |")
        if args.depths:
            print("\n## Queue depth: submit p50/p99 at that depth, drain cost per job")
            print("| queued | submit p50 ms | p99 ms | drain jobs/s | worker CPU ms/job | "
                  "PG rt/job | Redis cmds/job |")  # fmt: skip
            print("|---|---|---|---|---|---|---|")
            for depth in args.depths:
                await submit_many(bench, depth)
                lat = await submit_many(bench, 200, concurrency=1)
                rate, cost = await _depth_drain(bench, depth + 200)
                p = cost.per_job()
                print(f"| {depth} | {ms(pct(lat, 50))} | {ms(pct(lat, 99))} | {rate:.0f} | "
                      f"{p['worker_cpu_ms']:.2f} | {p['worker_pg_rt']:.1f} | "
                      f"{p['worker_redis_cmds']:.1f} |")  # fmt: skip


async def _depth_drain(bench: Bench, n: int) -> tuple[float, Cost]:
    """Drain the ``n`` jobs already queued with one worker; jobs/s and cost."""
    bench.received = 0
    webhooks = not bench.args.no_webhooks
    api = next(p for p in bench.procs if p.role == "api")
    worker = await bench.start("worker", "riskdrift")
    await worker.counting()

    async def run() -> None:
        await wait_done(bench, n, deadline=max(120, n / 20), webhooks=webhooks)

    try:
        cost = await measure_cost(bench, {"worker": worker, "api": api}, n, run)
    finally:
        await bench.stop(worker)
    rate = await drain_rate(bench, n, webhooks=webhooks)
    await bench.pg.execute("TRUNCATE jobs, analysis_results, webhook_deliveries CASCADE")
    return rate, cost


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="fewer jobs and runs (< 3 minutes)")
    p.add_argument("--jobs", type=int, help="jobs per throughput run")
    p.add_argument("--runs", type=int, help="throughput runs (median reported)")
    p.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=None)
    p.add_argument("--seconds", type=float, default=None, help="open-loop seconds per rate")
    p.add_argument("--load-rate", type=float, default=100.0, help="submits/s during pickup")
    p.add_argument("--pickups", type=int, default=None)
    p.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=None)
    p.add_argument("--depths", type=lambda s: [int(x) for x in s.split(",")], default=None)
    p.add_argument("--no-webhooks", action="store_true", help="jobs without a callback_url")
    p.add_argument("--only-throughput", action="store_true", help="stop after the cost table")
    p.add_argument("--port", type=int, default=0)
    p.add_argument(
        "--client",
        choices=("lean", "httpx"),
        default="lean",
        help="load client for POST /analyze: lean (bench/loadgen.py) or httpx",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="ENV=VALUE",
        help="environment for the API and workers, e.g. RISKDRIFT_WORKER_MAX_JOBS=16",
    )
    args = p.parse_args(argv)
    quick = args.quick
    args.jobs = args.jobs or (300 if quick else 2000)
    args.runs = args.runs or (3 if quick else 5)
    args.rates = args.rates or ([200.0] if quick else [100.0, 200.0, 400.0, 600.0])
    args.seconds = args.seconds or (4.0 if quick else 8.0)
    args.pickups = args.pickups or (40 if quick else 200)
    if not quick:
        args.workers = args.workers or [1, 2, 4]
        args.depths = args.depths or [10, 100, 1000, 10000]
    return args


def main() -> None:
    asyncio.run(main_async(parse_args()))


if __name__ == "__main__":
    main()
