"""The filing watch against the recorded EDGAR: 500 watched companies, a 10-minute interval.

The recorded EDGAR of ``bench_edgar_batch.py`` (real HTTP on 127.0.0.1, SEC's 10 req/s
enforced with a token bucket, 50 ms per answer) serves 500 synthetic companies; here it
also answers conditional requests (``ETag`` / ``If-None-Match`` → ``304``) as EDGAR does,
and holds back the newest 10-K of ``SYN000`` (NVIDIA's fiscal 2025 filing) until phase 3.
One ``riskdrift worker`` process (EDGAR source, ``RISKDRIFT_WATCH_INTERVAL=600``) runs the
watch cron; a loopback receiver takes the ``filing.analysed`` webhook. Phases:

1. baseline: a watchlist of the 500 companies is created; every company is due at once,
   and the cron's first polls record what each has filed (requests, 429s, time, the
   worker's CPU per company);
2. steady state: every company is made due again (as one interval later): the polls are
   conditional requests answered ``304`` (requests per poll, the worker's CPU per poll,
   and so the request rate at 500 companies / 600 s);
3. a filing appears: SYN000's fiscal 2025 10-K is added to its index and the company made
   due; measured from then to its ``filing.analysed`` webhook, split into the wait for a
   tick, the analysis and the announcement. (At the real cadence add the wait for the
   company's next poll: on average half the interval.)

    .venv/bin/python bench/bench_watch.py [--companies 500]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_edgar_batch import CORPUS, RATE, RecordedEdgar, start_worker  # noqa: E402
from riskdrift.config import Settings  # noqa: E402
from riskdrift.webhooks import generate_secret  # noqa: E402

HELD_BACK = "0001045810-25-000023"  # NVIDIA's fiscal 2025 10-K, SYN000's newest filing


class WatchedEdgar(RecordedEdgar):
    """The recorded EDGAR with ETags and a filing held back (module docstring)."""

    def __init__(self, companies: int, latency: float, per_mb: float) -> None:
        super().__init__(companies, latency, per_mb)
        self.held: dict[int, dict[str, list[Any]]] = {}
        self.not_modified = 0
        first = self.companies[0][1]
        recent = self.submissions[first]["filings"]["recent"]  # type: ignore[index]
        keep = [i for i, a in enumerate(recent["accessionNumber"]) if a != HELD_BACK]
        self.held[first] = {k: list(v) for k, v in recent.items() if isinstance(v, list)}
        for name, column in self.held[first].items():
            recent[name] = [column[i] for i in keep]

    def file_held_back(self) -> None:
        """SYN000 files its fiscal 2025 10-K: its index holds it again."""
        for cik, columns in self.held.items():
            self.submissions[cik]["filings"]["recent"].update(columns)  # type: ignore[index]
        self.held.clear()

    async def dispatch(self, request: Request) -> Response:
        response = await super().dispatch(request)
        if request.url.path.startswith("/data/submissions/") and response.status_code == 200:
            etag = f'"{hashlib.sha256(response.body).hexdigest()[:16]}"'
            if request.headers.get("if-none-match") == etag:
                self.not_modified += 1
                return Response(status_code=304, headers={"ETag": etag})
            response.headers["ETag"] = etag
        return response


class Receiver:
    """Takes webhooks; remembers when each arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.arrived = asyncio.Event()

    async def hook(self, request: Request) -> Response:
        self.received.append((time.perf_counter(), json.loads(await request.body())))
        self.arrived.set()
        return Response(status_code=204)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _serve(app: Starlette) -> tuple[str, uvicorn.Server, socket.socket]:
    sock = _free_socket()
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", uvicorn.Server(config), sock


