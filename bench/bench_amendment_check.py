"""What the filing watch's Item 1A check of a new 10-K/A costs (issue 24).

The watch parses a new amendment's document for an Item 1A before it starts a job
(:func:`riskdrift.watch.listing.has_item1a`, in a thread of the worker). This prints the
median wall time of that check over ``--repeat`` runs for Tesla's real Part III-only
10-K/A and, as the upper bound a restated amendment costs, each company's latest full
10-K of the corpus.

    .venv/bin/python bench/bench_amendment_check.py [--repeat 5] [--corpus ../shared/corpus]

Without the corpus it says so and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from riskdrift.analysis.document import UNLIMITED
from riskdrift.models import FilingDocument
from riskdrift.watch.listing import has_item1a

ROOT = Path(__file__).resolve().parent.parent


def _time(path: Path, repeat: int) -> tuple[bool, float]:
    document = FilingDocument(
        ticker=path.parent.name,
        year=int(path.name[:4]),
        content=path.read_bytes(),
        name=str(path),
        source="local",
    )
    found = False
    runs = []
    for _ in range(repeat):
        began = time.perf_counter()
        found = has_item1a(document, UNLIMITED)
        runs.append(time.perf_counter() - began)
    return found, statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()
    real = args.corpus / "real10k"
    if not real.is_dir():
        print(f"no corpus at {real}: nothing to measure")
        return 0
    paths = [real / "TSLA" / "2024.10-KA.html"]
    for folder in sorted(p for p in real.iterdir() if p.is_dir()):
        originals = sorted(f for f in folder.glob("[0-9][0-9][0-9][0-9].html"))
        if originals:
            paths.append(originals[-1])
    print(f"{'document':<28} {'size MB':>8} {'Item 1A':>8} {'median ms':>10}")
    for path in paths:
        found, seconds = _time(path, args.repeat)
        size = path.stat().st_size / 1e6
        name = f"{path.parent.name}/{path.name}"
        print(f"{name:<28} {size:>8.2f} {found!s:>8} {seconds * 1000:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
