"""Property-based fuzzing of the whole HTTP API from its OpenAPI document (schemathesis).

Runs ``st run`` against a real API process (auth on, its own schema and queue) with
every check but ``positive_data_acceptance``: that one expects every schema-valid
request to succeed, but some rules cannot be said in JSON Schema (two *different*
years, a callback only where webhooks are configured, an opaque cursor), and
those correctly answer 422. No 5xx, no response that breaks the schema, no
schema-violating request accepted.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskdrift.config import Settings
from tests.processes import create_key, running_service, service_env

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

ST = Path(sys.executable).with_name("st")


@pytest.fixture
def api(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = service_env(
        settings,
        RISKDRIFT_AUTH_ENABLED="true",
        RISKDRIFT_SUBMIT_RATE_LIMIT="",
        RISKDRIFT_MAX_QUEUED_JOBS_PER_TENANT="100000",
        RISKDRIFT_LOG_LEVEL="WARNING",
    )
    with running_service(env, tmp_path, workers=0) as base_url:
        yield base_url, {"Authorization": f"Bearer {create_key(env, 'fuzz')}"}


@pytest.mark.skipif(shutil.which(str(ST)) is None, reason="schemathesis is not installed")
def test_schemathesis_finds_no_server_error_or_schema_violation(
    api: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, headers = api
    header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    run = subprocess.run(
        [
            str(ST),
            "run",
            f"{base}/openapi.json",
            *header_args,
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "40",
            "--generation-deterministic",
            "--request-timeout",
            "10",
            "--no-color",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "passed" in run.stdout
