"""Risk history: a history batch over a corpus company with three consecutive fiscal years
(NVDA 2023-2025), run by a real worker, then ``GET /companies/{ticker}/history`` and the
``riskdrift history`` CLI's series and SVG chart."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import asyncpg
import httpx
import pytest

from riskdrift.config import Settings
from riskdrift.models import AnalysisResult
from riskdrift.render.charts import history_svg
from tests.corpus import needs_corpus
from tests.processes import run_cli, service_env
from tests.test_batches import client, read_sse, worker

pytestmark = pytest.mark.integration
__all__ = ["client"]  # the fixture, shared with tests/test_batches.py


@needs_corpus
async def test_history_of_three_consecutive_years(
    client: httpx.AsyncClient, settings: Settings, db: asyncpg.Pool, tmp_path: Path
) -> None:
    accepted = await client.post(
        "/batches", json={"ticker": "NVDA", "from_year": 2023, "to_year": 2025}
    )
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    assert accepted.json()["total"] == 2
    async with worker(settings):
        status, frames = await read_sse(client, f"/batches/{batch_id}/stream")
    assert status == 200
    assert frames[-1][2]["counts"]["completed"] == 2, frames[-1]

    results = {}
    for row in (await client.get(f"/batches/{batch_id}/results.json")).json()["rows"]:
        raw = await client.get(f"/jobs/{row['job_id']}/result")
        result = AnalysisResult.model_validate_json(raw.content)
        results[result.years[0]] = result
    assert sorted(results) == [2024, 2025]

    response = await client.get("/companies/nvda/history", params={"from": 2023, "to": 2025})
    assert response.status_code == 200, response.text
    history = response.json()
    assert history["ticker"] == "NVDA"
    points = {p["year"]: p for p in history["years"]}
    assert sorted(points) == [2023, 2024, 2025]
    # 2023 is only the previous year of the first pair: its count, no changes.
    assert points[2023]["risk_count"] == results[2024].filings[1].risk_count
    assert points[2023]["new"] is None
    for year in (2024, 2025):
        result = results[year]
        statuses = [r.status for r in result.risks]
        point = points[year]
        assert point["risk_count"] == result.filings[0].risk_count > 0
        assert (point["new"], point["removed"], point["modified"]) == (
            statuses.count("new"),
            statuses.count("removed"),
            statuses.count("modified"),
        )
        assert point["similarity"] == result.similarity.model_dump()
        assert point["tone"] is None or -1 <= point["tone"] <= 1
    # the 2025 filing's count is the same as seen as the previous year of no pair
    assert points[2024]["risk_count"] == results[2025].filings[1].risk_count

    # Another tenant's or an empty range: nothing but the years, no changes.
    empty = (await client.get("/companies/AAPL/history", params={"from": 2020, "to": 2022})).json()
    assert all(p["risk_count"] is None and p["new"] is None for p in empty["years"])
    bad = await client.get("/companies/NVDA/history", params={"from": 2025, "to": 2023})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert (await client.get("/companies/NVDA/history", params={"from": 2023})).status_code == 422

    # The CLI against the same API: the series as text, the chart as SVG, the batch's CSV.
    base = str(client.base_url)
    env = service_env(settings)
    chart_file = tmp_path / "cli.svg"
    shown = await asyncio.to_thread(
        run_cli, env, "history", "NVDA", "2023", "2025", "--chart", str(chart_file), "--api", base
    )
    assert shown.returncode == 0, shown.stderr
    table = shown.stdout.splitlines()
    assert [line.split()[0] for line in table[2:5]] == ["2023", "2024", "2025"]
    assert table[4].split()[1] == str(points[2025]["risk_count"])
    assert ET.fromstring(chart_file.read_text()).tag.endswith("svg")
    as_csv = await asyncio.to_thread(
        run_cli, env, "batch", "results", batch_id, "--csv", "--api", base
    )
    assert as_csv.returncode == 0, as_csv.stderr
    assert as_csv.stdout == (await client.get(f"/batches/{batch_id}/results.csv")).text
    status = await asyncio.to_thread(run_cli, env, "batch", "status", batch_id, "--api", base)
    assert "completed" in status.stdout
    bad = await asyncio.to_thread(
        run_cli, env, "batch", "submit", "NVDA", "NVDA", "--years", "2025", "2024", "--api", base
    )
    assert bad.returncode == 2
    assert "duplicate tickers: NVDA" in bad.stderr

    served = await client.get("/companies/NVDA/history.svg", params={"from": 2023, "to": 2025})
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/svg+xml"
    assert served.text == history_svg(history)
    assert chart_file.read_text() == served.text  # the CLI draws the same chart
    bad_svg = await client.get("/companies/NVDA/history.svg", params={"from": 2025, "to": 2023})
    assert bad_svg.status_code == 422

    svg = history_svg(history)
    chart = tmp_path / "nvda.svg"
    chart.write_text(svg)
    root = ET.fromstring(chart.read_text())
    assert root.tag.endswith("svg")
    lines = [el for el in root.iter() if el.tag.endswith("polyline")]
    assert lines, "the chart draws at least the risk count series"
    first_line = lines[0].attrib["points"].split()
    assert len(first_line) == 3  # one point per year with a risk count
