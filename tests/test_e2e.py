"""End to end: the API and a worker as separate processes, a real pair of 10-Ks.

Submits over HTTP, waits for ``completed`` and checks the stored result.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from riskdrift.config import Settings
from riskdrift.models import AnalysisResult
from tests.corpus import REAL10K, needs_corpus
from tests.processes import create_key, running_service, service_env, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture
def service(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """API + one worker process against this test's schema and queue, with auth on;
    yields the base URL and the headers of an API key made with ``riskdrift keys create``."""
    env = service_env(
        settings,
        RISKDRIFT_FILINGS_DIR=str(REAL10K),
        RISKDRIFT_ANALYSIS_PROCESSES="1",
        RISKDRIFT_LOG_FORMAT="json",
        RISKDRIFT_AUTH_ENABLED="true",
    )
    with running_service(env, tmp_path) as base_url:
        yield base_url, {"Authorization": f"Bearer {create_key(env, 'e2e')}"}


@needs_corpus
def test_nvda_pair_completes_with_the_design_result(
    service: tuple[str, dict[str, str]],
) -> None:
    base_url, auth = service
    with httpx.Client(base_url=base_url, timeout=10, headers=auth) as client:
        assert client.get("/jobs", headers={"Authorization": ""}).status_code == 401
        accepted = client.post("/analyze", json={"ticker": "NVDA", "years": [2025, 2024]})
        assert accepted.status_code == 202, accepted.text
        job_id = accepted.json()["job_id"]
        seen_steps: set[str] = set()

        def finished() -> bool:
            job = client.get(f"/jobs/{job_id}").json()
            if job["step"]:
                seen_steps.add(job["step"])
            return job["status"] in ("completed", "failed", "cancelled")

        wait_until(finished, 120, "the job to finish")
        job = client.get(f"/jobs/{job_id}").json()
        assert job["status"] == "completed", job
        assert (job["progress"], job["attempts"]) == (100, 1)
        response = client.get(f"/jobs/{job_id}/result")
        assert response.status_code == 200

    result = AnalysisResult.model_validate_json(response.content)
    assert (result.ticker, result.years, result.cik) == ("NVDA", [2025, 2024], "0001045810")
    assert "NVIDIA" in result.company.upper()
    assert [f.year for f in result.filings] == [2025, 2024]
    assert all(
        f.source == "local" and f.item1a_chars > 50_000 and f.risk_count > 20
        for f in result.filings
    )
    assert all(0 <= v <= 1 for v in result.similarity.model_dump().values())
    statuses = [r.status for r in result.risks]
    matched = statuses.count("modified") + statuses.count("unchanged")
    assert matched > len(statuses) / 2, "consecutive years of one company mostly match"
    assert result.heatmap.rows
    assert len(result.heatmap.values) == len(result.heatmap.rows)
    assert result.summary
    assert result.recommendations
