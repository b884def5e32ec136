"""``riskdrift analyze`` refuses a hostile filing with the worker's limits: a message and
exit code 2, within the budget, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

from tests.processes import run_cli
from tests.worker.filings import deeply_nested, valid_filing, write


def test_analyze_refuses_deep_nesting_and_names_the_filing(tmp_path: Path) -> None:
    write(tmp_path, "DEEP", 2024, deeply_nested(100_000))
    write(tmp_path, "DEEP", 2023, valid_filing(2023))
    env = {**os.environ, "RISKDRIFT_FILINGS_DIR": str(tmp_path)}
    done = run_cli(env, "analyze", "DEEP", "2024", "2023", timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"{tmp_path / 'DEEP' / '2024.html'}: the document is too complex" in done.stderr
    assert "more than 500 nesting depth" in done.stderr


def test_analyze_with_a_lower_memory_ceiling_fails_clearly(tmp_path: Path) -> None:
    paragraph = b"<p>risk factor text</p>\n"
    write(tmp_path, "BIG", 2024, b"<body>" + paragraph * (20 * 1024 * 1024 // len(paragraph)))
    write(tmp_path, "BIG", 2023, valid_filing(2023))
    env = {
        **os.environ,
        "RISKDRIFT_FILINGS_DIR": str(tmp_path),
        "RISKDRIFT_ANALYSIS_MEMORY_MB": "600",  # ~340 MB of it are the interpreter's
    }
    done = run_cli(env, "analyze", "BIG", "2024", "2023", timeout=300)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "filing too large to analyse within 600 MB" in done.stderr
