"""SSE fan-out benchmark: N concurrent clients on one API process, events through Redis.

Starts ``python -m riskdrift api`` on a schema of its own, creates ``--jobs``
jobs, and opens ``--clients`` raw HTTP/1.1 connections to ``/stream/{id}``
(spread over ``--client-procs`` client processes, each job watched by
clients/jobs clients). It then XADDs ``step_complete`` events to random jobs
at ``--rate`` per second for ``--duration`` seconds, each stamped with the
time of its XADD, and reports:

* delivery latency, XADD to client receipt: p50 / p99 / max;
* events delivered vs expected (every client must get every event of its job);
* the API's RSS before the clients connected and with them connected (per connection);
* the API's Redis connection count (CLIENT LIST entries on the API process's sockets).

    .venv/bin/python bench/bench_sse.py --clients 5000 --jobs 500
    .venv/bin/python bench/bench_sse.py --sweep 100,1000,5000
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
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from redis.asyncio import Redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from riskdrift.config import Settings  # noqa: E402
from riskdrift.events.publish import stream_key  # noqa: E402
from riskdrift.models import AnalyzeRequest, JobEvent  # noqa: E402
from riskdrift.store import jobs  # noqa: E402
from riskdrift.store.migrate import migrate  # noqa: E402
from riskdrift.store.pool import create_pool  # noqa: E402


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one; returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    """Resident set size of ``pid`` in KiB (``VmRSS`` of /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def local_ports_of(pid: int) -> set[int]:
    """Local TCP ports of the sockets ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            cols = line.split()
            if cols[9] in inodes:
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


async def redis_connections_of(redis: Redis, pid: int) -> int:
    """Redis connections held by ``pid``: CLIENT LIST entries whose port it owns."""
    ports = local_ports_of(pid)
    return sum(
        1 for c in await redis.client_list() if int(str(c["addr"]).rsplit(":", 1)[1]) in ports
    )


# --- client process -----------------------------------------------------------------------


async def one_client(
    port: int,
    job_id: str,
    latencies: list[float],
    counts: dict[str, int],
    ready: asyncio.Event,
    opened: list[int],
    target: int,
    gate: asyncio.Semaphore,
    stop: asyncio.Event,
) -> None:
    async with gate:
        for attempt in range(20):
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.05 * (attempt + 1))
        else:
            raise RuntimeError("could not connect")
        writer.write(
            f"GET /stream/{job_id} HTTP/1.1\r\nHost: bench\r\n"
            f"Accept: text/event-stream\r\n\r\n".encode()
        )
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(f"stream answered {status!r}")
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # headers
        # The first chunk carries the retry hint: the client is subscribed.
        while b"retry:" not in await reader.readline():
            pass
    opened[0] += 1
    if opened[0] == target:
        ready.set()
    try:
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                break
            if line.startswith(b"data: "):
                now = time.time()
                event = json.loads(line[6:])
                at = dt.datetime.fromisoformat(event["at"]).timestamp()
                latencies.append(now - at)
                counts[job_id] = counts.get(job_id, 0) + 1
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def client_process(port: int, job_ids: list[str]) -> None:
    """Open one connection per id, print READY, read until stdin says stop, print results."""
    raise_fd_limit()
    latencies: list[float] = []
    counts: dict[str, int] = {}
    ready = asyncio.Event()
    stop = asyncio.Event()
    opened = [0]
    gate = asyncio.Semaphore(100)
    tasks = [
        asyncio.create_task(
            one_client(port, job, latencies, counts, ready, opened, len(job_ids), gate, stop)
        )
        for job in job_ids
    ]
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if waiter not in done:
        for task in done:
            task.result()
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"latencies": latencies, "counts": counts}), flush=True)


# --- the run ------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def wait_healthy(base_url: str, proc: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(60), httpx.AsyncClient(timeout=2) as http:
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"API exited with {proc.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{base_url}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)


async def run(args: argparse.Namespace, n_clients: int) -> dict[str, Any]:
    base = Settings(_env_file=None)
    tag = uuid.uuid4().hex[:8]
    settings = base.model_copy(
        update={"database_schema": f"bench_{tag}", "queue_name": f"bench:{tag}"}
    )
    admin = await asyncpg.connect(settings.database_url)
    await admin.execute(f'CREATE SCHEMA "{settings.database_schema}"')
    redis = Redis.from_url(settings.redis_url)
    pool = await create_pool(settings)
    port = args.port or 18000 + random.randrange(1000)
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "RISKDRIFT_DATABASE_SCHEMA": settings.database_schema,
        "RISKDRIFT_QUEUE_NAME": settings.queue_name,
        "RISKDRIFT_AUTH_ENABLED": "false",
        "RISKDRIFT_LOG_LEVEL": "WARNING",
        "RISKDRIFT_DB_POOL_MAX": "10",
    }
    api = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "riskdrift",
        "api",
        "--port",
        str(port),
        env=env,
        stdout=subprocess.DEVNULL,
    )
    clients: list[asyncio.subprocess.Process] = []
    keys: list[str] = []
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        n_jobs = min(args.jobs, n_clients)
        job_ids = []
        for _ in range(n_jobs):
            record, _ = await jobs.create_job(
                pool, AnalyzeRequest(ticker="BENCH", years=[2024, 2023]), tenant="default"
            )
            job_ids.append(str(record.id))
        keys = [stream_key(j) for j in job_ids]
        base_url = f"http://127.0.0.1:{port}"
        await wait_healthy(base_url, api)
        async with httpx.AsyncClient(timeout=5) as http:  # warm the routes up
            await http.get(f"{base_url}/jobs/{job_ids[0]}")
        rss_idle = rss_kib(api.pid)
        redis_idle = await redis_connections_of(redis, api.pid)

        assignment = [job_ids[i % n_jobs] for i in range(n_clients)]
        per_proc = [assignment[i :: args.client_procs] for i in range(args.client_procs)]
        started = time.perf_counter()
        for share in per_proc:
            if not share:
                continue
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--client-worker",
                str(port),
                ",".join(share),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                limit=2**28,
            )
            clients.append(proc)
        for proc in clients:
            assert proc.stdout is not None
            async with asyncio.timeout(300):
                line = await proc.stdout.readline()
            if line.strip() != b"READY":
                raise RuntimeError(f"client process failed: {line!r}")
        connect_s = time.perf_counter() - started
        rss_connected = rss_kib(api.pid)
        redis_connected = await redis_connections_of(redis, api.pid)

        # Publish: every event to a random job, stamped with its XADD time.
        published: dict[str, int] = dict.fromkeys(job_ids, 0)
        total = int(args.rate * args.duration)
        tick = 0.01
        per_tick = max(1, round(args.rate * tick))
        t0 = time.perf_counter()
        sent = 0
        while sent < total:
            async with redis.pipeline(transaction=False) as pipe:
                for _ in range(min(per_tick, total - sent)):
                    job = random.choice(job_ids)
                    event = JobEvent(
                        event="step_complete",
                        job_id=uuid.UUID(job),
                        at=dt.datetime.now(dt.UTC),
                        step="bench",
                        progress=50,
                    )
                    pipe.xadd(
                        stream_key(job),
                        {"event": event.event, "data": event.model_dump_json(exclude_none=True)},
                        maxlen=1000,
                        approximate=True,
                    )
                    published[job] += 1
                    sent += 1
                await pipe.execute()
            next_at = t0 + (sent / args.rate)
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        publish_s = time.perf_counter() - t0
        rss_busy = rss_kib(api.pid)
        redis_busy = await redis_connections_of(redis, api.pid)
        await asyncio.sleep(args.settle)

        latencies: list[float] = []
        received = 0
        for proc in clients:
            assert proc.stdin is not None
            proc.stdin.write(b"stop\n")
            await proc.stdin.drain()
        for proc in clients:
            assert proc.stdout is not None
            out = await proc.stdout.read()
            result = json.loads(out.decode().strip().splitlines()[-1])
            latencies.extend(result["latencies"])
            received += sum(result["counts"].values())
        expected = sum(published[job] for job in assignment)
        ms = [v * 1000 for v in latencies]
        return {
            "clients": n_clients,
            "jobs": n_jobs,
            "client_procs": len(clients),
            "events_published": total,
            "rate_per_s": round(total / publish_s, 1),
            "deliveries_expected": expected,
            "deliveries_received": received,
            "latency_ms_p50": round(percentile(ms, 50), 1),
            "latency_ms_p99": round(percentile(ms, 99), 1),
            "latency_ms_max": round(max(ms), 1) if ms else None,
            "latency_ms_mean": round(statistics.fmean(ms), 1) if ms else None,
            "connect_all_s": round(connect_s, 2),
            "api_rss_idle_mib": round(rss_idle / 1024, 1),
            "api_rss_connected_mib": round(rss_connected / 1024, 1),
            "api_rss_busy_mib": round(rss_busy / 1024, 1),
            "api_rss_per_connection_kib": round((rss_connected - rss_idle) / n_clients, 1),
            "api_redis_connections": [redis_idle, redis_connected, redis_busy],
        }
    finally:
        for proc in clients:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
        api.terminate()
        try:
            async with asyncio.timeout(20):
                await api.wait()
        except TimeoutError:
            api.kill()
            await api.wait()
        await pool.close()
        if keys:
            for i in range(0, len(keys), 500):
                await redis.delete(*keys[i : i + 500])
        await redis.aclose()
        await admin.execute(f'DROP SCHEMA "{settings.database_schema}" CASCADE')
        await admin.close()


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} vCPU {cpu}, {mem:.0f} GiB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client-worker":
        asyncio.run(client_process(int(sys.argv[2]), sys.argv[3].split(",")))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--sweep", help="comma-separated client counts, e.g. 100,1000,5000")
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second, total")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of publishing")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds to let the last events arrive"
    )
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    limit = raise_fd_limit()
    counts = [int(n) for n in args.sweep.split(",")] if args.sweep else [args.clients]
    print(f"# {machine()}; open-files limit {limit}", flush=True)
    for n in counts:
        result = asyncio.run(run(args, n))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
