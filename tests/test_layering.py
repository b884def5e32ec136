"""Which package may import which, checked on the AST (the boundaries of ../shared/STYLE.md).

- ``analysis/`` and ``models.py`` are pure: nothing from ``sources/``, ``store/``, ``api/``,
  ``worker/`` (they turn bytes into results; I/O lives elsewhere);
- ``render/`` is pure too: no sources, store, API, worker, agent, client or network
  library (it draws a result; the CLI writes the files);
- ``api/`` imports nothing from ``worker/`` (the API and the workers share domain modules,
  never each other's);
- ``queue/`` is the one adapter for arq (issue #16): no other module imports ``arq``,
  touches a private arq name (an ``_``-name arq defines: ``worker._pool``, an override of
  ``Worker._poll_iteration``, ``enqueue_job(_job_id=...)``), or spells a Redis key
  (``"arq:..."``, ``"riskdrift:..."``) outside ``queue/``.
- ``api/`` reads no Redis Stream: replay, gap detection and the live tail of SSE live in
  ``events/`` (:mod:`riskdrift.events.replay`), the routes only parse, open and return.
- a job's (and a batch's) state changes only in ``jobs/`` (issue #25): no other module
  uses the store's status-changing functions, reports a job's state to its batch, or
  makes a job's state-change event.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import arq
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "riskdrift"
ADAPTER = PACKAGE / "queue"

RULES = [
    ("analysis", ("riskdrift.sources", "riskdrift.store", "riskdrift.api", "riskdrift.worker")),
    ("models.py", ("riskdrift.sources", "riskdrift.store", "riskdrift.api", "riskdrift.worker")),
    ("api", ("riskdrift.worker",)),
    # Pure renderers (issue #25): a result in, text out; whoever wants a file writes it.
    (
        "render",
        (
            "riskdrift.sources",
            "riskdrift.store",
            "riskdrift.api",
            "riskdrift.worker",
            "riskdrift.agent",
            "riskdrift.client",
            "httpx",
            "asyncpg",
            "redis",
        ),
    ),
]

STREAM_READS = frozenset(
    {
        "xrange",
        "xrevrange",
        "xread",
        "xreadgroup",
        "xlen",
        "xinfo_stream",
        "subscribe",
        "entry_from_redis",
    }
)
"""Redis Stream reads, and the hub's subscription and entry decoding."""


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize(("where", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_package_boundaries(where: str, forbidden: tuple[str, ...]) -> None:
    target = PACKAGE / where
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    assert files
    broken = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in files
        for name in imports_of(path)
        if name.startswith(forbidden)
    }
    assert not broken, sorted(broken)


def outside_adapter() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if ADAPTER not in path.parents:
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def test_only_the_queue_adapter_imports_arq() -> None:
    broken = sorted(
        f"{path.relative_to(PACKAGE)}: {name}"
        for path, _ in outside_adapter()
        for name in imports_of(path)
        if name == "arq" or name.startswith("arq.")
    )
    assert not broken, broken


def arq_private_names() -> frozenset[str]:
    """Every single-underscore name arq's own source defines or reads as an attribute:
    methods, attributes (``self._pool``) and parameters (``enqueue_job``'s ``_job_id``)."""
    names: set[str] = set()
    for path in Path(arq.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute):
                names.add(node.attr)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
    return frozenset(n for n in names if n.startswith("_") and not n.startswith("__"))


def arq_classes(tree: ast.Module) -> set[str]:
    """Names of the module's classes that derive from an arq class (through the adapter)."""
    from riskdrift import queue

    derived = {
        name
        for name in queue.__all__
        if isinstance(getattr(queue, name), type)
        and getattr(queue, name).__module__.startswith(("arq", "riskdrift.queue"))
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {
                b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
            }
            if bases & (derived | found):
                found.add(node.name)
    return found


def private_arq_uses(tree: ast.Module, private: frozenset[str]) -> Iterator[tuple[int, str]]:
    """Where a module reaches into arq: an arq private name read on another object
    (``worker._pool``), passed as a keyword (``_job_id=``), or used or overridden inside a
    class derived from arq's (``self._poll_iteration``, ``async def _poll_iteration``)."""
    subclasses = arq_classes(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in private:
            yield node.value.lineno, f"{node.arg}="
        elif isinstance(node, ast.Attribute) and node.attr in private:
            owner = node.value
            is_self = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            if not is_self and not isinstance(owner, ast.Call):
                yield node.lineno, f".{node.attr}"
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name in subclasses):
        for node in ast.walk(cls):
            if isinstance(node, ast.Attribute) and node.attr in private:
                yield node.lineno, f"{cls.name}: .{node.attr}"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in private:
                yield node.lineno, f"{cls.name}: def {node.name}"


def test_private_arq_names_are_found() -> None:
    """The check below sees what it is meant to catch (so a silent arq rename fails here)."""
    private = arq_private_names()
    assert {"_poll_iteration", "_pool", "_job_id", "_queue_name"} <= private
    caught = ast.parse(
        "class W(PollingWorker):\n"
        "    async def _poll_iteration(self): await super()._poll_iteration()\n"
        "async def f(redis, worker):\n"
        "    await redis.enqueue_job('t', _job_id='x')\n"
        "    return worker._pool\n"
    )
    assert {what for _, what in private_arq_uses(caught, private)} == {
        "W: def _poll_iteration",
        "W: ._poll_iteration",
        "_job_id=",
        "._pool",
    }


def test_only_the_queue_adapter_touches_private_arq_names() -> None:
    private = arq_private_names()
    broken = sorted(
        f"{path.relative_to(PACKAGE)}:{line}: {what}"
        for path, tree in outside_adapter()
        for line, what in private_arq_uses(tree, private)
    )
    assert not broken, broken


REDIS_KEY = re.compile(r"""(?:^|['"])(?:arq|riskdrift):[\w-]""")


def test_redis_keys_are_named_in_the_adapter() -> None:
    """No string outside ``queue/`` spells an ``arq:`` or ``riskdrift:`` key (docstrings
    may mention them); ``riskdrift: error: ...`` messages are not keys."""
    broken = []
    for path, tree in outside_adapter():
        docstrings = {
            id(n.value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and any(REDIS_KEY.search(line.strip()) for line in node.value.splitlines())
            ):
                broken.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value[:40]!r}")
    assert not broken, broken


def stream_reads_of(path: Path) -> set[str]:
    """The names of :data:`STREAM_READS` that ``path`` calls or imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in STREAM_READS:
                found.add(f"{name}()")
        elif isinstance(node, ast.ImportFrom):
            found.update(alias.name for alias in node.names if alias.name in STREAM_READS)
    return found


def test_api_reads_no_stream() -> None:
    files = sorted((PACKAGE / "api").rglob("*.py"))
    reads = {
        f"{path.relative_to(PACKAGE)}: {name}" for path in files for name in stream_reads_of(path)
    }
    assert not reads, sorted(reads)


def test_stream_reads_are_recognised() -> None:
    # The check above would pass vacuously if it missed these.
    assert stream_reads_of(PACKAGE / "events" / "replay.py") >= {
        "xrange()",
        "xrevrange()",
        "subscribe()",
        "entry_from_redis",
    }


# The store's functions that change a job's or a batch's state (insert, guarded UPDATE,
# delete), by module; only riskdrift/jobs (and the store itself) may use them.
STATE_CHANGES = {
    "riskdrift.store.jobs": frozenset(
        {
            "create_job",
            "start_attempt",
            "release_attempt",
            "finish_job",
            "complete_job",
            "cancel_job",
            "delete_unqueued",
        }
    ),
    "riskdrift.store.batches": frozenset(
        {"create_batch", "cancel_queued", "mark_finished", "delete_unqueued"}
    ),
    # A job's state reported to its batch's stream and counts.
    "riskdrift.events.batch_progress": frozenset({"report_state", "queue_report"}),
}
STATE_EVENTS = frozenset(
    {"job_queued", "job_started", "job_completed", "job_failed", "job_cancelled", "job_retrying"}
)
"""The events of a job's state changes (``step_complete`` is progress, not a state)."""
LIFECYCLE_HOMES = ("jobs", "store", "events")


def state_changes_in(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Where a module uses a state-changing function of :data:`STATE_CHANGES` (called or
    passed on, through ``from riskdrift.store import jobs``, ``import ... as``, or by name)
    or makes a :data:`STATE_EVENTS` event."""
    modules: dict[str, str] = {}  # local name -> module of STATE_CHANGES
    functions: dict[str, str] = {}  # local name -> "module.function"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                local = alias.asname or alias.name
                if full in STATE_CHANGES:
                    modules[local] = full
                elif alias.name in STATE_CHANGES.get(node.module, ()):
                    functions[local] = full
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in STATE_CHANGES and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            owner = node.value
            module = modules.get(owner.id, "") if isinstance(owner, ast.Name) else ""
            if node.attr in STATE_CHANGES.get(module, ()):
                yield node.lineno, f"{module}.{node.attr}"
        elif isinstance(node, ast.Name) and node.id in functions:
            yield node.lineno, functions[node.id]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0] if node.args else None
            if (
                name == "make_event"
                and isinstance(first, ast.Constant)
                and first.value in STATE_EVENTS
            ):
                yield node.lineno, f"make_event({first.value!r})"


def test_state_changes_are_found() -> None:
    """The check below sees each way a module could change a job's state."""
    caught = ast.parse(
        "from riskdrift.store import jobs, batches as b\n"
        "from riskdrift.store.jobs import finish_job as fin, get_job\n"
        "import riskdrift.store.jobs as sj\n"
        "from riskdrift.events.batch_progress import queue_report\n"
        "async def f(db, i):\n"
        "    await jobs.cancel_job(db, i, tenant='t')\n"
        "    await b.cancel_queued(db, i)\n"
        "    await fin(db, i)\n"
        "    undo = lambda: sj.release_attempt(db, i)\n"
        "    queue_report(None, i)\n"
        "    await get_job(db, i); await jobs.record_progress(db, i, 's', 1)\n"
        "    make_event('job_failed', i); make_event('step_complete', i)\n"
    )
    assert {what for _, what in state_changes_in(caught)} == {
        "riskdrift.store.jobs.cancel_job",
        "riskdrift.store.batches.cancel_queued",
        "riskdrift.store.jobs.finish_job",
        "riskdrift.store.jobs.release_attempt",
        "riskdrift.events.batch_progress.queue_report",
        "make_event('job_failed')",
    }


def test_only_the_lifecycle_changes_a_jobs_state() -> None:
    """Routes, worker tasks, the reconciler and batches change a job's state only through
    ``riskdrift.jobs`` (one guarded UPDATE + event + batch report + outbox row, in one place);
    ``store/`` holds the SQL and ``events/`` the batch report's script."""
    homes = tuple(PACKAGE / home for home in LIFECYCLE_HOMES)
    broken = sorted(
        f"{path.relative_to(PACKAGE)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(home in path.parents for home in homes)
        for line, what in state_changes_in(ast.parse(path.read_text(encoding="utf-8")))
    )
    assert not broken, broken


# Where a process's Redis clients and Postgres pools are made (issue #25, DESIGN.md "Rules
# of the house"): the API lifespan, the worker's on_startup, the event hub (one blocking
# reader per API process), the entrypoints (cli/, dev/) and the factories themselves.
# Everything else is handed its clients as explicit keyword dependencies.
CLIENT_HOMES = ("api/app.py", "worker/settings.py", "events/hub.py", "cli", "dev", "queue", "store")


def clients_made_in(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Where a module opens a Redis client or a Postgres pool/connection of its own."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("Redis", "create_pool", "create_queue_pool"):
            yield node.lineno, f"{func.id}()"
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            owner, name = func.value.id, func.attr
            if (name == "from_url" and owner.endswith(("Redis", "ConnectionPool"))) or (
                owner == "asyncpg" and name in ("connect", "create_pool")
            ):
                yield node.lineno, f"{owner}.{name}()"


def test_client_creation_is_found() -> None:
    caught = ast.parse(
        "async def agent(settings):\n"
        "    limiter_redis = Redis.from_url(settings.redis_url)\n"
        "    cache_pool = await create_pool(settings, min_size=1)\n"
        "    conn = await asyncpg.connect(settings.database_url)\n"
        "    async with connect(api) as http: pass\n"
    )
    assert {what for _, what in clients_made_in(caught)} == {
        "Redis.from_url()",
        "create_pool()",
        "asyncpg.connect()",
    }


def test_clients_are_made_once_per_process_where_it_starts() -> None:
    homes = [PACKAGE / home for home in CLIENT_HOMES]
    broken = sorted(
        f"{path.relative_to(PACKAGE)}:{line}: {what}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path not in homes and not any(home in path.parents for home in homes)
        for line, what in clients_made_in(ast.parse(path.read_text(encoding="utf-8")))
    )
    assert not broken, broken
