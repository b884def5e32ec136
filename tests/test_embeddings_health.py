"""``arq riskdrift.worker.EmbeddingsWorker --check`` follows the embeddings worker's life."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from riskdrift.config import Settings
from tests.corpus import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

WORKER = "riskdrift.worker.EmbeddingsWorker"


def check(env: dict[str, str]) -> int:
    return subprocess.run(
        [sys.executable, "-m", "arq", WORKER, "--check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    ).returncode


def wait_for_check(env: dict[str, str], expected: int, timeout: float) -> None:
    import time

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check(env) == expected:
            return
    raise AssertionError(f"arq --check did not return {expected} within {timeout} s")


def test_check_follows_embeddings_worker(settings: Settings, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "RISKDRIFT_DATABASE_SCHEMA": settings.database_schema,
        "RISKDRIFT_QUEUE_NAME": settings.queue_name,
        "RISKDRIFT_EMBEDDINGS_QUEUE_NAME": settings.embeddings_queue_name,
        "RISKDRIFT_WORKER_HEALTH_CHECK_INTERVAL": "3",
        "RISKDRIFT_EMBEDDER": "lexical",
    }
    assert check(env) == 1, "no worker yet"
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "arq", WORKER],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_check(env, 0, 60)
        # The analysis queue's health key is another: its check stays false.
        analysis = subprocess.run(
            [sys.executable, "-m", "arq", "riskdrift.worker.AnalysisWorker", "--check"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        )
        assert analysis.returncode == 1
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
        wait_for_check(env, 1, 30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
