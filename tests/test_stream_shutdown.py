"""SIGTERM on the API: open SSE streams get a farewell frame and end cleanly, so
clients reconnect (with Last-Event-ID) to another process at once."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from riskdrift.config import Settings
from tests.conftest import free_port
from tests.processes import service_env, spawn, stop, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_sigterm_sends_a_farewell_frame(settings: Settings, tmp_path: Path) -> None:
    env = service_env(settings, RISKDRIFT_AUTH_ENABLED="false")
    port = free_port()
    api = spawn(["api", "--port", str(port)], env, tmp_path / "api.log")
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, 60, "the API to become ready")
        job_id = httpx.post(
            f"{base}/analyze", json={"ticker": "ACME", "years": [2024, 2023]}
        ).json()["job_id"]
        received = b""
        with httpx.stream("GET", f"{base}/stream/{job_id}", timeout=30) as response:
            assert response.status_code == 200
            chunks = response.iter_raw()
            while b"event: job_queued" not in received:
                received += next(chunks)
            api.send_signal(signal.SIGTERM)
            for chunk in chunks:  # ends when the server closes the stream properly
                received += chunk
        text = received.decode()
        assert ": server shutting down; reconnect" in text
        assert "retry: 250" in text
        # uvicorn re-raises the signal after a clean shutdown, so the exit status is -15.
        assert api.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "api_stopped" in (tmp_path / "api.log").read_text()
    finally:
        stop([api])
