"""Benchmark of the pure analysis pipeline over the corpus's consecutive-year pairs.

For each pair: the median wall time of the full pure pipeline (parse both
filings + tone + match + Lazy Prices + heatmap + summary, i.e.
``analyse_documents``) over ``--repeat`` runs, and the peak resident memory of
the process that ran it. Each pair runs in a fresh subprocess, so the peak is
that pair's own ``ru_maxrss`` (Linux: KiB), interpreter and imports included.

    .venv/bin/python bench/bench_analysis.py [--repeat 5] [--corpus ../shared/corpus]
    .venv/bin/python bench/bench_analysis.py --quick      # one run per pair (make bench)

Without the corpus (``../shared`` absent) it says so and exits 0, so ``make bench``
goes on to the service benchmark.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path(os.environ.get("RISKDRIFT_CORPUS", ROOT.parent / "shared" / "corpus"))
TARGET_SECONDS = 0.5
TARGET_MB = 160.0


def pairs(corpus: Path) -> list[tuple[str, int, int]]:
    found = []
    for ticker_dir in sorted((corpus / "real10k").iterdir()):
        years = sorted(int(p.stem) for p in ticker_dir.glob("*.html") if p.stem.isdigit())
        found += [(ticker_dir.name, b, a) for a, b in itertools.pairwise(years) if b == a + 1]
    return found


def run_pair(
    corpus: Path, ticker: str, current: int, previous: int, repeat: int
) -> dict[str, float]:
    """Child mode: time the pipeline on one pair and report JSON on stdout."""
    sys.path.insert(0, str(ROOT))
    from riskdrift.agent.lexicons import load_lexicon
    from riskdrift.analysis import materiality, sentences, themes
    from riskdrift.analysis.pipeline import analyse_documents
    from riskdrift.models import FilingDocument

    lexicon = load_lexicon(None)

    def document(year: int) -> FilingDocument:
        path = corpus / "real10k" / ticker / f"{year}.html"
        return FilingDocument(ticker, year, path.read_bytes(), str(path), "local")

    cur, prev = document(current), document(previous)
    times = []
    risks = 0
    for _ in range(repeat):
        # Per-text caches would make every repeat after the first a cache hit; a worker
        # meets each filing once, so each repeat starts with them empty.
        sentences.clear_caches()
        themes.clear_caches()
        materiality.clear_caches()
        started = time.perf_counter()
        result = analyse_documents(cur, prev, lexicon)
        times.append(time.perf_counter() - started)
        risks = len(result.risks)
    return {
        "median_s": statistics.median(times),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rows": risks,
        "bytes": len(cur.content) + len(prev.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run per pair (--repeat 1)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--child", nargs=3, metavar=("TICKER", "CURRENT", "PREVIOUS"))
    args = parser.parse_args()
    if args.child:
        ticker, current, previous = args.child
        print(json.dumps(run_pair(args.corpus, ticker, int(current), int(previous), args.repeat)))
        return
    if args.quick:
        args.repeat = 1
    if not (args.corpus / "real10k").is_dir():
        print(f"bench_analysis: skipped, no corpus at {args.corpus / 'real10k'} "
              "(set RISKDRIFT_CORPUS or pass --corpus)")  # fmt: skip
        return
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"{'pair':<18}{'MB in':>7}{'rows':>6}{'median s':>10}{'peak MB':>9}  target")
    worst_s = worst_mb = 0.0
    for ticker, current, previous in pairs(args.corpus):
        out = subprocess.run(
            [sys.executable, __file__, "--repeat", str(args.repeat), "--corpus", str(args.corpus),
             "--child", ticker, str(current), str(previous)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        row = json.loads(out)
        worst_s, worst_mb = max(worst_s, row["median_s"]), max(worst_mb, row["peak_mb"])
        ok = row["median_s"] <= TARGET_SECONDS and row["peak_mb"] <= TARGET_MB
        print(
            f"{ticker} {current}/{previous}".ljust(18)
            + f"{row['bytes'] / 1e6:>7.1f}{row['rows']:>6}{row['median_s']:>10.3f}"
            + f"{row['peak_mb']:>9.1f}  {'ok' if ok else 'MISSED'}"
        )
    print(f"worst: {worst_s:.3f} s, {worst_mb:.1f} MB (targets {TARGET_SECONDS} s, {TARGET_MB} MB)")


if __name__ == "__main__":
    main()
