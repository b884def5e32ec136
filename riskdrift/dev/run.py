"""``make run``: everything on one machine, then a demo job, then keep serving.

Finds Redis and Postgres (configured URLs, else the default ports, else
embedded servers under ``.data/``), starts the API (on ``RISKDRIFT_API_PORT``,
8000 unless set), an analysis worker, an embeddings worker and a webhooks worker
as child processes, submits a demo analysis of the bundled fictional filings, shows its
progress and summary, prints the ``export`` lines the CLI needs, and serves
until Ctrl-C. A filings directory given to it (``make run FILINGS=dir``) is
served beside the bundled sample.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from riskdrift.config import Settings
from riskdrift.dev.servers import from_environment
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


def check_port_free(host: str, port: int) -> None:
    """Raise a one-line :class:`RiskdriftError` saying how to pick another port if ``port``
    is taken, before anything is started."""
    with socket.socket() as sock:
        # As uvicorn does: a port in TIME_WAIT after the last run is free to listen on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise RiskdriftError(
                f"port {port} is in use; pick another with `make run PORT={port + 1}` "
                f"(or RISKDRIFT_API_PORT={port + 1})"
            ) from None


def _url_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "localhost") else host


def filings_env(settings: Settings, filings_dir: Path | None) -> dict[str, str]:
    """The filings settings of the children: ``filings_dir`` (else the configured
    directory, else none) with the bundled sample always looked in after it, so the
    ACME demo runs whatever else is served."""
    sample = sample_filings_dir()
    if filings_dir is not None:
        if not filings_dir.is_dir():
            raise RiskdriftError(f"filings directory {filings_dir} does not exist")
        primary: Path | None = filings_dir.resolve()
    else:
        primary = settings.filings_dir
    if primary is None:
        return {"RISKDRIFT_FILINGS_DIR": str(sample), "RISKDRIFT_FILINGS_SOURCE": "local"}
    extra = [str(d) for d in settings.extra_filings_dirs if d != sample]
    env = {
        "RISKDRIFT_FILINGS_DIR": str(primary),
        "RISKDRIFT_EXTRA_FILINGS_DIRS": os.pathsep.join([*extra, str(sample)]),
    }
    if filings_dir is not None:
        env["RISKDRIFT_FILINGS_SOURCE"] = "local"
    return env


def _tickers(env: dict[str, str]) -> list[str]:
    """The tickers the children's filings directories hold, for the start-up banner."""
    extra = env.get("RISKDRIFT_EXTRA_FILINGS_DIRS", "")
    roots = [Path(env["RISKDRIFT_FILINGS_DIR"])] + [Path(d) for d in extra.split(os.pathsep) if d]
    return sorted({d.name for root in roots if root.is_dir() for d in root.iterdir() if d.is_dir()})


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
# The CLI entrypoint passes one that drives riskdrift.client.follow.follow_job on an event loop.
JobFollower = Callable[[str, str, str | None, Console, float], dict[str, Any]]


def _create_key(env: dict[str, str]) -> str:
    """A fresh API key for the demo tenant, made with ``riskdrift keys create``."""
    created = subprocess.run(
        [sys.executable, "-m", "riskdrift", "keys", "create", "make-run-demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if created.returncode != 0:
        raise RiskdriftError(f"could not create an API key: {created.stderr.strip()}")
    return created.stdout.strip().splitlines()[-1]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def worker_commands(settings: Settings) -> list[list[str]]:
    """The workers to start: analysis, embeddings and webhooks, the last only when webhooks
    have a queue of their own. With the analysis queue's name (one queue for everything,
    as the tests set it), the analysis worker runs the deliveries, and a webhooks worker
    there would take analysis jobs it has no function for (arq fails them: "function
    'analyze_risk_drift' not found", and the job is never run)."""
    commands = [["worker"], ["worker", "--queue", "embeddings"]]
    if settings.webhooks_queue_name != settings.queue_name:
        commands.append(["worker", "--queue", "webhooks"])
    return commands


def run_demo(
    follow: JobFollower,
    *,
    keep_serving: bool = True,
    port: int | None = None,
    filings_dir: Path | None = None,
) -> int:
    """The ``riskdrift dev`` command; returns the exit code.

    Serves on ``port``, else the configured ``api_port`` (8000 by default), and
    fails at once with a one-line error if that port is taken.
    """
    settings = Settings()  # what the children will read too: environment and .env
    port = port or settings.api_port
    check_port_free(settings.api_host, port)
    filings = filings_env(settings, filings_dir)
    console = Console()
    data_dir = Path(os.environ.get("RISKDRIFT_DATA_DIR", ".data"))
    services = None
    children: list[subprocess.Popen[bytes]] = []
    try:
        services = from_environment(data_dir)
        if services.started:
            console.print(f"started embedded {', '.join(services.started)} under {data_dir}/")
        base_url = f"http://{_url_host(settings.api_host)}:{port}"
        env = {
            **os.environ,
            **filings,
            "REDIS_URL": services.redis_url,
            "DATABASE_URL": services.database_url,
            "RISKDRIFT_API_PORT": str(port),
        }
        env.setdefault("RISKDRIFT_LOG_LEVEL", "WARNING")  # keep the demo's own output readable
        for args in (["api", "--port", str(port)], *worker_commands(settings)):
            # A process group of its own: Ctrl-C reaches only this process, which then stops
            # the children in order (SIGTERM, graceful) instead of each one printing its own.
            children.append(
                subprocess.Popen(
                    [sys.executable, "-m", "riskdrift", *args], env=env, process_group=0
                )
            )
        _wait_ready(base_url, children, timeout=60)
        api_key = _create_key(env) if settings.auth_enabled else None
        auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        with httpx.Client(base_url=base_url, timeout=10, headers=auth) as client:
            console.print(f"submitting demo job {DEMO} (the fictional ACME sample filings)")
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
        key_query = f"?key={api_key}" if api_key else ""
        lines = [
            f"API        {base_url}  (docs: {base_url}/docs)",
            f"Job        {base_url}/jobs/{accepted['job_id']}",
            f"Result     {base_url}/jobs/{accepted['job_id']}/result",
            f"Dashboard  {base_url}/dashboard{key_query}",
            f"Filings    {', '.join(_tickers(env))}",
            f"Redis      {services.redis_url}",
            f"Postgres   {services.database_url}",
            "",
            "For the riskdrift CLI, in another shell:",
            *cli_lines(base_url, api_key),
        ]
        for line in lines:  # plain print: rich would wrap a long key in a narrow terminal
            print(line, flush=True)
        if not keep_serving:
            return 0
        print("serving; press Ctrl-C to stop", flush=True)
        signal.signal(signal.SIGTERM, _interrupt)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # Ctrl-C again while stopping must not interrupt the clean-up with a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stop_processes(children)
        if services is not None:
            services.close()
        print("\nstopped", flush=True)


def cli_lines(base_url: str, api_key: str | None) -> list[str]:
    """The shell lines that point the ``riskdrift`` CLI at this API."""
    exports = f"export RISKDRIFT_API_URL={base_url}"
    if api_key:
        exports += f" RISKDRIFT_API_KEY={api_key}"
    return ["  . .venv/bin/activate", f"  {exports}", "  riskdrift submit ACME 2024 2023 --follow"]
