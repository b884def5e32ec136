"""Bench-only process entries: the API, riskdrift's worker with a no-op agent, raw arq.

Started by ``bench/bench_service.py`` as subprocesses; never reachable through
Settings or the environment of a real deployment (it lives outside the
package and only this benchmark runs it).

    python bench/service_procs.py api         # create_app(Settings()) under uvicorn
    python bench/service_procs.py riskdrift   # build_worker_settings(..., agent_factory=noop)
    python bench/service_procs.py raw         # a plain arq no-op function, same worker knobs

Settings come from the environment like any process's (``RISKDRIFT_*``,
``REDIS_URL``, ``DATABASE_URL``). ``BENCH_UVLOOP=1`` runs on uvloop (the API:
``0`` forces asyncio, default uvicorn's choice). ``BENCH_STEPS`` is how many
progress steps the no-op agent reports (default: the real agent's six).

Counting: with ``BENCH_COUNT_FILE`` set, the process counts its own Postgres
round trips (asyncpg ``Connection.execute`` without arguments, i.e. simple
queries such as BEGIN/COMMIT and the pool's reset, plus every prepared-statement
execution) and Redis commands (by name) and round trips (packets written:
a pipeline is one), and writes them as JSON to that file on SIGUSR1.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
from arq.worker import func, run_worker
from redis.asyncio import Redis

from riskdrift.agent.progress import ProgressReporter
from riskdrift.agent.research import STEPS
from riskdrift.config import Settings
from riskdrift.logging import configure_logging
from riskdrift.models import (
    AnalysisResult,
    AnalyzeRequest,
    Heatmap,
    SimilarityScores,
)
from riskdrift.store.result_document import ResultDocument
from riskdrift.worker import serialization
from riskdrift.worker.analysis_pool import AnalysisPool
from riskdrift.worker.context import Agent
from riskdrift.worker.resilient import run_resilient
from riskdrift.worker.settings import build_worker_settings, redis_settings


def install_counters(path: str) -> None:
    """Count Postgres round trips and Redis commands in this process; dump them on SIGUSR1."""
    import asyncpg
    from redis.asyncio.connection import AbstractConnection

    counts: dict[str, Any] = {"pg": 0, "redis_rt": 0, "redis": collections.Counter()}
    execute = asyncpg.Connection.execute
    prepared = asyncpg.Connection._execute  # type: ignore[attr-defined]
    pack = AbstractConnection.pack_command
    send = AbstractConnection.send_packed_command

    async def counted_execute(self: Any, query: str, *args: Any, **kw: Any) -> Any:
        if not args:
            counts["pg"] += 1  # a simple query; with args it goes through _execute below
        return await execute(self, query, *args, **kw)

    async def counted_prepared(self: Any, *args: Any, **kw: Any) -> Any:
        counts["pg"] += 1
        return await prepared(self, *args, **kw)

    def counted_pack(self: Any, *args: Any) -> Any:
        name = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
        counts["redis"][name.split()[0].upper()] += 1
        return pack(self, *args)

    async def counted_send(self: Any, *args: Any, **kw: Any) -> Any:
        counts["redis_rt"] += 1
        return await send(self, *args, **kw)

    asyncpg.Connection.execute = counted_execute  # type: ignore[method-assign]
    asyncpg.Connection._execute = counted_prepared  # type: ignore[attr-defined]
    AbstractConnection.pack_command = counted_pack  # type: ignore[method-assign]
    AbstractConnection.send_packed_command = counted_send  # type: ignore[method-assign]

    def dump(signum: int, frame: object) -> None:
        with open(path + ".tmp", "w") as f:
            json.dump({**counts, "redis": dict(counts["redis"])}, f)
        os.replace(path + ".tmp", path)

    signal.signal(signal.SIGUSR1, dump)
    dump(0, None)  # the file's first appearance says "counting": SIGUSR1 is safe from now on


class NoopAgent:
    """Reports the real agent's progress steps and returns a minimal result at once."""

    def __init__(self, steps: int) -> None:
        self.steps = STEPS[:steps]

    async def arun_document(
        self, request: AnalyzeRequest, progress: ProgressReporter
    ) -> ResultDocument:
        """The run's result serialised once, as the worker takes it."""
        return ResultDocument.of(await self.arun(request, progress))

    async def arun(self, request: AnalyzeRequest, progress: ProgressReporter) -> AnalysisResult:
        for step, pct in self.steps:
            await progress(step, pct)
        return AnalysisResult(
            ticker=request.ticker,
            company="Bench Co",
            cik=None,
            years=request.years,
            filings=[],
            similarity=SimilarityScores(cosine=1, jaccard=1, min_edit=1, simple=1),
            risks=[],
            heatmap=Heatmap(rows=[], columns=[], values=[]),
            summary="no-op",
            recommendations=[],
        )


