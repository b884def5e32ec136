"""Which package may import which, checked on the AST (the boundaries of ../shared/STYLE.md).

- ``analysis/`` and ``models.py`` are pure: nothing from ``sources/``, ``store/``, ``api/``,
  ``worker/`` (they turn bytes into results; I/O lives elsewhere);
- ``api/`` imports nothing from ``worker/`` (the API and the workers share domain modules,
  never each other's);
- ``api/`` reads no Redis Stream: replay, gap detection and the live tail of SSE live in
  ``events/`` (:mod:`riskdrift.events.replay`), the routes only parse, open and return.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "riskdrift"

RULES = [
    ("analysis", ("riskdrift.sources", "riskdrift.store", "riskdrift.api", "riskdrift.worker")),
    ("models.py", ("riskdrift.sources", "riskdrift.store", "riskdrift.api", "riskdrift.worker")),
    ("api", ("riskdrift.worker",)),
]

STREAM_READS = frozenset({"xrange", "xrevrange", "xread", "xreadgroup", "xlen", "xinfo_stream",
                          "subscribe", "entry_from_redis"})
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
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in files
        for name in stream_reads_of(path)
    }
    assert not reads, sorted(reads)


def test_stream_reads_are_recognised() -> None:
    # The check above would pass vacuously if it missed these.
    assert stream_reads_of(PACKAGE / "events" / "replay.py") >= {
        "xrange()", "xrevrange()", "subscribe()", "entry_from_redis"}
