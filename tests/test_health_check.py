"""``arq riskdrift.worker.AnalysisWorker --check`` tells the truth within a minute."""

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


def check(env: dict[str, str]) -> int:
    return subprocess.run(
        [sys.executable, "-m", "arq", "riskdrift.worker.AnalysisWorker", "--check"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    ).returncode


def wait_for_check(env: dict[str, str], expected: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check(env) == expected:
            return time.monotonic() - started
    raise AssertionError(f"arq --check did not return {expected} within {timeout} s")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_check_follows_worker_liveness(
    settings: Settings, tmp_path: Path, stop: signal.Signals
) -> None:
    env = service_env(
        settings, RISKDRIFT_WORKER_HEALTH_CHECK_INTERVAL="3", RISKDRIFT_FILINGS_DIR=str(tmp_path)
    )
    assert check(env) == 1, "no worker yet"
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "arq", "riskdrift.worker.AnalysisWorker"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_check(env, 0, 60)
        worker.send_signal(stop)
        worker.wait(timeout=30)
        # SIGTERM deletes the health key at once; after SIGKILL it expires (interval + 1 s).
        took = wait_for_check(env, 1, 60)
        assert took < 60
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