@contextlib.asynccontextmanager
async def noop_agent(
    settings: Settings, *, executor: AnalysisPool | None, pool: asyncpg.Pool, redis: Redis
) -> AsyncIterator[Agent]:
    """Agent factory for :func:`build_worker_settings`."""
    yield NoopAgent(int(os.environ.get("BENCH_STEPS", len(STEPS))))


async def noop(ctx: dict[str, Any]) -> None:
    """The raw arq baseline: a job that does nothing."""


def raw_worker_settings(settings: Settings) -> type:
    """A plain arq worker on the same queue knobs as riskdrift's (no startup, no hooks)."""
    attrs: dict[str, Any] = {
        "functions": [func(noop, name="noop")],
        "queue_name": settings.queue_name,
        "redis_settings": redis_settings(settings),
        "max_jobs": settings.worker_max_jobs,
        # arq at its quickest pickup (it sleeps this long after every poll); riskdrift's
        # worker waits for a wake-up instead (riskdrift/queue/workers.py).
        "poll_delay": 0.01,
        "job_serializer": serialization.dumps,
        "job_deserializer": serialization.loads,
        "keep_result": 3600,
    }
    return type("RawNoopWorker", (), attrs)


def _profiled(run: Callable[[], object], env: str) -> None:
    """``run()``, under cProfile (CPU time: waiting in epoll is not cost) when the
    environment names a stats path prefix in ``env``; stats written on exit."""
    if not os.environ.get(env):
        run()
        return
    import cProfile
    import time

    profile = cProfile.Profile(time.process_time)
    path = f"{os.environ[env]}.{os.getpid()}"

    def dump_and_exit(signum: int, frame: object) -> None:
        # uvicorn re-raises SIGTERM once it has shut down; this handler is the one it
        # found installed, so the API's stats are written before the process ends.
        profile.disable()
        profile.dump_stats(path)
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, dump_and_exit)
    profile.enable()
    run()
    profile.disable()
    profile.dump_stats(path)


def main() -> None:
    mode = sys.argv[1] if len(sys.argv) > 1 else "riskdrift"
    settings = Settings()
    configure_logging(settings)
    if os.environ.get("BENCH_COUNT_FILE"):
        install_counters(os.environ["BENCH_COUNT_FILE"])
    if mode == "api":
        import uvicorn

        from riskdrift.api.app import create_app

        loop = {"1": "uvloop", "0": "asyncio"}.get(os.environ.get("BENCH_UVLOOP", ""), "auto")

        def serve() -> None:
            uvicorn.run(
                create_app(settings),
                host="127.0.0.1",
                port=settings.api_port,
                log_config=None,
                access_log=False,
                loop=loop,
            )

        _profiled(serve, "BENCH_PROFILE_API")
        return
    if os.environ.get("BENCH_UVLOOP") == "1":
        import uvloop

        asyncio.set_event_loop(uvloop.new_event_loop())
    else:
        asyncio.set_event_loop(asyncio.new_event_loop())
    if mode == "raw":
        run_worker(raw_worker_settings(settings))
    elif mode == "riskdrift":
        worker_settings = build_worker_settings(settings, agent_factory=noop_agent)
        # what `riskdrift worker` runs: the resilient, woken worker
        _profiled(lambda: run_resilient(worker_settings), "BENCH_PROFILE")
    else:
        raise SystemExit(f"unknown mode {mode!r}: riskdrift or raw")


if __name__ == "__main__":
    main()
