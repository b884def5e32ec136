"""``make run``: everything on one machine, then a demo job, then keep serving.

Finds Redis and Postgres (configured URLs, else the default ports, else
embedded servers under ``.data/``), starts the API and one worker as child
processes, submits a demo analysis of the bundled fictional filings, shows its
progress and summary, and serves until Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from riskdrift.devservers import free_port, from_environment
from riskdrift.errors import RiskdriftError

DEMO = {"ticker": "ACME", "years": [2024, 2023]}


def stop_processes(procs: list[subprocess.Popen[Any]], timeout: float = 20.0) -> None:
    """SIGTERM every process still running, then SIGKILL what has not exited in ``timeout``."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sample_filings_dir() -> Path:
    """The fictional sample filings shipped in the package."""
    return Path(str(resources.files("riskdrift") / "samples" / "filings"))


def _wait_ready(base_url: str, children: list[subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children:
            if child.poll() is not None:
                raise RiskdriftError(f"{child.args!r} exited with code {child.returncode}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RiskdriftError(f"the API at {base_url} was not ready within {timeout:.0f} s")


# (base_url, job_id, api_key, console, timeout) -> the finished job's terminal state.
# The CLI entrypoint passes one that drives riskdrift.follow.follow_job on an event loop.
JobFollower = Callable[[str, str, str | None, Console, float], dict[str, Any]]




def _create_key(env: dict[str, str]) -> str:
    """A fresh API key for the demo tenant, made with ``riskdrift keys create``."""
    created = subprocess.run(
        [sys.executable, "-m", "riskdrift", "keys", "create", "make-run-demo"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    if created.returncode != 0:
        raise RiskdriftError(f"could not create an API key: {created.stderr.strip()}")
    return created.stdout.strip().splitlines()[-1]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_demo(
    follow: JobFollower, *, keep_serving: bool = True, port: int | None = None
) -> int:
    """The ``riskdrift dev`` command; returns the exit code."""
    console = Console()
    data_dir = Path(os.environ.get("RISKDRIFT_DATA_DIR", ".data"))
    services = from_environment(data_dir)
    if services.started:
        console.print(f"started embedded {', '.join(services.started)} under {data_dir}/")
    port = port or int(os.environ.get("RISKDRIFT_API_PORT", "0")) or free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "REDIS_URL": services.redis_url, "DATABASE_URL": services.database_url}
    env.setdefault("RISKDRIFT_LOG_LEVEL", "WARNING")  # keep the demo's own output readable
    if not env.get("RISKDRIFT_FILINGS_DIR"):
        env["RISKDRIFT_FILINGS_DIR"] = str(sample_filings_dir())
        env["RISKDRIFT_FILINGS_SOURCE"] = "local"
    children: list[subprocess.Popen[bytes]] = []
    try:
        for args in (["api", "--port", str(port)], ["worker"]):
            children.append(subprocess.Popen([sys.executable, "-m", "riskdrift", *args], env=env))
        _wait_ready(base_url, children, timeout=60)
        api_key = _create_key(env)
        auth = {"Authorization": f"Bearer {api_key}"}
        with httpx.Client(base_url=base_url, timeout=10, headers=auth) as client:
            console.print(f"submitting demo job {DEMO} (fictional ACME Widgets filings)")
            accepted = client.post("/analyze", json=DEMO).raise_for_status().json()
            job = follow(base_url, accepted["job_id"], api_key, console, 120.0)
            if job["status"] != "completed":
                console.print(f"[red]demo job {job['status']}: {job['error']}[/red]")
                return 1
            result = client.get(f"/jobs/{accepted['job_id']}/result").raise_for_status().json()
        console.rule("Demo summary")
        console.print(result["summary"])
        for rec in result["recommendations"]:
            console.print(f" • {rec}")
        console.rule()
        console.print(f"API        {base_url}  (OpenAPI: {base_url}/openapi.json)")
        console.print(f"Job        {base_url}/jobs/{accepted['job_id']}")
        console.print(f"Result     {base_url}/jobs/{accepted['job_id']}/result")
        console.print(f"Dashboard  {base_url}/dashboard?key={api_key}")
        console.print(f"API key    {api_key}  (send as Authorization: Bearer <key>)")
        console.print(f"Redis      {services.redis_url}")
        console.print(f"Postgres   {services.database_url}")
        if not keep_serving:
            return 0
        console.print("serving; press Ctrl-C to stop")
        signal.signal(signal.SIGTERM, _interrupt)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop_processes(children)
        services.close()
        console.print("stopped")
