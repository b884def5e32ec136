"""The worker's analysis processes: supervised, killable, one job's analysis at a time each.

A :class:`concurrent.futures.ProcessPoolExecutor` cannot stop one task: an analysis
that overruns keeps its process busy after the job has failed, and a pool whose
process was killed (the kernel's OOM killer, an operator) raises ``BrokenProcessPool``
for every later job. :class:`AnalysisPool` manages its children itself instead:

- each child is a plain ``python -c`` process (no ``multiprocessing``: no forkserver and
  no ``resource_tracker`` left behind) talking over one socket (a
  :class:`multiprocessing.connection.Connection`), one call at a time: the job's
  analysis function and its arguments in, the result or the exception out, so a job's
  CPU work still crosses the process boundary once (docs/BENCHMARKS.md); a call may ask
  for progress (``on_step``): the function is then given an ``on_step`` callback whose
  reports travel over the same socket as they happen, each awaited by the caller while
  the child works on;
- :meth:`AnalysisPool.run` kills the child of a call that overruns its time limit or
  whose job is cancelled (client cancel, shutdown past the grace period) and starts a
  fresh one, so the next job never waits behind abandoned work; the call raises
  :class:`~riskdrift.errors.AnalysisTimeLimitExceeded` naming the limit and the filings;
- a child that dies under a call (SIGKILL, OOM) is replaced and the call raises
  :class:`~riskdrift.errors.AnalysisProcessDied`, a transient error: the job is retried;
- a child sets ``RLIMIT_AS`` to ``memory_mb`` (the interpreter and the analysis'
  imports take ~340 MB of it), so a memory bomb raises ``MemoryError`` there (or, in
  C code, its own error, lexbor's ``SelectolaxError``: any failure of a call whose
  process peaked within 10 % of the ceiling counts as the ceiling's), the call raises
  :class:`~riskdrift.errors.AnalysisMemoryExceeded` and the child is replaced (so is a
  child whose call came that close and succeeded: the next call starts afresh);
- a child dies with its worker (``PR_SET_PDEATHSIG`` on Linux, and a watchdog thread
  that exits when its parent changes) and ignores SIGINT/SIGTERM: a Ctrl-C or a
  SIGTERM to the whole process group reaches the worker, whose graceful shutdown
  hands running jobs back; the worker ends the children when it closes the pool.

While no child can be started, :attr:`AnalysisPool.healthy` is false (the worker stops
refreshing its health key, :mod:`riskdrift.worker.resilient`) and calls that find no
child raise :class:`~riskdrift.errors.AnalysisUnavailable` (transient) at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import structlog

from riskdrift.errors import (
    AnalysisMemoryExceeded,
    AnalysisProcessDied,
    AnalysisTimeLimitExceeded,
    AnalysisUnavailable,
)

__all__ = ["AnalysisPool", "child_main"]

log = structlog.get_logger(__name__)

T = TypeVar("T")

START_TIMEOUT = 60.0  # seconds a new child may take to import the analysis and say ready
RESTART_BACKOFF_MAX = 10.0
PRELOAD = "riskdrift.agent.offload"  # imported by a child before it says ready

_CHILD_CODE = "from riskdrift.worker.analysis_pool import child_main; child_main()"
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class _Child:
    """One analysis process and its end of the socket."""

    def __init__(self, process: subprocess.Popen[bytes], conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.pid = process.pid

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.conn.close()

    def exit_reason(self) -> str:
        """How the process ended, once it has (``killed by SIGKILL``, ``exit code 1``)."""
        try:
            code = self.process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exit code {code}"


class AnalysisPool:
    """``processes`` analysis children, each running one call at a time."""

    def __init__(
        self,
        processes: int,
        *,
        memory_mb: int = 0,
        start_timeout: float = START_TIMEOUT,
        preload: str = PRELOAD,
    ) -> None:
        if processes < 1:
            raise ValueError("an analysis pool needs at least one process")
        self.processes = processes
        self.memory_mb = memory_mb
        self.start_timeout = start_timeout
        self.preload = preload
        self._idle: asyncio.Queue[_Child] = asyncio.Queue()
        self._children: set[_Child] = set()
        self._starting: set[asyncio.Task[None]] = set()
        self._failing = 0  # replacements that could not start, in a row
        self._closed = False
        self.restarts = 0  # children replaced since start (killed, died, overran)

    @property
    def healthy(self) -> bool:
        """False while children cannot be started (the worker cannot analyse)."""
        return not self._closed and self._failing == 0

    async def start(self) -> None:
        """Start every child and wait until each is ready (raises if one cannot start)."""
        children = await asyncio.gather(
            *(self._spawn() for _ in range(self.processes)), return_exceptions=True
        )
        errors = [c for c in children if isinstance(c, BaseException)]
        for child in children:
            if isinstance(child, _Child):
                self._idle.put_nowait(child)
        if errors:
            await self.aclose()
            raise errors[0]
        log.info("analysis_pool_started", processes=self.processes, memory_mb=self.memory_mb)

    async def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        time_limit: float | None = None,
        subject: str = "the filings",
        on_step: Callable[[str], Awaitable[None]] | None = None,
    ) -> T:
        """``fn(*args)`` in a child; its result, or its exception raised here.

        With ``on_step``, the call is ``fn(*args, on_step=report)`` and each
        ``report(step)`` made in the child is awaited here as it arrives (in order,
        while the child goes on). ``subject`` names the work in errors (the filings). Raises
        :class:`AnalysisTimeLimitExceeded` after ``time_limit`` seconds of the call
        (the child is killed), :class:`AnalysisMemoryExceeded`,
        :class:`AnalysisProcessDied` or :class:`AnalysisUnavailable`.
        """
        child = await self._take()
        try:
            async with asyncio.timeout(time_limit):
                message = (fn, args, on_step is not None)
                kind, value, retiring = await self._call(child, message, on_step)
        except TimeoutError:
            self._replace(child, "time_limit")
            log.warning("analysis_time_limit", pid=child.pid, limit_s=time_limit, subject=subject)
            raise AnalysisTimeLimitExceeded.of(subject, time_limit or 0.0) from None
        except (EOFError, OSError) as exc:
            reason = await asyncio.to_thread(child.exit_reason)
            self._replace(child, "died")
            log.warning("analysis_process_died", pid=child.pid, reason=reason, subject=subject)
            raise AnalysisProcessDied(
                f"the analysis process died ({reason}) while analysing {subject}"
            ) from exc
        except BaseException:  # cancelled: the job is abandoned, so is its work
            self._replace(child, "cancelled")
            raise
        if retiring:  # it exits after this reply
            self._replace(child, kind if kind == "memory" else "near_memory_ceiling")
        else:
            self._idle.put_nowait(child)
        if kind == "memory":
            log.warning("analysis_memory_exceeded", pid=child.pid, memory_mb=self.memory_mb)
            raise AnalysisMemoryExceeded.of(subject, self.memory_mb)
        if kind == "error":
            raise value
        return value  # type: ignore[no-any-return]

    async def aclose(self) -> None:
        """End every child: idle ones are told to exit, any still busy are killed."""
        self._closed = True
        for task in list(self._starting):
            task.cancel()
        for child in list(self._children):
            child.conn.close()  # an idle child reads EOF and exits
        deadline = time.monotonic() + 5.0
        for child in list(self._children):
            remaining = max(0.0, deadline - time.monotonic())
            try:
                await asyncio.to_thread(child.process.wait, remaining)
            except subprocess.TimeoutExpired:
                child.kill()
                await asyncio.to_thread(child.process.wait)
        self._children.clear()

    # --- internals ---------------------------------------------------------------------

    async def _take(self) -> _Child:
        if self._idle.empty() and (self._failing or self._closed):
            raise AnalysisUnavailable("no analysis process can be started on this worker")
        return await self._idle.get()

    async def _call(
        self,
        child: _Child,
        message: object,
        on_step: Callable[[str], Awaitable[None]] | None,
    ) -> tuple[str, Any, bool]:
        # Pickling and writing the filings (up to 2 x 50 MiB) happen off the loop.
        await asyncio.to_thread(child.conn.send, message)
        while True:
            await _readable(child.conn)
            # (kind, value, retiring): "ok"/"error"/"memory", the result or exception, and
            # whether the child exits after this reply; or ("progress", step, False)
            reply: tuple[str, Any, bool] = await asyncio.to_thread(child.conn.recv)
            if reply[0] != "progress":
                return reply
            if on_step is not None:
                await on_step(reply[1])

    def _replace(self, child: _Child, reason: str) -> None:
        """Kill ``child`` (if alive) and start a fresh one in its place."""
        child.kill()
        self._children.discard(child)
        asyncio.get_running_loop().run_in_executor(None, child.process.wait)  # reap
        if self._closed:
            return
        self.restarts += 1
        log.info("analysis_process_replaced", pid=child.pid, reason=reason)
        task = asyncio.create_task(self._restart())
        self._starting.add(task)
        task.add_done_callback(self._starting.discard)

    async def _restart(self) -> None:
        """Start a replacement, retrying with capped backoff until one starts."""
        delay = 0.5
        while not self._closed:
            try:
                child = await self._spawn()
            except Exception as exc:  # whatever it was, the slot must not stay empty
                self._failing += 1
                log.error("analysis_process_start_failed", error=str(exc), failures=self._failing)
                await asyncio.sleep(delay)
                delay = min(RESTART_BACKOFF_MAX, delay * 2)
                continue
            self._failing = 0
            self._idle.put_nowait(child)
            return

    async def _spawn(self) -> _Child:
        """Start one child (from the event loop's thread: the parent-death signal is
        tied to the thread that forked) and wait for its ready message."""
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (_PACKAGE_ROOT, os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
        # One analysis is one core's work: OpenBLAS's own threads (risk matching's matrix
        # product) only fight the other analyses for the cores (0.03-0.13 s of CPU a call
        # under load against 0.03 s on one thread; the results are byte-identical).
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
            env.setdefault(var, "1")
        with theirs:
            # Forked from the loop's thread on purpose: PR_SET_PDEATHSIG fires when the
            # forking *thread* exits, and a pool thread may; fork+exec takes ~ms.
            process = subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-c", _CHILD_CODE, str(theirs.fileno()),
                 str(self.memory_mb), str(os.getpid()), self.preload],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
            )  # fmt: skip
        child = _Child(process, Connection(ours.detach()))
        self._children.add(child)
        try:
            async with asyncio.timeout(self.start_timeout):
                await _readable(child.conn)
            kind, _ = child.conn.recv()
            if kind != "ready":
                raise AnalysisUnavailable(f"analysis process said {kind!r}, not ready")
        except BaseException as exc:
            child.kill()
            self._children.discard(child)
            await asyncio.to_thread(child.process.wait)
            if isinstance(exc, EOFError):
                raise AnalysisUnavailable(
                    f"the analysis process exited at start ({child.exit_reason()})"
                ) from exc
            raise
        log.info("analysis_process_started", pid=child.pid)
        return child


async def _readable(conn: Connection) -> None:
    """Wait until ``conn`` has data (or EOF) without holding a thread."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


