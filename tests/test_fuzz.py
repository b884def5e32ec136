"""Property-based fuzzing of the whole HTTP API from its OpenAPI document (schemathesis).

Runs ``st run`` against a real API process (auth on, its own schema and queue) with
every check but ``positive_data_acceptance``: that one expects every schema-valid
request to succeed, but some rules cannot be said in JSON Schema (two *different*
years, a callback only where webhooks are configured, an opaque cursor), and
those correctly answer 422. No 5xx, no response that breaks the schema, no
schema-violating request accepted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from riskdrift.config import Settings
from tests.conftest import free_port
from tests.corpus import ROOT
from tests.test_e2e import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.slow]

ST = Path(sys.executable).with_name("st")


@pytest.fixture
def api(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "RISKDRIFT_DATABASE_SCHEMA": settings.database_schema,
        "RISKDRIFT_QUEUE_NAME": settings.queue_name,
        "RISKDRIFT_AUTH_ENABLED": "true",
        "RISKDRIFT_SUBMIT_RATE_LIMIT": "",
        "RISKDRIFT_MAX_QUEUED_JOBS_PER_TENANT": "100000",
        "RISKDRIFT_LOG_LEVEL": "WARNING",
    }
    with (tmp_path / "api.log").open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "riskdrift", "api", "--port", str(port)],
                                env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, (tmp_path / "api.log").read_text()[-3000:]
        try:
            return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, 60, "the API to become ready")
        created = subprocess.run([sys.executable, "-m", "riskdrift", "keys", "create", "fuzz"],
                                 env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
                                 check=True)
        yield base, {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.skipif(shutil.which(str(ST)) is None, reason="schemathesis is not installed")
def test_schemathesis_finds_no_server_error_or_schema_violation(
    api: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, headers = api
    header_args = [arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")]
    run = subprocess.run(
        [str(ST), "run", f"{base}/openapi.json", *header_args, "--checks", "all",
         "--exclude-checks", "positive_data_acceptance", "--max-examples", "40",
         "--generation-deterministic", "--request-timeout", "10", "--no-color"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "passed" in run.stdout
