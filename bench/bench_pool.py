"""The analysis pool's cost per call against a ProcessPoolExecutor's, interleaved.

Both run one child (the worker's default ``analysis_processes=1``) and get the same
calls, alternately, so machine noise hits both alike:

- ``ship``: a corpus pair's two documents in, a bool out (``operator.is_``, importable
  by both children: the hand-off alone);
- ``analyse``: ``analyse_documents`` of the pair (the real call, result out).

Prints the median and p90 wall time per call, in ms, for each. The pool adds a
killable child per call slot, a time limit and a memory ceiling; this shows what, if
anything, that costs against the executor it replaced.

    .venv/bin/python bench/bench_pool.py [--calls 30] [--pair AAPL:2025:2024]

Needs the shared corpus (``../shared/corpus``); without it, says so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import multiprocessing
import operator
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from riskdrift.agent.lexicons import load_lexicon  # noqa: E402
from riskdrift.analysis.document import UNLIMITED  # noqa: E402
from riskdrift.analysis.pipeline import analyse_documents  # noqa: E402
from riskdrift.models import FilingDocument  # noqa: E402
from riskdrift.worker.analysis_pool import AnalysisPool  # noqa: E402

CORPUS = Path(os.environ.get("RISKDRIFT_CORPUS", ROOT.parent / "shared" / "corpus")) / "real10k"


def document(ticker: str, year: int) -> FilingDocument:
    path = CORPUS / ticker / f"{year}.html"
    return FilingDocument(
        ticker=ticker, year=year, content=path.read_bytes(), name=str(path), source="local"
    )


async def timed(call: Callable[..., Awaitable[object]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


def summary(runs: list[float]) -> str:
    ordered = sorted(runs)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return f"median {statistics.median(ordered):8.1f}  p90 {p90:8.1f}"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--pair", default="AAPL:2025:2024")
    parser.add_argument("--memory-mb", type=int, default=2048, help="the pool's ceiling")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"bench_pool: skipped, no corpus at {CORPUS}")
        return
    ticker, current_year, previous_year = args.pair.split(":")
    current, previous = document(ticker, int(current_year)), document(ticker, int(previous_year))
    lexicon = load_lexicon(None)
    loop = asyncio.get_running_loop()
    executor = concurrent.futures.ProcessPoolExecutor(
        1, mp_context=multiprocessing.get_context("spawn")
    )
    pool = AnalysisPool(1, memory_mb=args.memory_mb)
    await pool.start()
    calls: list[tuple[str, Callable[..., object], tuple[object, ...]]] = [
        ("ship", operator.is_, (current, previous)),
        ("analyse", analyse_documents, (current, previous, lexicon, UNLIMITED)),
    ]
    results: dict[str, list[float]] = {}
    try:
        for name, fn, arguments in calls:
            # one warm-up call each: imports, first-touch allocations
            await loop.run_in_executor(executor, fn, *arguments)
            await pool.run(fn, *arguments)
            for _ in range(args.calls):
                results.setdefault(f"{name} executor", []).append(
                    await timed(lambda f=fn, a=arguments: loop.run_in_executor(executor, f, *a))
                )
                results.setdefault(f"{name} pool", []).append(
                    await timed(lambda f=fn, a=arguments: pool.run(f, *a, time_limit=300.0))
                )
    finally:
        executor.shutdown()
        await pool.aclose()
    size = (len(current.content) + len(previous.content)) / 1e6
    print(f"bench_pool: {args.pair} ({size:.1f} MB of documents), {args.calls} calls each, ms")
    for name, runs in results.items():
        print(f"  {name:<18} {summary(runs)}")


if __name__ == "__main__":
    asyncio.run(main())
