"""Chaos: jobs through SIGKILLed workers and analysis children, a Postgres and a Redis restart.

A private Redis (``redis-server``, append-only file fsynced on every write, as a
deployment that keeps its data runs it) and a private PostgreSQL (the system's
``initdb``/``pg_ctl``) on free ports, so restarting them disturbs no one else; the
API in this process (submission only); ``--workers`` ``riskdrift worker`` processes at
the default reliability settings (heartbeat 1 s, claim TTL 3 s), each with
``--analysis-processes`` supervised analysis children, running real analyses of the
packaged ACME sample and, when ``/work/shared/corpus/real10k`` is there, of the
corpus' consecutive-year pairs (the result cache is off, so every job analyses).

All jobs are submitted, then at evenly spread moments (in jobs completed, the order
shuffled by ``--seed``) while jobs run: a random worker is SIGKILLed (and restarted;
its analysis children must die with it), a random analysis child of a random worker
is SIGKILLed (a busy one when one is busy), Postgres is stopped (``pg_ctl -m
immediate``: a crash) and started again after ``--outage`` seconds, and Redis is
SIGKILLed and started again after ``--outage`` seconds (same port, same data).

Checked at the end (``ChaosReport.problems``): every job ``completed`` within
``--deadline`` s of the last disruption (0 lost, 0 stuck), exactly one result row and
exactly one terminal event (``job_completed``) per job (0 duplicated), and no analysis
child alive once its worker is gone (0 orphans). Prints the figures: wall time,
jobs/s, recovery times (kill → the interrupted job's next ``job_started``), how long
each restart held jobs up, retries.

    .venv/bin/python bench/bench_chaos.py                  # 200 jobs (docs/RELIABILITY.md)
    .venv/bin/python bench/bench_chaos.py --jobs 60 --worker-kills 2 --child-kills 2

Exits 1 if a job was lost, duplicated or stuck, or a child was orphaned.
``tests/test_chaos.py`` runs it at 60 jobs. Needs ``redis-server`` and PostgreSQL's
server binaries (``/usr/lib/postgresql/*/bin``); as root, Postgres runs as the
``postgres`` (or ``nobody``) user.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import os
import pwd
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import uvicorn  # noqa: E402
from redis.asyncio import Redis  # noqa: E402
from redis.exceptions import RedisError  # noqa: E402

from riskdrift.api.app import create_app  # noqa: E402
from riskdrift.config import Settings  # noqa: E402
from riskdrift.dev.run import sample_filings_dir, stop_processes  # noqa: E402
from riskdrift.dev.servers import free_port  # noqa: E402
from riskdrift.events.publish import parse_entry, stream_key  # noqa: E402
from riskdrift.models import TERMINAL_EVENTS  # noqa: E402
from riskdrift.store.migrate import migrate  # noqa: E402

T = TypeVar("T")

CORPUS = Path("/work/shared/corpus/real10k")
CHILD_MARK = "riskdrift.worker.analysis_pool"  # in every analysis child's command line
# worker log events counted in the report
LOG_EVENTS = (
    "job_retrying_after_outage",
    "analysis_process_died",
    "progress_not_recorded",
    "redis_unavailable",
    "stale_claim_released",
    "job_requeued_by_reconciler",
    "terminal_event_restored",
    "job_failed",
    "job_already_finished",  # a run that found its job finished by another run meanwhile
)


class Unavailable(Exception):
    """A server binary this run needs is missing (the message says which)."""


# --- private servers ------------------------------------------------------------------------


def _postgres_bin() -> Path:
    for name in ("initdb", "pg_ctl", "postgres"):
        if shutil.which(name) is None and not glob.glob(f"/usr/lib/postgresql/*/bin/{name}"):
            raise Unavailable(f"PostgreSQL's {name} is not installed")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    return Path(str(shutil.which("pg_ctl"))).parent


class PrivateRedis:
    """``redis-server`` on a free port, data kept in an fsynced append-only file."""

    def __init__(self, data: Path) -> None:
        if shutil.which("redis-server") is None:
            raise Unavailable("redis-server is not installed")
        self.data = data
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.data)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def kill(self) -> None:
        """A crash: SIGKILL, and wait until the process is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    async def wait_ready(self, within: float = 20.0) -> None:
        client = Redis.from_url(self.url)
        try:
            await _retrying(client.ping, within, "the private Redis to answer")
        finally:
            await client.aclose()


