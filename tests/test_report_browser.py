"""The HTML report in headless Chromium, reached from the dashboard as an operator would.

A real API and worker analyse NVIDIA's fiscal 2025 against 2024 (the shared corpus);
the dashboard's job detail links to the report, which must render its heatmap, mark
its redlines, filter by category and status, show trivial edits only when asked, and
log no console errors (its CSP
would report any attempt to load something from outside). Screenshots go to
``test-artifacts/report*.png``.
"""

from __future__ import annotations

import httpx
import pytest

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from riskdrift.worker.settings import build_worker_settings
from tests.conftest import running_worker, serve
from tests.corpus import REAL10K, needs_corpus
from tests.test_dashboard_browser import ARGS, CHROMIUM, ROOT

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.corpus,
    needs_corpus,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no Chromium at /usr/bin/chromium"),
]


async def test_report_renders_from_the_dashboard_link(settings: Settings) -> None:
    from playwright.async_api import async_playwright

    settings = settings.model_copy(update={"filings_dir": REAL10K, "filings_source": "local"})
    async with (
        serve(create_app(settings)) as base_url,
        running_worker(build_worker_settings(settings)),
        httpx.AsyncClient(base_url=base_url, timeout=10) as http,
        async_playwright() as pw,
    ):
        accepted = await http.post("/analyze", json={"ticker": "NVDA", "years": [2025, 2024]})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 1000})
            problems: list[str] = []
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.goto(f"{base_url}/dashboard")
            await page.wait_for_selector(
                f'tr[data-job="{job_id}"][data-status="completed"]', timeout=60_000
            )
            await page.click(f'tr[data-job="{job_id}"]')
            await page.wait_for_selector("#act-report:not([hidden])", timeout=10_000)
            async with page.expect_popup() as popup:
                await page.click("#act-report")
            report = await popup.value
            report.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            report.on("pageerror", lambda e: problems.append(str(e)))
            await report.wait_for_load_state()
            assert report.url == f"{base_url}/jobs/{job_id}/report"

            result = (await http.get(f"/jobs/{job_id}/result")).json()
            heatmap = result["heatmap"]
            cells = report.locator("svg.heatmap g.cell rect")
            assert await cells.count() == len(heatmap["rows"]) * len(heatmap["columns"]) > 0
            box = await report.locator("svg.heatmap").bounding_box()
            assert box is not None
            assert box["width"] > 400
            assert box["height"] > 200
            assert await report.locator("article.modified .redline ins").count() > 0
            assert await report.locator("article.modified .redline del").count() > 0
            ins_colour = await report.locator(".redline ins").first.evaluate(
                "e => getComputedStyle(e).backgroundColor"
            )
            assert ins_colour not in ("rgba(0, 0, 0, 0)", "transparent")
            (ROOT / "test-artifacts").mkdir(exist_ok=True)
            await report.screenshot(path=str(ROOT / "test-artifacts" / "report.png"))

            # Filters: one category, then modified risks off.
            total = len(result["risks"])
            category = "financial/liquidity"
            in_category = [r for r in result["risks"] if r["category"] == category]
            assert in_category, "NVIDIA's indebtedness risk is financial/liquidity"
            await report.select_option("#f-category", category)
            assert await report.locator("article.risk:visible").count() == len(in_category)
            await report.uncheck('#filters input[value="modified"]')
            left = [r for r in in_category if r["status"] != "modified"]
            assert await report.locator("article.risk:visible").count() == len(left)
            assert await report.locator("#f-count").inner_text() == f"{len(left)} shown"
            removed = report.locator("article.removed:visible")
            assert "Our indebtedness" in await removed.first.inner_text()
            await report.select_option("#f-category", "")
            await report.check('#filters input[value="modified"]')
            assert await report.locator("article.risk:visible").count() == total

            # Trivial edits read as this year's text until "show trivial edits" is ticked.
            in_modified = sum(
                len(r["changes"]["trivial_edits"]) for r in result["risks"]
                if r["status"] == "modified" and r["changes"]
            )  # fmt: skip
            assert in_modified > 0, "NVIDIA 2025 adds serial commas: trivial edits"
            diffs, plain = ".trivial-diff:visible", "article.modified .trivial-text:visible"
            assert await report.locator(diffs).count() == 0
            assert await report.locator(plain).count() == in_modified
            await report.check("#f-trivial")
            assert await report.locator(f"article.modified {diffs}").count() == in_modified
            assert await report.locator(plain).count() == 0
            await report.locator("article.modified .trivial").first.scroll_into_view_if_needed()
            await report.screenshot(path=str(ROOT / "test-artifacts" / "report-trivial.png"))
            await report.uncheck("#f-trivial")
            assert await report.locator(diffs).count() == 0
            await report.locator("#risk-6").scroll_into_view_if_needed()
            await report.screenshot(path=str(ROOT / "test-artifacts" / "report-redline.png"))
            assert problems == []
        finally:
            await browser.close()
