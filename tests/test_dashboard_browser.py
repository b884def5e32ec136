"""The dashboard in headless Chromium: a submitted job appears and completes without a reload.

Runs the API (uvicorn, in this loop), a long-running arq worker with the real
research agent over the bundled fictional ACME filings, and Debian's Chromium
driven by Playwright. The screenshot goes to ``test-artifacts/dashboard.png``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.worker.settings import build_worker_settings
from tests.conftest import running_worker, serve

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
