"""README.md runs as written: its shell examples against a live ``make run``.

``riskdrift dev`` (what ``make run FILINGS=…`` runs) is started as a process
against this test's Postgres schema and queue, with the shared real-10-K corpus
beside the ACME sample. Each fenced ``sh`` block of the README then runs in a
fresh bash, command by command, from the repository root: the placeholders a
reader fills in (``<job_id>``, ``<key id>``, ``rdk_…``, port 8000) are filled
from what earlier commands printed. Every command is either run here or listed
in ``NOT_RUN`` with the reason, so a new README example fails this test until it
is covered. Finally Ctrl-C stops ``riskdrift dev`` with one line, no traceback.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from riskdrift.config import Settings
from tests.conftest import free_port
from tests.corpus import REAL10K, ROOT, needs_corpus
from tests.processes import service_env

pytestmark = [pytest.mark.e2e, pytest.mark.integration, needs_corpus]

README = ROOT / "README.md"
FENCE = re.compile(r"^```(sh|bash|shell|console)\n(.*?)^```", re.M | re.S)

# Commands of the README's shell blocks that this test does not run, and why.
NOT_RUN = {
    "make run": "runs here as `python -m riskdrift dev --filings-dir …`, the Makefile's run "
    "recipe (checked below) with FILINGS= set",
    "make test ": "the test suite itself",
    "riskdrift api --port 8000": "a foreground server: `riskdrift dev` starts it (on a free port)",
    "riskdrift worker [--queue embeddings|webhooks]": "foreground servers: "
    "`riskdrift dev` starts them",
    "riskdrift jobs cancel <job id>": "the README's job has completed, so the API answers 409; "
    "tests/test_cli_jobs.py cancels a queued job",
    "riskdrift jobs retry <job id>": "the README's job has completed, so the API answers 409; "
    "tests/test_cli_jobs.py retries failed and cancelled jobs",
    'cp ./nvda-10k.htm "$RISKDRIFT_FILINGS_DIR': "the corpus served here is read-only; "
    "tests/test_watch.py copies NVIDIA's 2025 10-K in mid-test with two workers running the "
    "watch and waits for its one analysis",
}
WRITES = re.compile(r"\s(?:--html|-o|--csv|--chart)\s")
# Commands of the README's prose (inline code) that are run too, by their exact text.
INLINE = [
    "arq riskdrift.worker.EmbeddingsWorker --check",
    'riskdrift search "supply chain disruption" --api URL --key KEY',
]
INLINE_NOT_RUN = {
    "docker build -f deploy/Dockerfile -t riskdrift .": "needs a Docker engine; the build "
    "context is checked statically in tests/test_deploy.py",
    "kubectl apply -k deploy/k8s": "needs a cluster; manifests checked in tests/test_deploy.py",
}


def shell_blocks(text: str) -> list[list[str]]:
    """Each fenced shell block of ``text`` as its commands (continuations joined,
    blank and comment-only lines dropped)."""
    blocks = []
    for match in FENCE.finditer(text):
        commands: list[str] = []
        pending = ""
        for line in match[2].splitlines():
            if pending:
                pending += " " + line.strip()
            elif line.strip() and not line.lstrip().startswith("#"):
                pending = line.rstrip()
            if pending.endswith("\\"):
                pending = pending[:-1].rstrip()
                continue
            if pending:
                commands.append(pending)
                pending = ""
        blocks.append(commands)
    return blocks


def not_run_reason(command: str) -> str | None:
    return next((why for start, why in NOT_RUN.items() if command.startswith(start)), None)


class Shell:
    """One bash process fed commands one at a time; output and exit status per command."""

    MARK = "__readme_done__"

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            ["bash", "--norc", "--noprofile"],
            cwd=ROOT,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        stdout = self.proc.stdout
        assert stdout
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(
            target=lambda: [self.lines.put(line) for line in iter(stdout.readline, "")],
            daemon=True,
        )
        self.reader.start()

    def run(self, command: str, timeout: float = 180) -> tuple[int, str]:
        assert self.proc.stdin
        self.proc.stdin.write(f"{command}\necho; echo {self.MARK} $?\n")
        self.proc.stdin.flush()
        lines: list[str] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line.startswith(self.MARK):
                return int(line.split()[1]), "".join(lines).rstrip("\n")
            lines.append(line)
        raise AssertionError(f"{command!r} did not finish within {timeout} s:\n{''.join(lines)}")

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a command still running: the test failed already
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        assert self.proc.stdout
        self.proc.stdout.close()


# A child's structlog line below WARNING: the test turns those on (RISKDRIFT_LOG_LEVEL=INFO),
# `make run` does not, so they are no part of what Ctrl-C prints there.
INFO_LOG = re.compile(r"^\d{4}-\d\d-\d\dT\S+ \[(?:debug|info) ")


@dataclass
class Dev:
    """A running ``riskdrift dev`` and what it (and its children) printed."""

    proc: subprocess.Popen[str]
    port: int
    output: list[str]  # appended to by a reader thread, so no child ever blocks on the pipe
    reader: threading.Thread
    export: str  # the `export RISKDRIFT_API_URL=… RISKDRIFT_API_KEY=…` line
    env: dict[str, str]

    def log_tail(self, lines: int = 150) -> str:
        """The last lines `riskdrift dev` and its workers printed, for a failure's message."""
        return "--- riskdrift dev's output, last lines:\n" + "".join(self.output[-lines:])

    def interrupt(self) -> list[str]:
        """Ctrl-C, as a terminal delivers it; returns what was printed after it."""
        already = len(self.output)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=90)
        self.reader.join(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.output[already:]


@pytest.fixture
def dev(settings: Settings, tmp_path: Path) -> Iterator[Dev]:
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "-m riskdrift dev" in recipe
    assert "--filings-dir $(FILINGS)" in recipe
    assert "--port $(PORT)" in recipe
    env = service_env(
        settings,
        RISKDRIFT_EMBEDDINGS_QUEUE_NAME=settings.embeddings_queue_name,
        # `make run`'s three workers, each on a queue of its own as by default (the tests'
        # settings put webhooks on the analysis queue)
        RISKDRIFT_WEBHOOKS_QUEUE_NAME=f"{settings.queue_name}:webhooks",
        RISKDRIFT_DATA_DIR=str(tmp_path / "data"),
        # The children's log, so a failure shows what the workers did (the test reads only
        # the lines `riskdrift dev` prints itself).
        RISKDRIFT_LOG_LEVEL="INFO",
    )
    env.pop("RISKDRIFT_API_URL", None)
    env.pop("RISKDRIFT_API_KEY", None)
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "riskdrift",
            "dev",
            "--port",
            str(port),
            "--filings-dir",
            str(REAL10K),
        ],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    stdout = proc.stdout
    assert stdout
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 180
    while "serving; press Ctrl-C to stop\n" not in output:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("riskdrift dev did not start serving:\n" + "".join(output))
        time.sleep(0.2)
    exports = [line.strip() for line in output if line.strip().startswith("export ")]
    assert len(exports) == 1, output
    assert re.fullmatch(
        rf"export RISKDRIFT_API_URL=http://127\.0\.0\.1:{port} RISKDRIFT_API_KEY=rdk_\S+",
        exports[0],
    ), exports
    served = next(line for line in output if line.startswith("Filings"))
    assert "ACME" in served
    assert "NVDA" in served
    running = Dev(proc, port, output, reader, exports[0], env)
    try:
        yield running
    finally:
        if proc.poll() is None:
            running.interrupt()


