"""``GET /jobs/{id}/report``, ``?fields=``/``?exclude=`` on the result, and ``riskdrift report``.

A real API and a real worker (the research agent over the bundled ACME filings),
real Redis and Postgres.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

import riskdrift
from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.render.html import CONTENT_SECURITY_POLICY
from tests.conftest import serve
from tests.test_dashboard_api import drain

pytestmark = pytest.mark.integration

SAMPLES = Path(riskdrift.__file__).parent / "samples" / "filings"


@pytest.fixture
def local(settings: Settings) -> Settings:
    return settings.model_copy(update={"filings_dir": SAMPLES, "filings_source": "local"})


@pytest.fixture
async def client(local: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(create_app(local)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
    ):
        yield http


async def _completed(client: httpx.AsyncClient, local: Settings) -> str:
    accepted = await client.post("/analyze", json={"ticker": "ACME", "years": [2024, 2023]})
    assert accepted.status_code == 202, accepted.text
    await drain(local)
    job_id: str = accepted.json()["job_id"]
    assert (await client.get(f"/jobs/{job_id}")).json()["status"] == "completed"
    return job_id


async def test_report_of_a_finished_job_is_a_self_contained_page(
    client: httpx.AsyncClient, local: Settings
) -> None:
    job_id = await _completed(client, local)
    job = (await client.get(f"/jobs/{job_id}")).json()
    assert job["links"]["report"] == f"/jobs/{job_id}/report"

    report = await client.get(job["links"]["report"])
    assert report.status_code == 200
    assert report.headers["content-type"] == "text/html; charset=utf-8"
    assert report.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert 'filename="riskdrift-ACME-2024-2023.html"' in report.headers["content-disposition"]
    result = (await client.get(f"/jobs/{job_id}/result")).json()
    assert html.escape(result["company"]) in report.text
    assert report.text.count('<article class="risk') == len(result["risks"])
    assert "<svg" in report.text


async def test_report_of_an_unfinished_or_failed_job_is_a_409_problem(
    client: httpx.AsyncClient, local: Settings
) -> None:
    queued = (await client.post("/analyze", json={"ticker": "ACME", "years": [2024, 2023]})).json()
    early = await client.get(f"/jobs/{queued['job_id']}/report")
    assert early.status_code == 409
    assert early.headers["content-type"] == "application/problem+json"
    assert early.json()["detail"] == "job is queued"
    assert early.headers["retry-after"] == "2"

    # The bundled samples have no ACME 2022: the job fails for good.
    bad = (await client.post("/analyze", json={"ticker": "ACME", "years": [2024, 2022]})).json()
    await drain(local)
    failed = await client.get(f"/jobs/{bad['job_id']}/report")
    assert failed.status_code == 409
    assert failed.json()["detail"].startswith("job failed: ")
    assert "2022" in failed.json()["detail"]
    assert "retry-after" not in failed.headers


async def test_result_fields_and_exclude_leave_parts_out(
    client: httpx.AsyncClient, local: Settings
) -> None:
    job_id = await _completed(client, local)
    url = f"/jobs/{job_id}/result"
    full = (await client.get(url)).json()
    assert all("text_current" in r and "changes" in r for r in full["risks"])

    slim = (await client.get(url, params={"exclude": "texts"})).json()
    assert set(slim) == set(full)
    for risk in slim["risks"]:
        assert not {"text_current", "text_previous", "changes"} & set(risk)
        assert "drift_score" in risk
    assert len(slim["risks"]) == len(full["risks"])

    picked = (await client.get(url, params={"fields": "ticker,years,risks.status"})).json()
    assert picked == {
        "ticker": full["ticker"],
        "years": full["years"],
        "risks": [{"status": r["status"]} for r in full["risks"]],
    }
    assert (await client.get(url, params={"exclude": "heatmap,narrative"})).json().keys() == (
        set(full) - {"heatmap", "narrative"}
    )

    for params in ({"fields": "tickr"}, {"exclude": "risks.nope"}, {"fields": "a", "exclude": "b"}):
        bad = await client.get(url, params=params)
        assert bad.status_code == 400, params
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["errors"], params


async def test_cli_report_writes_the_html_and_the_csv(
    client: httpx.AsyncClient, local: Settings, tmp_path: Path
) -> None:
    job_id = await _completed(client, local)
    page, table = tmp_path / "acme.html", tmp_path / "acme.csv"

    async def cli(*args: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "riskdrift", "report", *args, "--api", str(client.base_url),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "RISKDRIFT_API_KEY": ""},
        )  # fmt: skip
        out, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return process.returncode, out.decode()

    code, out = await cli(job_id, "-o", str(page), "--csv", str(table))
    assert code == 0, out
    served = (await client.get(f"/jobs/{job_id}/report")).text
    assert page.read_text(encoding="utf-8") == served
    result = (await client.get(f"/jobs/{job_id}/result")).json()
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
    assert [r["status"] for r in rows] == [r["status"] for r in result["risks"]]

    queued = (await client.post("/analyze", json={"ticker": "ACME", "years": [2024, 2023]})).json()
    code, out = await cli(queued["job_id"], "-o", str(tmp_path / "no.html"))
    assert code != 0
    assert "job is queued" in out
    assert "Traceback" not in out
    assert not (tmp_path / "no.html").exists()
