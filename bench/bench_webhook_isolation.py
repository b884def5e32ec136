"""One tenant's hanging webhook receiver against another tenant's latency.

Runs the API, an analysis worker and a webhooks worker in this process (a no-op
analysis, so what is measured is the service around it) on a Postgres schema and
queues of their own. Tenant A submits ``--hanging`` jobs whose callback never
answers (until the attempt's ``webhook_timeout``); then tenant B submits ``--jobs``
jobs one after another with a callback that answers at once. Prints B's latency,
submit → job completed and submit → webhook received, median and max; then the
same with ``RISKDRIFT_WEBHOOKS_QUEUE_NAME`` set to the analysis queue (attempts on
the analysis workers' slots, as before the webhooks queue, minus the first attempt
inside the analysis job), for comparison.

    .venv/bin/python bench/bench_webhook_isolation.py                 # 24 hanging, 10 jobs
    .venv/bin/python bench/bench_webhook_isolation.py --hanging 48 --jobs 20  # as the issue (slow)

Figures only; nothing is asserted. Needs Redis and Postgres (``REDIS_URL`` /
``DATABASE_URL`` or the defaults).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg
import httpx
import uvicorn
from pydantic import SecretStr
from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from riskdrift.agent.progress import ProgressReporter
from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.models import AnalysisResult, AnalyzeRequest
from riskdrift.queue import create_worker
from riskdrift.store.result_document import ResultDocument
from riskdrift.webhooks.signing import generate_secret
from riskdrift.worker.analysis_pool import AnalysisPool
from riskdrift.worker.context import Agent
from riskdrift.worker.settings import build_webhook_worker_settings, build_worker_settings
from tests.doubles import tiny_result


class Instant:
    async def arun_document(
        self, request: AnalyzeRequest, progress: ProgressReporter
    ) -> ResultDocument:
        """The run's result serialised once, as the worker takes it."""
        return ResultDocument.of(await self.arun(request, progress))

    async def arun(self, request: AnalyzeRequest, progress: ProgressReporter) -> AnalysisResult:
        return tiny_result(request)


@contextlib.asynccontextmanager
async def instant(
    settings: Settings, *, executor: AnalysisPool | None, pool: asyncpg.Pool, redis: Redis
) -> AsyncIterator[Agent]:
    yield Instant()


@contextlib.asynccontextmanager
async def served(app: object, port: int) -> AsyncIterator[None]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")  # type: ignore[arg-type]
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  # uvicorn offers no event for it
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def run(hanging: int, jobs: int, *, separate: bool) -> tuple[list[float], list[float]]:
    base = Settings()
    tag = uuid.uuid4().hex[:10]
    schema = f"bench_{tag}"
    queue = f"bench:analysis:{tag}"
    settings = base.model_copy(
        update={
            "database_schema": schema,
            "queue_name": queue,
            "webhooks_queue_name": f"{queue}:webhooks" if separate else queue,
            "auth_enabled": False,
            "submit_rate_limit": "",
            "webhook_secrets": [SecretStr(generate_secret())],
            "webhook_allowed_cidrs": ["127.0.0.0/8", "::1/128"],
            "webhook_timeout": 30.0,
            "result_cache": False,
            "log_level": "WARNING",
        }
    )
    conn = await asyncpg.connect(base.database_url)
    await conn.execute(f'CREATE SCHEMA "{schema}"')
    await conn.close()

    received: dict[str, float] = {}
    release = asyncio.Event()

    async def hook(request: Request) -> Response:
        body = await request.body()
        if request.path_params["script"] == "slow":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(release.wait(), 60)
        else:
            job_id = httpx.Response(200, content=body).json()["data"]["job_id"]
            received[job_id] = time.monotonic()
        return Response(status_code=204)

    receiver = Starlette(routes=[Route("/hook/{script}", hook, methods=["POST"])])
    api_port, hook_port = free_port(), free_port()
    worker_classes = [build_worker_settings(settings, agent_factory=instant)]
    if separate:
        worker_classes.append(build_webhook_worker_settings(settings))
    workers = [create_worker(c, handle_signals=False, poll_delay=0.01) for c in worker_classes]
    submitted: dict[str, float] = {}
    completed: dict[str, float] = {}
    async with served(create_app(settings), api_port), served(receiver, hook_port):
        tasks = [asyncio.create_task(w.main()) for w in workers]
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as api:
                slow = f"http://localhost:{hook_port}/hook/slow"
                ok = f"http://127.0.0.1:{hook_port}/hook/ok"
                for _ in range(hanging):
                    body = {"ticker": "AAA", "years": [2024, 2023], "callback_url": slow}
                    assert (await api.post("/analyze", json=body)).status_code == 202
                for n in range(jobs):
                    body = {"ticker": f"B{n}", "years": [2024, 2023], "callback_url": ok}
                    started = time.monotonic()
                    answer = await api.post("/analyze", json=body)
                    assert answer.status_code == 202, answer.text
                    job_id = answer.json()["job_id"]
                    submitted[job_id] = started
                    async with asyncio.timeout(300):
                        while True:
                            job = (await api.get(f"/jobs/{job_id}")).json()
                            if job["status"] == "completed" and job_id not in completed:
                                completed[job_id] = time.monotonic()
                            if job_id in received:
                                break
                            await asyncio.sleep(0.01)
        finally:
            release.set()  # A's hanging attempts answer, so the workers can drain
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(30):
                    while any(not t.done() for w in workers for t in w.tasks.values()):  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker.close()
    conn = await asyncpg.connect(base.database_url)
    await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await conn.close()
    done = [completed[j] - submitted[j] for j in submitted]
    hooked = [received[j] - submitted[j] for j in submitted]
    return done, hooked


def line(name: str, values: list[float]) -> str:
    return f"{name} median {statistics.median(values):.3f} s, max {max(values):.3f} s"


async def main(hanging: int, jobs: int) -> None:
    for separate in (True, False):
        mode = "webhooks queue" if separate else "attempts on the analysis queue"
        done, hooked = await run(hanging, jobs, separate=separate)
        print(
            f"{mode}: {hanging} hanging callbacks of tenant A, then {jobs} jobs of tenant B: "
            f"B {line('submit -> completed', done)}; {line('submit -> webhook', hooked)}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hanging", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.hanging, args.jobs))
