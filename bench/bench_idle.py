"""What idle workers cost: CPU per process while nothing is queued.

Starts what ``make run`` starts besides the API, ``riskdrift worker`` for the
analysis, embeddings and webhooks queues (each on a queue of its own, in a schema of
its own), waits until each answers its health check, then samples every worker
process and its children (the analysis pool's process) from ``/proc`` over
``--seconds`` and prints each one's share of a core. Target (issue 25): ≤ 1 % each.

    .venv/bin/python bench/bench_idle.py [--seconds 30]

Needs Redis and Postgres (``REDIS_URL`` / ``DATABASE_URL`` or the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import redis  # noqa: E402

from riskdrift.config import Settings  # noqa: E402
from riskdrift.dev.run import stop_processes  # noqa: E402
from riskdrift.queue import health_check_key  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its live children, in seconds."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(c) for c in children.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


async def schema_sql(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--seconds", type=float, default=30.0)
    args = p.parse_args()
    settings = Settings()
    tag = uuid.uuid4().hex[:8]
    queues = {
        "analysis": f"bench-idle:analysis:{tag}",
        "embeddings": f"bench-idle:embeddings:{tag}",
        "webhooks": f"bench-idle:webhooks:{tag}",
    }
    env = {
        **os.environ,
        "RISKDRIFT_DATABASE_SCHEMA": f"bench_idle_{tag}",
        "RISKDRIFT_QUEUE_NAME": queues["analysis"],
        "RISKDRIFT_EMBEDDINGS_QUEUE_NAME": queues["embeddings"],
        "RISKDRIFT_WEBHOOKS_QUEUE_NAME": queues["webhooks"],
        "RISKDRIFT_EMBEDDER": "lexical",
        "RISKDRIFT_LOG_LEVEL": "WARNING",
    }
    r = redis.Redis.from_url(settings.redis_url)
    schema = env["RISKDRIFT_DATABASE_SCHEMA"]
    asyncio.run(schema_sql(settings.database_url, f'CREATE SCHEMA "{schema}"'))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env["RISKDRIFT_FILINGS_DIR"] = tmp
        try:
            for name in queues:
                args_ = ["worker"] if name == "analysis" else ["worker", "--queue", name]
                procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "riskdrift", *args_], env=env, cwd=ROOT
                )
            deadline = time.monotonic() + 120
            while not all(r.exists(health_check_key(q)) for q in queues.values()):
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs.values()):
                    raise SystemExit("the workers did not come up")
                time.sleep(0.2)
            time.sleep(2.0)  # start-up work (migrations, the first cron ticks) is over
            before = {name: cpu_seconds(p.pid) for name, p in procs.items()}
            started = time.monotonic()
            time.sleep(args.seconds)
            elapsed = time.monotonic() - started
            after = {name: cpu_seconds(p.pid) for name, p in procs.items()}
        finally:
            stop_processes(list(procs.values()))
            with r.pipeline() as pipe:
                for q in queues.values():
                    pipe.delete(q, health_check_key(q))
                pipe.execute()
            asyncio.run(schema_sql(settings.database_url, f'DROP SCHEMA "{schema}" CASCADE'))
    poll = os.environ.get("RISKDRIFT_WORKER_POLL_DELAY", settings.worker_poll_delay)
    print(f"idle workers over {elapsed:.0f} s (poll_delay={poll}):")
    print("| worker | CPU, % of a core | target |")
    print("|---|---|---|")
    for name in queues:
        share = (after[name] - before[name]) / elapsed * 100
        print(f"| {name} | {share:.2f} % | ≤ 1 % |")


if __name__ == "__main__":
    main()
