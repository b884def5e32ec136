"""Block building on hostile nesting: ``html_blocks`` time by nesting depth.

A document of ``depth`` nested ``<div>``s with a word of text at every level (the
shape of issue #23's 1.6 MB filing). Block building walked up to ``<body>`` from
every text node, so it was quadratic in the depth; it is now linear. ``--before REF``
also times the ``riskdrift/analysis/document.py`` of a git commit (e.g. the one
before the fix) on the same documents, for the comparison in docs/BENCHMARKS.md.

    .venv/bin/python bench/bench_deep_nesting.py [--depths 2000,4000,8000,16000]
    .venv/bin/python bench/bench_deep_nesting.py --before 28d9d01

Prints one line per depth: seconds to parse + build blocks without limits (median of
``--repeat``), and seconds until ``parse_document`` with the service's default budget
(``Settings.analysis_max_*``) refuses the document (``FilingTooComplex``).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from riskdrift.analysis import document  # noqa: E402
from riskdrift.config import Settings  # noqa: E402
from riskdrift.errors import FilingTooComplex  # noqa: E402


def nested(depth: int) -> str:
    """``depth`` nested divs, text at every level."""
    return "<html><body>" + "<div>risk " * depth + "</div>" * depth + "</body></html>"


def module_at(ref: str) -> types.ModuleType:
    """``riskdrift/analysis/document.py`` as it was at git ``ref``, as a module."""
    source = subprocess.run(
        ["git", "show", f"{ref}:riskdrift/analysis/document.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType(f"document_at_{ref}")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{ref}:document.py", "exec"), module.__dict__)
    return module


def timed(build: Callable[[str], object], html: str, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        build(html)
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


def refused_after(html: str, limits: document.DocumentLimits) -> str:
    """Seconds until the default budget refuses ``html`` (or that it did not)."""
    started = time.perf_counter()
    try:
        document.parse_document(html.encode(), "nested", limits)
    except FilingTooComplex:
        return f"{time.perf_counter() - started:.3f}"
    return "accepted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="2000,4000,8000,16000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", metavar="REF", help="also time document.py at this commit")
    args = parser.parse_args()
    old = module_at(args.before) if args.before else None
    settings = Settings()
    limits = document.DocumentLimits(
        settings.analysis_max_text_chars,
        settings.analysis_max_elements,
        settings.analysis_max_depth,
    )
    print(
        f"{'depth':>7} {'bytes':>9} {'blocks':>7} {'now_s':>8} {'refused_s':>9}"
        + (" before_s" if old else "")
    )
    for depth in (int(d) for d in args.depths.split(",")):
        html = nested(depth)
        blocks = len(document.html_blocks(html).blocks)
        now = timed(document.html_blocks, html, args.repeat)
        line = f"{depth:>7} {len(html):>9} {blocks:>7} {now:>8.3f} {refused_after(html, limits):>9}"
        if old is not None:
            expected = old.html_blocks(html).blocks
            same = [b.text for b in expected] == [b.text for b in document.html_blocks(html).blocks]
            line += f" {timed(old.html_blocks, html, 1):>8.3f}{'' if same else ' (differs!)'}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