# --- the child's side ----------------------------------------------------------------------

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """SIGKILL this process when its parent dies: the kernel's parent-death signal
    (Linux), and a watchdog thread for anywhere else or a parent gone already."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    import threading

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _limit_memory(memory_mb: int) -> None:
    if memory_mb > 0:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def child_main() -> None:
    """The child: arm its safeguards, import the analysis, then answer calls until EOF."""
    # The parent decides when its children die: a Ctrl-C or a SIGTERM to the whole
    # process group must not end the analysis of a job the worker is handing back.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    fd, memory_mb, parent, preload = (
        int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])  # fmt: skip
    _die_with_parent(parent)
    conn = Connection(fd)
    if preload:
        __import__(preload)
    _limit_memory(memory_mb)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            fn, args, reports = conn.recv()
        except EOFError:
            return
        except MemoryError:  # the call's arguments alone do not fit
            conn.send(("memory", None, True))
            return
        except Exception as exc:  # e.g. a function this process cannot import
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}"), False))
            continue
        try:
            if reports:
                reply: tuple[str, object] = ("ok", fn(*args, on_step=_reporter(conn)))
            else:
                reply = ("ok", fn(*args))
        except MemoryError:
            reply = ("memory", None)
        except BaseException as exc:  # every failure goes back to the job
            # C code that cannot allocate raises its own error (lexbor: SelectolaxError):
            # at the ceiling, that is the ceiling's doing.
            reply = ("memory", None) if _near_ceiling(memory_mb) else ("error", exc)
        del fn, args
        # Near the ceiling, a fresh process replaces this one: its next call starts far
        # from it, so reaching it again is that call's doing.
        retiring = reply[0] == "memory" or _near_ceiling(memory_mb)
        try:
            conn.send((*reply, retiring))
        except MemoryError:
            conn.send(("memory", None, True))
            return
        except Exception as exc:  # e.g. an exception that does not pickle
            conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}"), retiring))
        if retiring:
            return


def _reporter(conn: Connection) -> Callable[[str], None]:
    """A call's ``on_step``: each step goes to the parent at once (the call goes on)."""

    def report(step: str) -> None:
        conn.send(("progress", step, False))

    return report


NEAR_CEILING = 0.9  # share of the ceiling a process' peak address space must reach


def _near_ceiling(memory_mb: int) -> bool:
    """Whether this process' peak address space (``VmPeak``) came near its ceiling."""
    if memory_mb <= 0:
        return False
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) >= NEAR_CEILING * memory_mb * 1024
    return False
