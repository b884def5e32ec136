"""``riskdrift dev`` (``make run``): its start-up errors and the filings it serves.

The full run (serving, export lines, README commands, Ctrl-C) is tests/test_readme.py.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from riskdrift.config import Settings
from riskdrift.dev.run import filings_env, sample_filings_dir, worker_commands
from tests.conftest import free_port
from tests.processes import run_cli


def test_a_taken_port_is_one_line_saying_how_to_pick_another() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = run_cli(os.environ, "dev", "--port", str(port))
    assert run.returncode == 2
    assert run.stderr.strip() == (
        f"riskdrift: error: port {port} is in use; pick another with "
        f"`make run PORT={port + 1}` (or RISKDRIFT_API_PORT={port + 1})"
    )
    assert run.stdout == ""  # nothing was started


def test_a_missing_filings_directory_is_one_line(tmp_path: Path) -> None:
    absent = tmp_path / "absent"
    run = run_cli(os.environ, "dev", "--port", str(free_port()), "--filings-dir", str(absent))
    assert run.returncode == 2
    assert run.stderr.strip() == f"riskdrift: error: filings directory {absent} does not exist"


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def test_the_sample_alone_by_default() -> None:
    assert filings_env(settings(), None) == {
        "RISKDRIFT_FILINGS_DIR": str(sample_filings_dir()),
        "RISKDRIFT_FILINGS_SOURCE": "local",
    }


def test_filings_dir_served_beside_the_sample(tmp_path: Path) -> None:
    env = filings_env(settings(), tmp_path)
    assert env == {
        "RISKDRIFT_FILINGS_DIR": str(tmp_path.resolve()),
        "RISKDRIFT_EXTRA_FILINGS_DIRS": str(sample_filings_dir()),
        "RISKDRIFT_FILINGS_SOURCE": "local",
    }


@pytest.mark.parametrize("extra", [[], ["/srv/more"]])
def test_a_configured_filings_dir_keeps_its_source_and_gains_the_sample(
    extra: list[str],
) -> None:
    env = filings_env(settings(filings_dir="/srv/filings", extra_filings_dirs=extra), None)
    assert env == {
        "RISKDRIFT_FILINGS_DIR": "/srv/filings",
        "RISKDRIFT_EXTRA_FILINGS_DIRS": os.pathsep.join([*extra, str(sample_filings_dir())]),
    }


def test_a_webhooks_worker_only_for_a_webhooks_queue_of_its_own() -> None:
    own = Settings(queue_name="q", webhooks_queue_name="hooks", _env_file=None)  # type: ignore[call-arg]
    shared = Settings(queue_name="q", webhooks_queue_name="q", _env_file=None)  # type: ignore[call-arg]
    assert ["worker", "--queue", "webhooks"] in worker_commands(own)
    assert worker_commands(shared) == [["worker"], ["worker", "--queue", "embeddings"]]
