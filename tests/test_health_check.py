"""``arq riskdrift.worker.<Queue>Worker --check`` tells the truth within a minute, per queue."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riskdrift.config import Settings
from tests.corpus import ROOT
from tests.processes import service_env

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

WORKERS = {
    "analysis": "riskdrift.worker.AnalysisWorker",
    "embeddings": "riskdrift.worker.EmbeddingsWorker",
    "webhooks": "riskdrift.worker.WebhookWorker",
}


def check(worker: str, env: dict[str, str]) -> int:
    return subprocess.run(
        [sys.executable, "-m", "arq", worker, "--check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    ).returncode


def wait_for_check(worker: str, env: dict[str, str], expected: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check(worker, env) == expected:
            return time.monotonic() - started
    raise AssertionError(f"{worker} --check did not return {expected} within {timeout} s")


@pytest.mark.parametrize(
    ("queue", "stop"),
    [
        ("analysis", signal.SIGTERM),
        ("analysis", signal.SIGKILL),
        ("embeddings", signal.SIGTERM),
        ("webhooks", signal.SIGTERM),
    ],
    ids=["analysis-sigterm", "analysis-sigkill", "embeddings-sigterm", "webhooks-sigterm"],
)
def test_check_follows_worker_liveness(
    settings: Settings, tmp_path: Path, queue: str, stop: signal.Signals
) -> None:
    env = service_env(
        settings,
        RISKDRIFT_EMBEDDINGS_QUEUE_NAME=settings.embeddings_queue_name,
        RISKDRIFT_WEBHOOKS_QUEUE_NAME=f"{settings.queue_name}:webhooks",  # its own health key
        RISKDRIFT_WORKER_HEALTH_CHECK_INTERVAL="3",
        RISKDRIFT_FILINGS_DIR=str(tmp_path),
        RISKDRIFT_EMBEDDER="lexical",
    )
    worker_class = WORKERS[queue]
    other = next(w for w in WORKERS.values() if w != worker_class)
    assert check(worker_class, env) == 1, "no worker yet"
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "arq", worker_class],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_check(worker_class, env, 0, 60)
        assert check(other, env) == 1, "each queue has its own health key"
        worker.send_signal(stop)
        worker.wait(timeout=30)
        # SIGTERM deletes the health key at once; after SIGKILL it expires (interval + 1 s).
        assert wait_for_check(worker_class, env, 1, 60) < 60
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
