"""``riskdrift jobs …`` as a user runs it: a separate process against a real API.

The API (uvicorn, auth on) runs in the test's loop over its own Postgres schema
and Redis queue; a burst worker runs the real research agent over the bundled
ACME sample filings, and a loopback receiver takes the completed job's webhook.
The CLI is ``python -m riskdrift``, pointed at the API by ``RISKDRIFT_API_URL``
and ``RISKDRIFT_API_KEY`` as the README says. Every error is one line on stderr,
exit status 2, no traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.dev.run import sample_filings_dir
from riskdrift.models import AnalysisResult, Job, JobAccepted, WebhookDeliveryList
from riskdrift.store.api_keys import create_key
from riskdrift.webhooks import generate_secret
from riskdrift.worker.settings import build_worker_settings
from tests.conftest import burst_worker, serve
from tests.processes import run_cli

pytestmark = pytest.mark.integration


@dataclass
class Service:
    """A running API, a key for it, and the CLI's environment pointing at both."""

    url: str
    key: str
    http: httpx.AsyncClient  # the same key, for setting jobs up
    settings: Settings

    def env(self, **overrides: str) -> dict[str, str]:
        return {
            **os.environ,
            "RISKDRIFT_API_URL": self.url,
            "RISKDRIFT_API_KEY": self.key,
            **overrides,
        }

    async def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(run_cli, self.env(**env), *args, timeout=60)

    async def submit(self, ticker: str, callback_url: str | None = None) -> str:
        body: dict[str, object] = {"ticker": ticker, "years": [2024, 2023]}
        if callback_url:
            body["callback_url"] = callback_url
        accepted = await self.http.post("/analyze", json=body)
        assert accepted.status_code == 202, accepted.text
        return str(accepted.json()["job_id"])

    async def drain(self) -> None:
        """Run every queued job to its end with the real agent over the sample filings."""
        worker = burst_worker(build_worker_settings(self.settings))
        try:
            await worker.main()
        finally:
            await worker.close()


@pytest.fixture
async def service(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[Service]:
    settings = settings.model_copy(
        update={
            "auth_enabled": True,
            "filings_dir": sample_filings_dir(),
            "filings_source": "local",
            "webhook_secrets": [SecretStr(generate_secret())],
        }
    )
    async with db.acquire() as conn:
        _, key = await create_key(conn, name="cli", tenant="cli")
    async with (
        serve(create_app(settings)) as url,
        httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        ) as http,
    ):
        yield Service(url, key, http, settings)


@pytest.fixture
async def receiver() -> AsyncIterator[str]:
    """A webhook endpoint that takes everything; yields its URL."""

    async def hook(request: Request) -> Response:
        await request.body()
        return Response(status_code=204)

    async with serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as url:
        yield f"{url}/hook"


