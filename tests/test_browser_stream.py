"""A real browser's ``EventSource`` against ``/stream/{id}``: headless Debian Chromium via
Playwright (never a downloaded browser). Checks order, resume after the API restarts
(the browser sends ``Last-Event-ID`` itself) and that ``204`` stops its reconnecting."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from arq import ArqRedis

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from tests.conftest import free_port, serve
from tests.test_dashboard_browser import ARGS, CHROMIUM
from tests.test_stream_helpers import emit, new_job

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium "
        "(apt-get install -y chromium); no browser is downloaded",
    ),
]


async def test_browser_receives_every_event_in_order_across_an_api_restart(
    settings: Settings, db: asyncpg.Pool, redis: ArqRedis
) -> None:
    from playwright.async_api import async_playwright

    job_id = await new_job(db)
    ids = [await emit(redis, settings, job_id, "job_queued")]
    port = free_port()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = await browser.new_page()
            async with serve(create_app(settings), port=port) as base_url:
                await page.goto(f"{base_url}/static/stream-test.html?job={job_id}&keep=1")
                await page.wait_for_function("window.received.length === 1", timeout=10_000)
                ids.append(await emit(redis, settings, job_id, "job_started", attempt=1))
                for n in range(1, 6):
                    ids.append(
                        await emit(
                            redis,
                            settings,
                            job_id,
                            "step_complete",
                            step=f"step{n}",
                            progress=n * 15,
                        )
                    )
                await page.wait_for_function(
                    f"window.received.length === {len(ids)}", timeout=10_000
                )
            # The API is gone; events keep being published.
            for n in range(6, 9):
                ids.append(
                    await emit(
                        redis, settings, job_id, "step_complete", step=f"step{n}", progress=n * 10
                    )
                )
            async with serve(create_app(settings), port=port):
                ids.append(await emit(redis, settings, job_id, "job_completed", progress=100))
                # The browser reconnects with Last-Event-ID, gets the rest, and after the
                # terminal event its next reconnect gets 204 and it stops for good.
                await page.wait_for_function("window.done === true", timeout=20_000)
                received: list[dict[str, Any]] = await page.evaluate("window.received")
                opens: int = await page.evaluate("window.opens")
                ready_state: int = await page.evaluate("source.readyState")
                bar = await page.evaluate("document.getElementById('bar').value")
        finally:
            await browser.close()
    assert [r["id"] for r in received] == ids
    assert [r["event"] for r in received] == [
        "job_queued",
        "job_started",
        *["step_complete"] * 8,
        "job_completed",
    ]
    assert all(r["data"]["job_id"] == str(job_id) for r in received)
    assert opens == 2  # the reconnect after the end got 204, so it never opened again
    assert ready_state == 2  # EventSource.CLOSED
    assert bar == 100
