"""``riskdrift worker --processes N``: N worker processes on one host, one parent.

Each child is an ordinary ``riskdrift worker`` (its own event loop, pools, Redis
client and CPU executor), so one host uses N cores for CPU-heavy analyses, and a
child behaves exactly like a worker started by hand or by Kubernetes.

The parent only supervises:

- children run in their own session, so a terminal's Ctrl-C reaches the parent
  alone, and each child gets exactly one SIGTERM from it (arq's graceful
  shutdown: running jobs get ``worker_shutdown_grace`` seconds);
- SIGINT or SIGTERM to the parent forwards SIGTERM to every child and waits for
  them; a second signal, or ``grace + 15`` s without them exiting, kills them;
- a child that dies on its own is restarted (capped backoff, reset after a child
  lived a minute), so one crashed process does not leave the host a core short;
- a child gets SIGTERM when the parent dies, even by SIGKILL (Linux's parent-death
  signal, armed between fork and exec), so no worker outlives its supervisor: it hands
  its running jobs back and closes its analysis processes as on any SIGTERM.

The parent exits 0 after a clean shutdown, 1 if a child had to be killed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

import structlog

log = structlog.get_logger(__name__)

RESTART_BACKOFF_MAX = 30.0
HEALTHY_AFTER = 60.0  # a child that lived this long resets the restart backoff


@dataclass
class _Child:
    slot: int
    process: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)


class Supervisor:
    """Keeps ``processes`` copies of ``command`` running until told to stop."""

    def __init__(self, command: list[str], processes: int, *, grace: float) -> None:
        if processes < 1:
            raise ValueError("--processes must be at least 1")
        self.command = command
        self.processes = processes
        self.grace = grace
        self.children: dict[int, _Child] = {}
        self.stopping = False
        self.signals = 0
        self.backoff = 0.0

    def _spawn(self, slot: int) -> None:
        # preexec_fn is safe here: the supervisor runs no threads.
        process = subprocess.Popen(
            self.command, start_new_session=True, preexec_fn=_term_with_parent(os.getpid())
        )
        self.children[slot] = _Child(slot, process)
        log.info("worker_process_started", slot=slot, pid=process.pid)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals += 1
        self.stopping = True
        if self.signals == 1:
            log.info("worker_processes_stopping", signal=signal.Signals(signum).name)
            self._send(signal.SIGTERM)
        else:
            log.warning("worker_processes_killed", signal=signal.Signals(signum).name)
            self._send(signal.SIGKILL)

    def _send(self, signum: signal.Signals) -> None:
        for child in self.children.values():
            if child.process.poll() is None:
                child.process.send_signal(signum)

    def run(self) -> int:
        """Start the children and supervise them; returns the parent's exit code."""
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for slot in range(self.processes):
                self._spawn(slot)
            while not self.stopping:
                self._reap_and_restart()
                time.sleep(0.2)  # the supervisor's tick; signals interrupt it at once
            return self._wait_for_children()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _reap_and_restart(self) -> None:
        for slot, child in list(self.children.items()):
            code = child.process.poll()
            if code is None or self.stopping:
                continue
            lived = time.monotonic() - child.started
            self.backoff = (
                0.0 if lived >= HEALTHY_AFTER else min(RESTART_BACKOFF_MAX, self.backoff * 2 or 0.5)
            )
            log.warning("worker_process_exited", slot=slot, code=code, restart_in_s=self.backoff)
            deadline = time.monotonic() + self.backoff
            while time.monotonic() < deadline and not self.stopping:
                time.sleep(0.05)
            if not self.stopping:
                self._spawn(slot)

    def _wait_for_children(self) -> int:
        deadline = time.monotonic() + self.grace + 15
        killed = False
        for child in self.children.values():
            remaining = max(0.0, deadline - time.monotonic())
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                log.warning("worker_process_killed", slot=child.slot, pid=child.process.pid)
                child.process.kill()
                child.process.wait()
                killed = True
        killed = killed or self.signals > 1
        log.info("worker_processes_stopped", processes=len(self.children), killed=killed)
        return 1 if killed else 0


PR_SET_PDEATHSIG = 1


def _term_with_parent(parent: int) -> Callable[[], None] | None:
    """What a child runs before exec: ask for SIGTERM when ``parent`` dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return None

    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)  # loaded here: the child only calls it

    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os._exit(1)

    return arm


def worker_command(queue: str) -> list[str]:
    """The command line of one child: this interpreter's ``riskdrift worker``."""
    return [sys.executable, "-m", "riskdrift", "worker", "--queue", queue]