def one_line_error(run: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    for text in expected:
        assert text in run.stderr, run.stderr


def ok(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return run.stdout


async def test_list_show_and_result_of_finished_jobs(service: Service, receiver: str) -> None:
    done = await service.submit("ACME", callback_url=receiver)
    failed = await service.submit("ZZZZ")
    await service.drain()
    queued = await service.submit("ACME")

    table = ok(await service.cli("jobs", "list")).splitlines()
    assert table[0].split()[:4] == ["job", "id", "status", "ticker"]
    rows = {line.split()[0]: line.split() for line in table[1:]}
    assert list(rows) == [queued, failed, done]  # newest first
    assert rows[done][1:4] == ["completed", "ACME", "2024/2023"]
    assert rows[queued][-1] == "-"  # never ran: no run time
    assert rows[failed][1] == "failed"
    assert "no 10-K for ZZZZ" in " ".join(rows[failed])

    listed = json.loads(ok(await service.cli("jobs", "list", "--json")))
    assert [Job.model_validate(j).job_id for j in listed] == [
        uuid.UUID(queued),
        uuid.UUID(failed),
        uuid.UUID(done),
    ]
    only_failed = json.loads(ok(await service.cli("jobs", "list", "--status", "failed", "--json")))
    assert [j["job_id"] for j in only_failed] == [failed]
    acme = ok(await service.cli("jobs", "list", "--ticker", "acme"))
    assert failed not in acme
    assert done in acme
    assert queued in acme
    # every job here was submitted by a client: none started by a watchlist
    by_watch = json.loads(ok(await service.cli("jobs", "list", "--trigger", "watch", "--json")))
    assert by_watch == []
    by_api = json.loads(ok(await service.cli("jobs", "list", "--trigger", "api", "--json")))
    assert [j["job_id"] for j in by_api] == [queued, failed, done]

    first = await service.cli("jobs", "list", "--limit", "1", "--json")
    assert [j["job_id"] for j in json.loads(ok(first))] == [queued]
    assert "--all for every page" in first.stderr
    every = await service.cli("jobs", "list", "--limit", "1", "--all", "--json")
    assert [j["job_id"] for j in json.loads(ok(every))] == [queued, failed, done]
    assert every.stderr == ""

    shown = ok(await service.cli("jobs", "show", done))
    fields = dict(line.split(None, 1) for line in shown.splitlines() if line.strip())
    assert fields["status:"] == "completed"
    assert fields["attempts:"] == "1"
    assert fields["callback:"] == receiver
    assert f"{service.url}/jobs/{done}/report" in shown
    assert "run time:" in shown
    assert "(queued " in shown
    as_json = Job.model_validate_json(ok(await service.cli("jobs", "show", failed, "--json")))
    assert as_json.status == "failed"
    assert "no 10-K for ZZZZ" in (as_json.error or "")
    assert "error:" in ok(await service.cli("jobs", "show", failed))

    report = ok(await service.cli("jobs", "result", done))
    for part in ("ACME", "Summary", "Heatmap"):
        assert part in report
    result = AnalysisResult.model_validate_json(
        ok(await service.cli("jobs", "result", done, "--json"))
    )
    assert (result.ticker, result.years) == ("ACME", [2024, 2023])

    one_line_error(await service.cli("jobs", "result", failed), "(409)", "job failed: no 10-K")
    one_line_error(await service.cli("jobs", "result", queued), "(409)", "job is queued")


async def test_cancel_retry_and_deliveries(service: Service, receiver: str) -> None:
    done = await service.submit("ACME", callback_url=receiver)
    failed = await service.submit("ZZZZ")
    await service.drain()
    queued = await service.submit("ACME")

    assert ok(await service.cli("jobs", "cancel", queued)).strip() == f"job {queued} cancelled"
    one_line_error(await service.cli("jobs", "cancel", queued), "(409)", "already cancelled")
    one_line_error(await service.cli("jobs", "cancel", done), "(409)", "already completed")

    retried = ok(await service.cli("jobs", "retry", failed)).split()
    assert (retried[0], retried[2], retried[-1]) == ("job", "queued", f"{failed})")
    new = retried[1]
    assert (await service.http.get(f"/jobs/{new}")).json()["ticker"] == "ZZZZ"
    again = JobAccepted.model_validate_json(
        ok(await service.cli("jobs", "retry", queued, "--json"))
    )  # cancelled: retryable too
    assert again.status == "queued"
    one_line_error(await service.cli("jobs", "retry", done), "(409)", "only failed or cancelled")

    shown = ok(await service.cli("jobs", "deliveries", done))
    head, *attempts = shown.splitlines()
    assert head.split()[1:3] == ["job.completed", "delivered"]
    assert "series 1, 1 attempt" in head
    assert attempts[0].split()[0] == "1.1"
    assert "HTTP 204" in attempts[0]
    listed = WebhookDeliveryList.model_validate_json(
        ok(await service.cli("jobs", "deliveries", done, "--json"))
    )
    (delivery,) = listed.deliveries
    assert (delivery.status, delivery.series, len(delivery.attempts)) == ("delivered", 1, 1)

    redone = ok(await service.cli("jobs", "deliveries", done, "--redeliver"))
    assert f"job.completed webhook {delivery.webhook_id}, series 2" in redone
    assert "series 2, 0 attempts" in redone  # queued for the webhook worker, not sent yet

    assert "no webhook deliveries" in ok(await service.cli("jobs", "deliveries", failed))
    one_line_error(
        await service.cli("jobs", "deliveries", failed, "--redeliver"), "(409)", "no callback_url"
    )


async def test_errors_are_one_line(service: Service) -> None:
    nobody = str(uuid.uuid4())
    for command in ("show", "result", "cancel", "retry", "deliveries"):
        one_line_error(await service.cli("jobs", command, nobody), "(404)", f"no job {nobody}")
    one_line_error(
        await service.cli("jobs", "list", RISKDRIFT_API_KEY="rdk_wrong"),
        "list jobs failed (401)",
        "missing or invalid API key",
        "--key",
    )
    one_line_error(
        await service.cli("jobs", "list", "--api", "http://127.0.0.1:1"),
        "cannot reach the API at http://127.0.0.1:1",
        "RISKDRIFT_API_URL",
    )
    one_line_error(
        await service.cli("jobs", "show", nobody, "--api", "http://127.0.0.1:1"),
        "cannot reach the API at http://127.0.0.1:1",
    )

    bad_id = await service.cli("jobs", "show", "not-a-job")
    assert bad_id.returncode == 2
    assert "invalid UUID value: 'not-a-job'" in bad_id.stderr
    assert "Traceback" not in bad_id.stderr
    bad_status = await service.cli("jobs", "list", "--status", "done")
    assert bad_status.returncode == 2
    assert "invalid choice: 'done'" in bad_status.stderr


def test_durations_read_like_a_person_writes_them() -> None:
    from riskdrift.client.jobs import span

    assert [span(s) for s in (0.42, 12.4, 185, 7620)] == ["0.4s", "12s", "3m05s", "2h07m"]