class PrivatePostgres:
    """A PostgreSQL cluster of its own (trust auth) on a free loopback port."""

    def __init__(self, data: Path) -> None:
        self.bin = _postgres_bin()
        self.data = data
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # initdb refuses to run as root: the cluster belongs to an ordinary user then
        self.user: str | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                with contextlib.suppress(KeyError):
                    pwd.getpwnam(name)
                    self.user = name
                    break
            else:
                raise Unavailable("running as root and no 'postgres' user to run PostgreSQL as")

    def _run(self, *args: str) -> None:
        subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            check=True,
            user=self.user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd="/",
        )

    def init(self) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
        self.data.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        # fsync off: the restarts crash the server process, never the machine
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c fsync=off "
            f"-c unix_socket_directories='{self.data}' -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-w", "-t", "60",
                  "-l", str(self.data / "server.log"), "start")  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")


async def _retrying(fn: Callable[[], Awaitable[T]], within: float, what: str) -> T:
    """``fn()`` until it does not raise a connection error, for at most ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await fn()
        except (OSError, RedisError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {within} s waiting for {what}") from exc
            await asyncio.sleep(0.1)


# --- processes ------------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of ``pid``, None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def analysis_children(worker: int) -> list[tuple[int, int]]:
    """(pid, start time) of each analysis child of the process ``worker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _stat(int(entry.name))
        if stat is None or stat[0] != worker:
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if CHILD_MARK.encode() in cmdline:
            found.append((int(entry.name), stat[2]))
    return found


def alive(child: tuple[int, int]) -> bool:
    """Whether that very process (pid and start time) still runs (a zombie does not)."""
    stat = _stat(child[0])
    return stat is not None and stat[2] == child[1] and stat[1] not in ("Z", "X")


def cpu_ticks(pid: int) -> int:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


# --- the run --------------------------------------------------------------------------------


@dataclass
class Plan:
    jobs: int = 200
    workers: int = 2
    worker_kills: int = 5
    child_kills: int = 5
    restarts: tuple[str, ...] = ("postgres", "redis")
    outage: float = 3.0  # seconds each server stays down
    deadline: float = 240.0  # seconds after the last disruption by which all must be done
    seed: int = 20261207
    max_jobs: int = 4  # per worker
    analysis_processes: int = 2  # per worker
    corpus: bool = True  # add the corpus' pairs when it is there


@dataclass
class Disruption:
    kind: str  # worker | child | postgres | redis
    at: float  # epoch seconds of the kill / stop
    running: set[str]  # jobs running on the worker hit (every worker's for a restart)
    back: float = 0.0  # restarts: epoch seconds the server answered again
    detail: str = ""