def _cpu_of_tree(root: int) -> float:
    """CPU seconds used so far by ``root``'s children (the worker processes), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
            stats[int(stat.parent.name)] = (int(fields[1]), cpu)
    tree, frontier = set(), {root}
    while frontier:
        tree |= frontier
        frontier = {pid for pid, (ppid, _) in stats.items() if ppid in frontier} - tree
    return sum(stats[pid][1] for pid in tree if pid in stats)


async def run(args: argparse.Namespace) -> None:
    from riskdrift.store import watchlists
    from riskdrift.store.migrate import migrate
    from riskdrift.store.pool import create_pool

    edgar = WatchedEdgar(args.companies, args.latency, args.per_mb)
    receiver = Receiver()
    edgar_url, edgar_server, edgar_sock = _serve(edgar.app())
    hook_url, hook_server, hook_sock = _serve(receiver.app())
    serving = [
        asyncio.create_task(edgar_server.serve(sockets=[edgar_sock])),
        asyncio.create_task(hook_server.serve(sockets=[hook_sock])),
    ]
    base = Settings(_env_file=None)
    tag = uuid.uuid4().hex[:10]
    settings = base.model_copy(
        update={"database_schema": f"bench_{tag}", "queue_name": f"bench:analysis:{tag}"}
    )
    admin = await create_pool(base, min_size=1, max_size=1)
    await admin.execute(f'CREATE SCHEMA "{settings.database_schema}"')
    db = await create_pool(settings, min_size=2, max_size=4)
    async with db.acquire() as conn:
        await migrate(conn)
    cache_dir = Path(tempfile.mkdtemp(prefix="bench-watch-cache-"))
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "RISKDRIFT_DATABASE_SCHEMA": settings.database_schema,
        "RISKDRIFT_QUEUE_NAME": settings.queue_name,
        "RISKDRIFT_FILINGS_SOURCE": "edgar",
        "RISKDRIFT_EDGAR_BASE_URL": f"{edgar_url}/www",
        "RISKDRIFT_EDGAR_DATA_URL": f"{edgar_url}/data",
        "RISKDRIFT_EDGAR_USER_AGENT": "riskdrift-bench ops@riskdrift.example",
        "RISKDRIFT_EDGAR_REQUESTS_PER_SECOND": str(RATE),
        "RISKDRIFT_EDGAR_CACHE_DIR": str(cache_dir),
        "RISKDRIFT_WATCH_INTERVAL": str(args.interval),
        "RISKDRIFT_WEBHOOK_SECRETS": generate_secret(),
        "RISKDRIFT_WEBHOOK_ALLOWED_CIDRS": '["127.0.0.0/8"]',
        "RISKDRIFT_ANALYSIS_PROCESSES": "1",
        "RISKDRIFT_LOG_FORMAT": "json",
        "RISKDRIFT_LOG_LEVEL": "info",
    }
    worker, log = await asyncio.to_thread(start_worker, env, 1)
    n = len(edgar.companies)
    idle_rate = 0.0

    async def polled_since(at: Any) -> int:
        count: int = await db.fetchval(
            "SELECT count(*) FROM watchlist_companies WHERE last_polled_at > $1", at
        )
        return count

    async def started() -> None:
        async with asyncio.timeout(120):
            while "worker_started" not in await asyncio.to_thread(log.read_text):
                if worker.poll() is not None:
                    raise SystemExit(f"worker exited: {log.read_text()[-3000:]}")
                await asyncio.sleep(0.1)

    async def phase(name: str, started_db: Any, expected: int) -> float:
        cpu0, t0, counts0 = _cpu_of_tree(worker.pid), time.perf_counter(), dict(edgar.counts)
        throttled0, not_modified0 = edgar.throttled, edgar.not_modified
        async with asyncio.timeout(900):
            while await polled_since(started_db) < expected:
                if worker.poll() is not None:
                    raise SystemExit(f"worker exited: {log.read_text()[-3000:]}")
                await asyncio.sleep(0.2)
        wall = time.perf_counter() - t0
        # Less what the idle worker burns anyway (arq's queue polls, health checks, metrics).
        cpu = _cpu_of_tree(worker.pid) - cpu0 - idle_rate * wall
        requests = {k: v - counts0.get(k, 0) for k, v in edgar.counts.items()}
        total = sum(requests.values())
        print(
            f"{name}: {expected} companies polled in {wall:.1f} s (cron ticks every "
            f"{min(args.interval, 30)} s); requests {requests}, of them 304 "
            f"{edgar.not_modified - not_modified0} ({total / expected:.2f} per poll), "
            f"429s {edgar.throttled - throttled0}; the watch's worker CPU {cpu:.2f} s "
            f"({cpu / expected * 1000:.1f} ms per poll; idle cost {idle_rate * wall:.2f} s "
            "taken out)"
        )
        return total / expected

    try:
        print(
            f"bench_watch: {n} companies, interval {args.interval} s, EDGAR {RATE:g} req/s, "
            f"latency {args.latency * 1000:g} ms; 1 worker process; load average "
            f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
        )
        await started()
        await asyncio.sleep(2)  # its start-up ticks (reconcile, an empty watch) are over
        cpu0, t0 = _cpu_of_tree(worker.pid), time.perf_counter()
        await asyncio.sleep(args.idle_seconds)
        idle_rate = (_cpu_of_tree(worker.pid) - cpu0) / (time.perf_counter() - t0)
        print(f"   the idle worker uses {idle_rate * 100:.1f} % of a core")
        created = await watchlists.create_watchlist(
            db,
            tenant="bench",
            name="universe",
            tickers=[t for t, _, _ in edgar.companies],
            forms=["10-K"],
            callback_url=f"{hook_url}/hook",
            backfill_years=None,
            max_companies=args.companies,
            max_watchlists=1,
        )
        start = await db.fetchval("SELECT now() - interval '1 second'")
        await phase("1 baseline", start, n)
        await asyncio.sleep(1)  # let the last baseline tick's writes settle
        again = await db.fetchval("SELECT now()")
        await db.execute("UPDATE watchlist_companies SET next_poll_at = now()")
        per_poll = await phase("2 steady state", again, n)
        print(
            f"   at {n} companies / {args.interval} s: {n * per_poll * 60 / args.interval:.0f} "
            f"requests a minute ({n * per_poll / args.interval:.2f}/s, "
            f"{n * per_poll / args.interval / RATE:.0%} of the {RATE:g}/s pace)"
        )
        edgar.file_held_back()
        filed = time.perf_counter()
        await db.execute(
            "UPDATE watchlist_companies SET next_poll_at = now() WHERE watchlist_id = $1 "
            "AND ticker = 'SYN000'",
            created.id,
        )
        async with asyncio.timeout(600):
            await receiver.arrived.wait()
        arrived, body = receiver.received[0]
        job = await db.fetchrow(
            "SELECT created_at, started_at, finished_at, status FROM jobs WHERE id = $1",
            uuid.UUID(body["data"]["job_id"]),
        )
        assert job is not None
        noticed = await db.fetchval(
            "SELECT seen_at FROM watch_filings WHERE filing_key = $1 AND ticker = 'SYN000'",
            HELD_BACK,
        )
        analysis = (job["finished_at"] - job["started_at"]).total_seconds()
        queued = (job["started_at"] - noticed).total_seconds()
        total = arrived - filed
        print(
            f"3 filing appeared (company due) → filing.analysed webhook: {total:.1f} s "
            f"(job {job['status']}: queued {queued:.2f} s, analysis {analysis:.1f} s; the rest "
            f"is waiting for the poll's tick, ≤ {min(args.interval, 30)} s, and the "
            f"announcing tick, ≤ 5 s); at the real cadence add the wait for the "
            f"company's next poll, {args.interval / 2:.0f} s on average"
        )
    finally:
        worker.terminate()
        await asyncio.to_thread(worker.wait, 60)
        for server in (edgar_server, hook_server):
            server.should_exit = True
        await asyncio.gather(*serving)
        await db.close()
        await admin.execute(f'DROP SCHEMA "{settings.database_schema}" CASCADE')
        await admin.close()
        if "BENCH_KEEP_LOG" in os.environ:
            print(f"worker log: {log}")
        else:
            log.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=500)
    parser.add_argument("--interval", type=int, default=600)
    parser.add_argument(
        "--idle-seconds", type=float, default=15.0, help="measure the idle worker's CPU so long"
    )
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--per-mb", type=float, default=0.1, help="seconds per MB of body")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"bench_watch: skipped, no corpus at {CORPUS}")
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
