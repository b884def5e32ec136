"""Functions the analysis pool's tests run in its children (importable there by name)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def pid() -> int:
    """The child's pid."""
    return os.getpid()


def spin(seconds: float) -> int:
    """Burn CPU for ``seconds`` (an analysis that overruns), then return the pid."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        pass
    return os.getpid()


def hold_memory(megabytes: int) -> int:
    """Allocate and touch ``megabytes`` MiB (a memory bomb when over the ceiling)."""
    block = bytearray(megabytes * 1024 * 1024)
    block[::4096] = b"x" * len(block[::4096])
    return len(block)


def fail(message: str) -> None:
    """Raise an ordinary error, which must come back to the caller as itself."""
    raise ValueError(message)


def signals_ignored() -> tuple[bool, bool]:
    """Whether SIGINT and SIGTERM are ignored in the child."""
    import signal

    return (
        signal.getsignal(signal.SIGINT) is signal.SIG_IGN,
        signal.getsignal(signal.SIGTERM) is signal.SIG_IGN,
    )


def address_space_mb() -> int:
    """The child's current address space (``VmSize``), in MiB."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmSize:"))
    return int(line.split()[1]) // 1024


def report_until_told(go: str, on_step: Callable[[str], None]) -> str:
    """Report ``first``, wait (up to 30 s) until the file ``go`` exists, which the caller
    creates once it has heard ``first``, then report ``second``: a report reaches the
    caller while the call still runs."""
    on_step("first")
    deadline = time.monotonic() + 30
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            return "never told"
        time.sleep(0.01)
    on_step("second")
    return "done"