@dataclass
class ChaosReport:
    plan: Plan
    pairs: list[tuple[str, int, int]] = field(default_factory=list)
    submit_s: float = 0.0
    wall_s: float = 0.0
    disruptions: list[Disruption] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)
    result_rows: int = 0
    wrong_terminals: dict[str, list[str]] = field(default_factory=dict)
    orphans: list[int] = field(default_factory=list)
    children_seen: int = 0
    stuck: str = ""  # what was left when the deadline passed
    retry_events: int = 0
    retries_by_reason: dict[str, int] = field(default_factory=dict)
    attempts: int = 0  # sum of the rows' attempts
    log_counts: dict[str, int] = field(default_factory=dict)
    worker_recoveries: list[float] = field(default_factory=list)
    child_recoveries: list[float] = field(default_factory=list)
    child_requeues: list[float] = field(default_factory=list)  # kill → job_retrying
    child_kills_hit: int = 0  # child kills that interrupted an analysis
    held_up: dict[str, list[float]] = field(default_factory=dict)  # restart → per job s
    evidence: list[str] = field(default_factory=list)  # worker log lines of problem jobs

    @property
    def problems(self) -> list[str]:
        n = self.plan.jobs
        found = []
        if self.statuses.get("completed", 0) != n:
            found.append(f"{n - self.statuses.get('completed', 0)} jobs not completed: "
                         f"{self.statuses}; failed: {self.failed[:5]}")  # fmt: skip
        if self.result_rows != n:
            found.append(f"{self.result_rows} result rows for {n} jobs")
        if self.wrong_terminals:
            found.append(
                f"{len(self.wrong_terminals)} jobs without exactly one job_completed event: "
                f"{dict(list(self.wrong_terminals.items())[:5])}"
            )
        if self.orphans:
            found.append(f"analysis children outlived their worker: {self.orphans}")
        if self.stuck:
            found.append(f"stuck at the deadline: {self.stuck}")
        if found and self.evidence:
            found.append("worker log lines of those jobs:\n" + "\n".join(self.evidence[-60:]))
        return found

    def lines(self) -> list[str]:
        p = self.plan

        def spread(values: list[float]) -> str:
            if not values:
                return "none"
            return (
                f"n={len(values)} median {statistics.median(values):.2f} s, max {max(values):.2f} s"
            )

        out = [
            f"chaos: {p.jobs} jobs over {len(self.pairs)} filing pairs, {p.workers} workers x "
            f"{p.max_jobs} slots x {p.analysis_processes} analysis processes; "
            f"{p.worker_kills} worker SIGKILLs, {p.child_kills} analysis-child SIGKILLs, "
            f"restarts: {', '.join(p.restarts) or 'none'} ({p.outage:g} s down each)",
            f"wall {self.wall_s:.1f} s (submit {self.submit_s:.1f} s), "
            f"{p.jobs / self.wall_s if self.wall_s else 0:.2f} jobs/s; "
            f"statuses {self.statuses}; result rows {self.result_rows}; "
            f"terminal events wrong for {len(self.wrong_terminals)} jobs; "
            f"orphans {len(self.orphans)} of {self.children_seen} analysis children seen",
            f"worker kill -> job_started again: {spread(self.worker_recoveries)}",
            f"child kill -> job_retrying: {spread(self.child_requeues)}; -> job_started "
            f"again: {spread(self.child_recoveries)} ({self.child_kills_hit} of "
            f"{p.child_kills} kills hit a running analysis)",
        ]
        for d in self.disruptions:
            if d.kind in ("postgres", "redis"):
                held = self.held_up.get(d.kind, [])
                out.append(
                    f"{d.kind} restart: down {d.back - d.at:.2f} s, {len(d.running)} jobs "
                    f"running at the stop; their completion after the server was back: "
                    f"{spread(held)}"
                )
        out.append(
            f"retries: {self.retry_events} job_retrying events {self.retries_by_reason}; "
            f"attempts {self.attempts} for {p.jobs} jobs; worker log lines {self.log_counts}"
        )
        return out


def filing_pairs(corpus: bool) -> tuple[list[tuple[str, int, int]], list[Path]]:
    """(ticker, current, previous) pairs to analyse and the filing directories they need."""
    pairs = [("ACME", 2024, 2023)]
    dirs = [sample_filings_dir()]
    if corpus and CORPUS.is_dir():
        for ticker_dir in sorted(CORPUS.iterdir()):
            years = sorted(int(f.stem) for f in ticker_dir.glob("*.html") if f.stem.isdigit())
            pairs += [(ticker_dir.name, y, y - 1) for y in years if y - 1 in years]
        dirs.append(CORPUS)
    return pairs, dirs


