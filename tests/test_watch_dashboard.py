"""The dashboard's watchlist panel in headless Chromium (issue 24): each watched company with
its status, last filing seen and last analysis, the analysis a click away.

The watch itself runs in-process (:func:`poll_watchlists` over a local filing directory of
synthetic files); the page only reads ``GET /watchlists``.
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import httpx
import pytest
from arq import ArqRedis

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.watch.listing import LocalLister
from riskdrift.watch.scheduler import WatchContext, poll_watchlists
from tests.conftest import serve

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium"),
]


def publish(root: Path, ticker: str, year: int) -> None:
    folder = root / ticker
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f".{year}.part").write_text("<html>10-K</html>")
    os.replace(folder / f".{year}.part", folder / f"{year}.html")


async def test_the_dashboard_lists_watched_companies(
    settings: Settings, db: asyncpg.Pool, redis: ArqRedis, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    filings = tmp_path / "filings"
    publish(filings, "IBM", 2023)
    ctx = WatchContext(
        pool=db,
        redis=redis,
        settings=settings.model_copy(update={"watch_interval": 60}),
        watch_lister=LocalLister([filings]),
    )
    async with (
        serve(create_app(settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
        async_playwright() as pw,
    ):
        created = await http.post("/watchlists", json={"name": "mine", "tickers": ["IBM", "ZZZ"]})
        watchlist_id = created.json()["watchlist_id"]
        await poll_watchlists(ctx)
        publish(filings, "IBM", 2024)
        await db.execute("UPDATE watchlist_companies SET next_poll_at = now()")
        await poll_watchlists(ctx)
        shown = (await http.get(f"/watchlists/{watchlist_id}")).json()
        job_id = next(c for c in shown["companies"] if c["ticker"] == "IBM")["last_job_id"]
        assert job_id

        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await page.goto(f"{base_url}/dashboard")
            ibm = page.locator('#watchlists tr[data-ticker="IBM"][data-status="watching"]')
            await ibm.wait_for(timeout=10_000)
            assert "10-K FY2024 (local:2024)" in await ibm.inner_text()
            unknown = page.locator('#watchlists tr[data-ticker="ZZZ"]')
            assert await unknown.get_attribute("data-status") == "unknown_ticker"
            await ibm.locator(f'a[data-job="{job_id}"]').click()
            await page.wait_for_selector("#detail:not([hidden])", timeout=10_000)
            assert job_id in await page.locator("#detail-id").inner_text()
        finally:
            await browser.close()
