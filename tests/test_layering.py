"""Which package may import which, checked on the AST (the boundaries of ../shared/STYLE.md).

- ``analysis/`` and ``models.py`` are pure: nothing from ``sources/``, ``store/``, ``api/``,
  ``worker/`` (they turn bytes into results; I/O lives elsewhere);
- ``api/`` imports nothing from ``worker/`` (the API and the workers share domain modules,
  never each other's).
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