@dataclass
class Filled:
    """Values earlier commands printed, for the placeholders of later ones."""

    port: int
    export: str
    job_id: str | None = None
    key_id: str | None = None
    api_key: str | None = None

    def fill(self, command: str) -> str:
        if command.startswith("export RISKDRIFT_API_URL="):
            return self.export
        command = re.sub(r"(localhost|127\.0\.0\.1):8000\b", rf"\1:{self.port}", command)
        command = command.replace("../shared/corpus/real10k", str(REAL10K))
        for placeholder, value in (
            ("<job_id>", self.job_id),
            ("<job id>", self.job_id),
            ("<key id>", self.key_id),
        ):
            if placeholder in command:
                assert value, f"nothing printed earlier fills {placeholder} in {command!r}"
                command = command.replace(placeholder, value)
        return command

    def learn(self, output: str) -> None:
        if found := re.search(r"created key ([0-9a-f-]{36}) ", output):
            self.key_id = found[1]
        if found := re.search(r'"job_id"\s*:\s*"([0-9a-f-]{36})"', output):
            self.job_id = found[1]
        if found := re.search(r"^job ([0-9a-f-]{36}) queued", output, re.M):
            self.job_id = found[1]


# What a command's output must show beyond exit status 0, by the command's start.
EXPECT = {
    "riskdrift migrate": "schema is up to date",
    "riskdrift analyze NVDA 2025 2024 --filings-dir": "NVIDIA",
    "riskdrift filings import": "NVDA/2025.htm",
    "riskdrift keys list": "alice",
    "riskdrift keys revoke": "revoked",
    "riskdrift submit NVDA 2025 2024 --follow": "NVIDIA",
    "riskdrift watch <job id>": "NVIDIA",
    "riskdrift jobs list --ticker NVDA": "completed",
    "riskdrift jobs show": "status:    completed",
    "riskdrift jobs result": "NVIDIA",
    "riskdrift jobs deliveries": "no webhook deliveries",
    "riskdrift watchlist create chips NVDA AMD": ": chips",
    "curl -s -XPOST": '"status":"queued"',
    "curl -sN": "event: job_completed",
}


