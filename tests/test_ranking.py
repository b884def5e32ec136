"""``GET /batches/{id}/ranking`` over a small corpus batch: real API, worker, Postgres, Redis.

The figures are checked against each job's own result (the similarities it reports) and
the ranking's own definition (riskdrift/analysis/ranking.py); the CSV against the JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from selectolax.lexbor import LexborHTMLParser

from riskdrift.api.app import create_app
from riskdrift.config import Settings
from tests.conftest import eventually, serve
from tests.corpus import needs_corpus
from tests.test_batches import worker

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(settings: Settings, db: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        serve(create_app(settings)) as base_url,
        httpx.AsyncClient(base_url=base_url, timeout=30) as http,
    ):
        yield http


@needs_corpus
async def test_a_corpus_batch_ranked_by_change(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # AAPL has no fiscal 2023 in the corpus: its job fails and is not ranked.
    tickers = ["AMZN", "HD", "IBM", "META", "AAPL"]
    accepted = await client.post("/batches", json={"tickers": tickers, "years": [2024, 2023]})
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    async with worker(settings):

        async def finished() -> bool:
            return bool((await client.get(f"/batches/{batch_id}")).json()["status"] == "completed")

        await eventually(finished, deadline=300, interval=0.2)

    response = await client.get(f"/batches/{batch_id}/ranking")
    assert response.status_code == 200, response.text
    ranking = response.json()
    assert (ranking["batch_id"], ranking["by"], ranking["completed"]) == (batch_id, "change", 4)
    rows = ranking["rows"]
    assert sorted(r["ticker"] for r in rows) == ["AMZN", "HD", "IBM", "META"]

    results: dict[str, dict[str, Any]] = {}
    for row in rows:
        results[row["ticker"]] = (await client.get(f"/jobs/{row['job_id']}/result")).json()
        similarity = results[row["ticker"]]["similarity"]
        assert row["similarity_min_edit"] == similarity["min_edit"]
        assert row["similarity_jaccard"] == similarity["jaccard"]
        assert row["similarity_cosine"] == similarity["cosine"]
        expected = 1 - (similarity["min_edit"] + similarity["jaccard"] + similarity["cosine"]) / 3
        assert row["change"] == pytest.approx(expected)
        statuses = [risk["status"] for risk in results[row["ticker"]]["risks"]]
        assert row["risks_new"] == statuses.count("new")
        assert row["risks_removed"] == statuses.count("removed")
        assert row["risks_modified"] == statuses.count("modified")
        material = results[row["ticker"]].get("material_changes")
        assert row["material_changes"] == (len(material) if material is not None else None)

    # Most changed first; the percentile of each pair among the four.
    changes = [r["change"] for r in rows]
    assert changes == sorted(changes, reverse=True)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    for row in rows:
        below = sum(1 for c in changes if c < row["change"])
        equal = sum(1 for c in changes if c == row["change"])
        assert row["percentile"] == round(100 * (below + equal / 2) / 4, 2)

    by_cosine = (await client.get(f"/batches/{batch_id}/ranking", params={"by": "cosine"})).json()
    cosines = [r["similarity_cosine"] for r in by_cosine["rows"]]
    assert cosines == sorted(cosines)

    as_csv = await client.get(f"/batches/{batch_id}/ranking", params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["ticker"] for r in parsed] == [r["ticker"] for r in rows]
    for from_csv, from_json in zip(parsed, rows, strict=True):
        for name, value in from_json.items():
            text = from_csv[name]
            if value is None:
                assert text == ""
            elif isinstance(value, float):
                assert float(text) == value, name
            else:
                assert text == str(value), name

    # The report: a chart with one bar per pair and a table of the same figures.
    page = await client.get(f"/batches/{batch_id}/ranking", params={"format": "html"})
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    tree = LexborHTMLParser(page.text)
    bars = tree.css("svg rect.bar")
    assert [b.attributes["data-ticker"] for b in bars] == [r["ticker"] for r in rows]
    widths = [float(b.attributes["width"] or 0) for b in bars]
    assert widths == sorted(widths, reverse=True)
    headers = [th.text() for th in tree.css("thead th")]
    table = [[td.text() for td in tr.css("td")] for tr in tree.css("tbody tr")]
    assert len(table) == len(rows)
    for shown, row in zip(table, rows, strict=True):
        cells = dict(zip(headers, shown, strict=True))
        assert cells["company"] == row["ticker"]
        assert cells["rank"] == str(row["rank"])
        assert cells["years"] == f"{row['current_year']}/{row['previous_year']}"
        assert float(cells["change"]) == pytest.approx(row["change"], abs=5e-5)
        assert float(cells["percentile"]) == row["percentile"]
        assert float(cells["cosine"]) == pytest.approx(row["similarity_cosine"], abs=5e-5)
        assert cells["new"] == str(row["risks_new"])

    bad = await client.get(f"/batches/{batch_id}/ranking", params={"by": "vibes"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "by"
    missing = await client.get("/batches/00000000-0000-0000-0000-000000000000/ranking")
    assert missing.status_code == 404
