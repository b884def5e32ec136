"""The dashboard in headless Chromium: a submitted job appears and completes without a reload.

Runs the API (uvicorn, in this loop), a long-running arq worker with the real
research agent over the bundled fictional ACME filings, and Debian's Chromium
driven by Playwright. The screenshot goes to ``test-artifacts/dashboard.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from riskdrift.api.app import create_app
from riskdrift.api.auth import DEFAULT_TENANT
from riskdrift.config import Settings
from riskdrift.models import AnalyzeRequest
from riskdrift.store import jobs
from riskdrift.webhooks import generate_secret
from riskdrift.worker.settings import build_worker_settings
from tests.conftest import eventually, running_worker, serve
from tests.doubles.receiver import Receiver, serve_receiver

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "riskdrift" / "samples" / "filings"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium"),
]


async def test_dashboard_shows_a_job_complete_live(settings: Settings) -> None:
    from playwright.async_api import async_playwright

    settings = settings.model_copy(
        update={"filings_dir": SAMPLES, "filings_source": "local", "worker_metrics_interval": 0.5}
    )
    async with (
        serve(create_app(settings)) as base_url,
        running_worker(build_worker_settings(settings)),
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
        async_playwright() as pw,
    ):
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await page.goto(f"{base_url}/dashboard?key=test-key")
            await page.wait_for_selector("#conn.on", timeout=10_000)
            await page.evaluate("window.__same_page = true")

            accepted = await http.post("/analyze", json={"ticker": "ACME", "years": [2024, 2023]})
            assert accepted.status_code == 202, accepted.text
            job_id = accepted.json()["job_id"]
            await page.wait_for_selector(f'tr[data-job="{job_id}"]', timeout=10_000)
            await page.wait_for_selector(
                f'tr[data-job="{job_id}"][data-status="completed"]', timeout=30_000
            )
            await page.wait_for_selector("#heatmap-svg rect.cell", timeout=10_000)
            assert await page.evaluate("window.__same_page") is True, "the page reloaded"
            cells = await page.locator("#heatmap-svg rect.cell").count()
            result = (await http.get(f"/jobs/{job_id}/result")).json()
            heatmap = result["heatmap"]
            assert cells == len(heatmap["rows"]) * len(heatmap["columns"]) > 0
            assert "ACME" in await page.locator("#result-title").inner_text()
            # The company's history chart (one pair: two years) loads as an image.
            await page.wait_for_function(
                "(() => { const i = document.querySelector('#history-chart');"
                " return i.complete && i.naturalWidth > 0; })()",
                timeout=10_000,
            )
            await page.wait_for_function(
                "document.querySelector('#workers tbody').innerText.includes('/ 4')",
                timeout=15_000,
            )
            assert await page.locator("#status-svg rect").count() == 4
            (ROOT / "test-artifacts").mkdir(exist_ok=True)
            await page.screenshot(
                path=str(ROOT / "test-artifacts" / "dashboard.png"), full_page=True
            )
            await page.close()
        finally:
            await browser.close()


async def test_dashboard_acts_on_jobs(settings: Settings, db: asyncpg.Pool) -> None:
    """Detail, cancel, retry, redeliver, filters, search, paging and charts, in Chromium."""
    from playwright.async_api import async_playwright

    secret = generate_secret()
    settings = settings.model_copy(
        update={
            "filings_dir": SAMPLES,
            "filings_source": "local",
            "worker_metrics_interval": 0.5,
            "webhook_secrets": [SecretStr(secret)],
            "webhook_allowed_cidrs": ["127.0.0.0/8"],
            "webhook_backoff_scale": 0.001,
        }
    )
    # 120 jobs cancelled two hours ago: more than the first page of 100, too old for the feed.
    for _ in range(120):
        await jobs.create_job(
            db, AnalyzeRequest(ticker="OLDCO", years=[2020, 2019]), tenant=DEFAULT_TENANT
        )
    await db.execute(
        "UPDATE jobs SET status = 'cancelled', created_at = created_at - interval '2 hours', "
        "finished_at = now() - interval '2 hours', updated_at = now() - interval '2 hours'"
    )
    async with (
        serve_receiver(secret) as receiver,
        serve(create_app(settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
        async_playwright() as pw,
    ):
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1500, "height": 1400})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{base_url}/dashboard?key=test-key")
            await page.wait_for_selector("#conn.on", timeout=10_000)

            # No worker runs yet: cancel a queued job from its detail.
            queued = await http.post("/analyze", json={"ticker": "ACME", "years": [2024, 2023]})
            queued_id = queued.json()["job_id"]
            await page.click(f'tr[data-job="{queued_id}"]')
            await page.wait_for_selector("#act-cancel:not([disabled])", timeout=10_000)
            assert await page.locator("#act-retry").is_disabled()
            await page.click("#act-cancel")
            await page.wait_for_selector(
                f'tr[data-job="{queued_id}"][data-status="cancelled"]', timeout=10_000
            )
            assert (await http.get(f"/jobs/{queued_id}")).json()["status"] == "cancelled"

            async with running_worker(build_worker_settings(settings)):
                await _act_with_a_worker(page, http, receiver)

            # Filters: failed only (the bad job and its retry), then a ticker, then search.
            await page.select_option("#f-status", "failed")
            await page.wait_for_function(
                "[...document.querySelectorAll('#jobs tbody tr')].every("
                "r => r.dataset.status === 'failed') && "
                "document.querySelectorAll('#jobs tbody tr').length === 2",
                timeout=10_000,
            )
            await page.click("#clear-filters")
            await page.fill("#f-ticker", "oldco")
            await page.dispatch_event("#f-ticker", "change")
            await page.wait_for_function(
                "document.querySelectorAll('#jobs tbody tr').length === 100", timeout=10_000
            )
            # Paging beyond the newest 100.
            await page.click("#older")
            await page.wait_for_function(
                "document.querySelectorAll('#jobs tbody tr').length === 120", timeout=10_000
            )
            assert await page.locator("#older").is_disabled()
            oldest = (await page.locator("#jobs tbody tr").last.get_attribute("data-job")) or ""
            await page.fill("#f-search", oldest[:8])
            await page.wait_for_function(
                "document.querySelectorAll('#jobs tbody tr').length === 1", timeout=10_000
            )
            await page.click("#clear-filters")
            await page.evaluate("window.scrollTo(0, 0)")
            (ROOT / "test-artifacts").mkdir(exist_ok=True)
            await page.screenshot(
                path=str(ROOT / "test-artifacts" / "dashboard-actions.png"), full_page=True
            )
            assert errors == []
            await page.close()
        finally:
            await browser.close()


async def _act_with_a_worker(page: Any, http: httpx.AsyncClient, receiver: Receiver) -> None:
    good = await http.post(
        "/analyze",
        json={"ticker": "ACME", "years": [2024, 2023], "callback_url": receiver.url("ok")},
    )
    bad = await http.post("/analyze", json={"ticker": "ACME", "years": [2024, 2022]})
    good_id, bad_id = good.json()["job_id"], bad.json()["job_id"]
    await page.wait_for_selector(f'tr[data-job="{bad_id}"][data-status="failed"]', timeout=30_000)
    await page.wait_for_selector(
        f'tr[data-job="{good_id}"][data-status="completed"]', timeout=30_000
    )

    # A failed job's detail shows its error; retry makes a new job that fails again.
    await page.click(f'tr[data-job="{bad_id}"]')
    await page.wait_for_function(
        "document.querySelector('#detail-error').innerText.includes('2022')", timeout=10_000
    )
    assert await page.locator(f'tr[data-job="{bad_id}"] td.error').inner_text()
    await page.click("#act-retry")
    await page.wait_for_function(
        "document.querySelector('#action-note').innerText.startsWith('retried as job')",
        timeout=10_000,
    )
    note = await page.locator("#action-note").inner_text()
    retried_id = note.removeprefix("retried as job ").strip()
    await page.wait_for_selector(
        f'tr[data-job="{retried_id}"][data-status="failed"]', timeout=30_000
    )

    # Redeliver the completed job's webhook: a second series reaches the receiver.
    await page.click(f'tr[data-job="{good_id}"]')
    await page.wait_for_function(
        "document.querySelector('#deliveries tbody').innerText.includes('delivered')",
        timeout=15_000,
    )
    assert await page.locator("#act-report").get_attribute("href") == (
        f"/jobs/{good_id}/report?key=test-key"
    )
    await page.wait_for_selector("#heatmap-svg rect.cell", timeout=10_000)
    await page.click("#act-redeliver")
    await page.wait_for_function(
        "document.querySelector('#action-note').innerText.startsWith('redelivery series 2')",
        timeout=10_000,
    )
    await eventually(lambda: _received(receiver, 2), deadline=15)

    # The last hour's charts: one completion and two failures this minute (or the last).
    await page.wait_for_selector("#chart-throughput svg rect.bar", timeout=20_000)
    await page.wait_for_selector("#chart-failures svg rect.bar", timeout=20_000)
    await page.wait_for_selector("#chart-p95 svg circle.point", timeout=20_000)
    assert await page.locator("#chart-failures svg").get_attribute("data-max") == "2"
    await page.wait_for_selector("#workers tbody td.state", timeout=10_000)


async def _received(receiver: Receiver, n: int) -> bool:
    return sum(1 for r in receiver.received if r.verified) >= n