def check_output(command: str, output: str) -> None:
    assert "Traceback" not in output, output
    for start, expected in EXPECT.items():
        if command.startswith(start):
            assert expected in output, (command, expected, output)
    if "--json" in command and command.startswith("riskdrift analyze"):
        assert json.loads(output)["ticker"] == "NVDA"
    if command.endswith("| jq .summary"):
        assert "NVIDIA" in json.loads(output).upper(), output


def test_readme_shell_examples_run_as_written(dev: Dev, tmp_path: Path) -> None:
    text = README.read_text()
    blocks = shell_blocks(text)
    commands = [c for block in blocks for c in block]
    assert any(c.startswith("riskdrift submit NVDA 2025 2024 --follow") for c in commands)
    for start in NOT_RUN:
        assert any(c.startswith(start) for c in commands), f"NOT_RUN names no command: {start}"
    filled = Filled(dev.port, dev.export)
    # `riskdrift filings import ./nvda-10k.htm` copies a file of the reader's into their
    # filings directory: here a copy of the corpus's, into a directory of this test's.
    shutil.copy(REAL10K / "NVDA" / "2025.html", tmp_path / "nvda-10k.htm")
    ran = []
    for block in blocks:
        shell = Shell({**dev.env, "RISKDRIFT_FILINGS_DIR": str(tmp_path / "filings")})
        try:
            for command in block:
                if not_run_reason(command):
                    continue
                line = filled.fill(command)
                # Imports read a file of the reader's, reports write one: both in a
                # directory of this test's, never the checkout.
                elsewhere = command.startswith("riskdrift filings import ./") or bool(
                    WRITES.search(command)
                )
                if elsewhere:
                    shell.run(f"cd {tmp_path}")
                try:
                    status, output = shell.run(line)
                except AssertionError as exc:
                    raise AssertionError(f"{exc}\n{dev.log_tail()}") from None
                if elsewhere:
                    shell.run(f"cd {ROOT}")
                assert status == 0, f"{command!r} exited {status}:\n{output}\n{dev.log_tail()}"
                check_output(command, output)
                filled.learn(output)
                ran.append(command)
        finally:
            shell.close()
    assert len(ran) >= 15, ran
    for written in ("nvda.html", "nvda.csv", "report.html", "risks.csv"):  # analyze, report
        assert (tmp_path / written).stat().st_size > 0, written
    assert (tmp_path / "report.html").read_text(encoding="utf-8").startswith("<!doctype html>")

    # The README's prose names these commands too; they run here as well.
    for command in [*INLINE, *INLINE_NOT_RUN]:
        assert command in text, f"README no longer says {command!r}"
    url, key = re.findall(r"RISKDRIFT_API_(?:URL|KEY)=(\S+)", dev.export)
    shell = Shell({**dev.env, "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{dev.env['PATH']}"})
    try:
        for command in INLINE:
            status, output = shell.run(
                command.replace("--api URL --key KEY", f"--api {url} --key {key}")
            )
            assert status == 0, f"{command!r} exited {status}:\n{output}"
            assert "Traceback" not in output
            if command.startswith("riskdrift search"):  # the demo's ACME risks at least
                assert re.search(r"^\d\.\d{3}  (ACME|NVDA) ", output, re.M), output
    finally:
        shell.close()

    # Ctrl-C on `make run`: one line, no traceback, exit 0.
    after = dev.interrupt()
    assert dev.proc.returncode == 0, after
    printed = [line.strip() for line in after if line.strip() and not INFO_LOG.search(line)]
    assert printed == ["stopped"], after
