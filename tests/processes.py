"""Helpers for tests that run riskdrift as separate processes (API, workers, CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from riskdrift.config import Settings
from riskdrift.dev.run import stop_processes
from tests.conftest import free_port
from tests.corpus import ROOT


def service_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment that points a child process at this test's schema and queue."""
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "DATABASE_URL": settings.database_url,
        "RISKDRIFT_DATABASE_SCHEMA": settings.database_schema,
        "RISKDRIFT_QUEUE_NAME": settings.queue_name,
        "RISKDRIFT_WEBHOOKS_QUEUE_NAME": settings.webhooks_queue_name,
    }
    env.update(overrides)
    return env


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a synchronous condition until it holds, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``python -m riskdrift ARGS`` with its output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "riskdrift", *args],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process, then SIGKILL what has not exited after 20 s."""
    stop_processes(procs)


def run_cli(
    env: Mapping[str, str], *args: str, timeout: float = 60, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """``python -m riskdrift ARGS`` in ``env``, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "riskdrift", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def create_key(env: dict[str, str], name: str = "test") -> str:
    """A new API key from ``riskdrift keys create`` (its last line of output)."""
    created = run_cli(env, "keys", "create", name, check=True)
    return created.stdout.strip().splitlines()[-1]


@contextmanager
def running_service(env: dict[str, str], logs: Path, *, workers: int = 1) -> Iterator[str]:
    """An API process and ``workers`` worker processes; yields the API's base URL once ready."""
    port = free_port()
    procs = [spawn(["api", "--port", str(port)], env, logs / "api.log")]
    procs += [spawn(["worker"], env, logs / f"worker-{i}.log") for i in range(workers)]
    base_url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        for proc in procs:
            if proc.poll() is not None:
                tails = [p.read_text()[-3000:] for p in sorted(logs.glob("*.log"))]
                raise AssertionError("a service process exited:\n" + "\n".join(tails))
        try:
            return httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(ready, 60, "the API to become ready")
        yield base_url
    finally:
        stop(procs)


def children(parent: int) -> set[int]:
    """Live (not zombie) child pids of ``parent``, read from /proc (Linux)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[1]) == parent and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process, read from /proc (Linux)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