@contextlib.asynccontextmanager
async def _serve(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class Chaos:
    """One run: its servers, workers and observations (use :func:`run_chaos`)."""

    def __init__(self, plan: Plan, workdir: Path) -> None:
        self.plan = plan
        self.workdir = workdir
        self.rng = random.Random(plan.seed)
        self.report = ChaosReport(plan)
        self.redis_server = PrivateRedis(workdir / "redis")
        self.postgres = PrivatePostgres(workdir / "postgres")
        self.workers: list[subprocess.Popen[bytes]] = []
        self.children: set[tuple[int, int]] = set()  # every analysis child seen
        self.logs = [workdir / f"worker-{i}.log" for i in range(plan.workers)]
        self.log_start = [0] * plan.workers  # where each worker's current process' log begins
        self.env: dict[str, str] = {}
        self.db: asyncpg.Pool | None = None
        self.redis: Redis | None = None
        self.queue = Settings.model_fields["queue_name"].default  # the default, as here
        self.unfinished: list[str] = []  # jobs left at the deadline

    # --- helpers

    async def q(self, query: str, *args: Any) -> list[asyncpg.Record]:
        assert self.db is not None
        db = self.db

        async def run() -> list[asyncpg.Record]:
            rows: list[asyncpg.Record] = await db.fetch(query, *args)
            return rows

        return await _retrying(run, 60, "Postgres")

    async def count(self, status: str) -> int:
        rows = await self.q("SELECT count(*) AS n FROM jobs WHERE status = $1", status)
        n: int = rows[0]["n"]
        return n

    async def running(self) -> set[str]:
        rows = await self.q("SELECT id FROM jobs WHERE status = 'processing'")
        return {str(r["id"]) for r in rows}

    def running_on(self, i: int) -> set[str]:
        """The jobs worker ``i`` (its current process) is running, from arq's log lines:
        ``→ <id>:analyze_risk_drift`` starts a run; ``←`` (done), ``↻`` (retry), ``×``
        (failed) end one."""
        with self.logs[i].open("rb") as log:
            log.seek(self.log_start[i])
            text = log.read().decode(errors="replace")
        running: set[str] = set()
        for line in text.splitlines():
            for mark in ("→ ", "← ", "↻ ", "× "):
                at = line.find(mark)
                if at >= 0 and line[at + 2 :].split(":", 1)[-1].startswith("analyze_risk_drift"):
                    job_id = line[at + 2 :].split(":", 1)[0].strip()
                    if mark == "→ ":
                        running.add(job_id)
                    else:
                        running.discard(job_id)
        return running

    def running_anywhere(self) -> set[str]:
        return set().union(*(self.running_on(i) for i in range(len(self.workers))))

    def spawn(self, i: int) -> subprocess.Popen[bytes]:
        self.log_start[i] = self.logs[i].stat().st_size if self.logs[i].exists() else 0
        with self.logs[i].open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "riskdrift", "worker"],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def watch_children(self) -> None:
        """Note every analysis child of the live workers (for the orphan check)."""
        while True:
            for proc in self.workers:
                if proc.poll() is None:
                    self.children.update(analysis_children(proc.pid))
            await asyncio.sleep(0.2)

    async def gone(self, children: set[tuple[int, int]], within: float) -> list[int]:
        """The pids of ``children`` still alive after up to ``within`` s."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not any(alive(c) for c in children):
                return []
            await asyncio.sleep(0.1)
        return [c[0] for c in children if alive(c)]

    # --- disruptions

    async def kill_worker(self) -> None:
        i = self.rng.randrange(len(self.workers))
        victim = self.workers[i]
        children = set(analysis_children(victim.pid))
        self.children.update(children)
        victim.send_signal(signal.SIGKILL)
        at = time.time()
        victim.wait()
        running = self.running_on(i)
        self.report.disruptions.append(Disruption("worker", at, running, detail=f"worker {i}"))
        self.workers[i] = self.spawn(i)
        # The children die with their worker (parent-death signal), not later.
        self.report.orphans += await self.gone(children, 10.0)

    async def kill_child(self) -> None:
        i = self.rng.randrange(len(self.workers))
        children = analysis_children(self.workers[i].pid)
        deadline = time.monotonic() + 30
        while not children and time.monotonic() < deadline:  # a worker just restarted
            await asyncio.sleep(0.1)
            children = analysis_children(self.workers[i].pid)
        if not children:
            self.report.disruptions.append(Disruption("child", time.time(), set(), detail="none"))
            return
        before = {c: cpu_ticks(c[0]) for c in children}
        await asyncio.sleep(0.2)  # which are busy: CPU used over these 0.2 s
        busy = [c for c in children if cpu_ticks(c[0]) > before[c]]
        victim = self.rng.choice(sorted(busy or children))
        running = self.running_on(i)
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim[0], signal.SIGKILL)
        self.report.disruptions.append(
            Disruption("child", time.time(), running, detail=f"pid {victim[0]} busy={bool(busy)}")
        )

    async def restart_postgres(self) -> None:
        running = self.running_anywhere()
        at = time.time()
        await asyncio.to_thread(self.postgres.stop, "immediate")
        await asyncio.sleep(self.plan.outage)  # the outage itself: a duration, not a wait
        await asyncio.to_thread(self.postgres.start)
        self.report.disruptions.append(Disruption("postgres", at, running, back=time.time()))

    async def restart_redis(self) -> None:
        running = self.running_anywhere()
        at = time.time()
        self.redis_server.kill()
        await asyncio.sleep(self.plan.outage)
        self.redis_server.start()
        await self.redis_server.wait_ready()
        self.report.disruptions.append(Disruption("redis", at, running, back=time.time()))

    # --- the run

    async def run(self) -> ChaosReport:
        plan, report = self.plan, self.report
        (self.workdir / "redis").mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.postgres.init)
        await asyncio.to_thread(self.postgres.start)
        self.redis_server.start()
        watcher: asyncio.Task[None] | None = None
        try:
            await self.redis_server.wait_ready()
            report.pairs, dirs = filing_pairs(plan.corpus)
            settings = Settings(
                redis_url=self.redis_server.url,
                database_url=self.postgres.url,
                auth_enabled=False,
                submit_rate_limit="",
                log_level="WARNING",
                _env_file=None,
            )
            conn = await asyncpg.connect(self.postgres.url)
            try:
                await migrate(conn)
            finally:
                await conn.close()
            self.db = await asyncpg.create_pool(self.postgres.url, min_size=0, max_size=4)
            self.redis = Redis.from_url(self.redis_server.url)
            self.env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("RISKDRIFT_")},
                "PYTHONPATH": str(ROOT),
                "REDIS_URL": self.redis_server.url,
                "DATABASE_URL": self.postgres.url,
                "RISKDRIFT_FILINGS_DIR": str(dirs[0]),
                "RISKDRIFT_EXTRA_FILINGS_DIRS": os.pathsep.join(str(d) for d in dirs[1:]),
                "RISKDRIFT_RESULT_CACHE": "false",  # every job analyses
                "RISKDRIFT_WORKER_MAX_JOBS": str(plan.max_jobs),
                "RISKDRIFT_ANALYSIS_PROCESSES": str(plan.analysis_processes),
                "RISKDRIFT_RECONCILE_INTERVAL": "5",
                "RISKDRIFT_RECONCILE_GRACE": "10",
                "RISKDRIFT_LOG_LEVEL": "INFO",
                "RISKDRIFT_EDGAR_CACHE_DIR": str(self.workdir / "edgar-cache"),
            }
            self.workers = [self.spawn(i) for i in range(plan.workers)]
            watcher = asyncio.create_task(self.watch_children())
            await self.submit_all(settings)
            await self.disrupt()
            await self.wait_done(report)
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
            await asyncio.to_thread(stop_processes, self.workers)
            report.orphans += await self.gone(self.children, 15.0)
            report.children_seen = len(self.children)
            try:
                if self.db is not None and self.redis is not None:
                    await self.collect(report)
            finally:
                await self.close()
        return report

    async def close(self) -> None:
        if self.db is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.db.close(), 10)
        if self.redis is not None:
            await self.redis.aclose()
        self.redis_server.kill()
        with contextlib.suppress(subprocess.CalledProcessError):
            await asyncio.to_thread(self.postgres.stop, "fast")

    async def submit_all(self, settings: Settings) -> None:
        pairs = self.report.pairs
        started = time.monotonic()
        self.started = started
        async with _serve(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            for n in range(self.plan.jobs):
                ticker, current, previous = pairs[n % len(pairs)]
                accepted = await client.post(
                    "/analyze", json={"ticker": ticker, "years": [current, previous]}
                )
                if accepted.status_code != 202:
                    raise RuntimeError(
                        f"submission refused: {accepted.status_code} {accepted.text}"
                    )
        self.report.submit_s = time.monotonic() - started

    async def disrupt(self) -> None:
        plan = self.plan
        kinds = ["worker"] * plan.worker_kills + ["child"] * plan.child_kills
        kinds += list(plan.restarts)
        self.rng.shuffle(kinds)
        actions: dict[str, Callable[[], Awaitable[None]]] = {
            "worker": self.kill_worker,
            "child": self.kill_child,
            "postgres": self.restart_postgres,
            "redis": self.restart_redis,
        }
        for n, kind in enumerate(kinds):
            # Spread over 5–80 % of the jobs, each while jobs run.
            goal = int(plan.jobs * (0.05 + 0.75 * n / max(1, len(kinds))))
            deadline = time.monotonic() + 120
            while True:
                done = await self.count("completed")
                if (done >= goal and await self.running()) or done >= plan.jobs:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no progress to {goal} completed jobs for 120 s")
                await asyncio.sleep(0.05)
            if done >= plan.jobs:
                break
            await actions[kind]()

    async def wait_done(self, report: ChaosReport) -> None:
        assert self.redis is not None
        redis = self.redis
        deadline = time.monotonic() + self.plan.deadline
        while time.monotonic() < deadline:
            failed = await self.count("failed")
            # Quiet too: no arq job left (a re-run restoring a lost terminal event included).
            queued = await _retrying(lambda: redis.zcard(self.queue), 60, "Redis")
            if failed or (await self.count("completed") == self.plan.jobs and queued == 0):
                break
            await asyncio.sleep(0.2)
        else:
            report.stuck = await self.diagnose()
        report.wall_s = time.monotonic() - self.started

    async def diagnose(self) -> str:
        rows = await self.q(
            "SELECT id, status, attempts, step FROM jobs WHERE status <> 'completed' LIMIT 10"
        )
        assert self.redis is not None
        queued = await self.redis.zcard(self.queue)
        self.unfinished = [str(r["id"]) for r in rows]
        return f"{len(rows)}+ unfinished (first: {[dict(r) for r in rows]}); {queued} queued in arq"

    async def collect(self, report: ChaosReport) -> None:
        assert self.redis is not None
        for row in await self.q("SELECT status, count(*) AS n FROM jobs GROUP BY status"):
            report.statuses[row["status"]] = row["n"]
        report.failed = [
            f"{r['id']}: {r['error']}"
            for r in await self.q("SELECT id, error FROM jobs WHERE status = 'failed'")
        ]
        report.result_rows = (await self.q("SELECT count(*) AS n FROM analysis_results"))[0]["n"]
        report.attempts = (await self.q("SELECT sum(attempts) AS n FROM jobs"))[0]["n"] or 0
        finished = {
            str(r["id"]): r["finished_at"].timestamp()
            for r in await self.q("SELECT id, finished_at FROM jobs WHERE finished_at IS NOT NULL")
        }
        ids = [str(r["id"]) for r in await self.q("SELECT id FROM jobs")]
        for job_id in ids:
            entries = await self.redis.xrange(stream_key(uuid.UUID(job_id)))
            events = [parse_entry(fields) for _, fields in entries]
            names: list[str] = [e.event for e in events]
            if [e for e in names if e in TERMINAL_EVENTS] != ["job_completed"]:
                report.wrong_terminals[job_id] = names
            starts = [e.at.timestamp() for e in events if e.event == "job_started"]
            for e in events:
                if e.event != "job_retrying":
                    continue
                report.retry_events += 1
                reason = (e.error or "").split(" (")[0].split(":")[0][:40]
                report.retries_by_reason[reason] = report.retries_by_reason.get(reason, 0) + 1
            for d in report.disruptions:
                if job_id not in d.running:
                    continue
                later = [s for s in starts if s > d.at]
                if d.kind == "worker" and later:
                    report.worker_recoveries.append(min(later) - d.at)
                elif d.kind == "child":
                    died = [
                        e.at.timestamp()
                        for e in events
                        if e.event == "job_retrying"
                        and "analysis process died" in (e.error or "")
                        and d.at <= e.at.timestamp() < d.at + 30
                    ]
                    if died:
                        report.child_kills_hit += 1
                        report.child_requeues.append(min(died) - d.at)
                    if died and later:
                        report.child_recoveries.append(min(later) - d.at)
                elif d.kind in ("postgres", "redis") and job_id in finished:
                    report.held_up.setdefault(d.kind, []).append(
                        max(0.0, finished[job_id] - d.back)
                    )
        suspects = list(report.wrong_terminals)[:3]
        suspects += [f.split(":")[0] for f in report.failed[:3]] + self.unfinished[:3]
        for log in self.logs:
            text = log.read_text(errors="replace") if log.exists() else ""
            for name in LOG_EVENTS:
                if text.count(name):
                    report.log_counts[name] = report.log_counts.get(name, 0) + text.count(name)
            # The temporary directory goes with the run: keep what explains a problem.
            report.evidence += [
                f"{log.name}: {line[:300]}"
                for line in text.splitlines()
                if any(job_id in line for job_id in suspects)
            ]


async def run_chaos(plan: Plan, workdir: Path | None = None) -> ChaosReport:
    """Run ``plan``; raises :class:`Unavailable` when a server binary is missing."""
    if workdir is not None:
        await asyncio.to_thread(_open_up, workdir)
        return await Chaos(plan, workdir).run()
    # Not under a per-user 0700 directory: the Postgres user must reach its data.
    with tempfile.TemporaryDirectory(prefix="riskdrift-chaos-") as tmp:
        await asyncio.to_thread(_open_up, Path(tmp))
        return await Chaos(plan, Path(tmp)).run()


def _open_up(workdir: Path) -> None:
    """Create ``workdir`` traversable by the user PostgreSQL runs as."""
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o755)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-kills", type=int, default=5)
    parser.add_argument("--child-kills", type=int, default=5)
    parser.add_argument("--no-restarts", action="store_true")
    parser.add_argument("--outage", type=float, default=3.0)
    parser.add_argument("--deadline", type=float, default=240.0)
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--no-corpus", action="store_true", help="the ACME sample only")
    parser.add_argument("--workdir", type=Path, help="keep the servers' data and worker logs here")
    args = parser.parse_args()
    plan = Plan(
        jobs=args.jobs,
        workers=args.workers,
        worker_kills=args.worker_kills,
        child_kills=args.child_kills,
        restarts=() if args.no_restarts else ("postgres", "redis"),
        outage=args.outage,
        deadline=args.deadline,
        seed=args.seed,
        corpus=not args.no_corpus,
    )
    try:
        report = asyncio.run(run_chaos(plan, args.workdir))
    except Unavailable as exc:
        print(f"chaos: cannot run: {exc}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
