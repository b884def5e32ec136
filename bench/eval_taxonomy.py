"""Accuracy of ``categorise`` on the hand-labelled risks, with the confusion between categories.

The labels are ``tests/analysis/taxonomy_labels.csv`` (labelled by
``docs/TAXONOMY.md``; META and NVDA are the held-out companies). Each filing
named there is parsed from the corpus, each labelled risk is categorised from
its title, body and section, and the script prints, per split: accuracy, the
per-category recall, and every confusion (label → predicted, with counts). It
also times ``categorise`` over 48 risks (the brief's budget: < 20 ms).

    .venv/bin/python bench/eval_taxonomy.py [--corpus ../shared/corpus] [--show-errors]

Without the corpus it says so and exits 0.
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from riskdrift.analysis.pipeline import parse_filing  # noqa: E402
from riskdrift.analysis.taxonomy import categorise  # noqa: E402

DEFAULT_CORPUS = Path(os.environ.get("RISKDRIFT_CORPUS", ROOT.parent / "shared" / "corpus"))
LABELS = ROOT / "tests" / "analysis" / "taxonomy_labels.csv"


@dataclass(frozen=True)
class LabelledRisk:
    ticker: str
    year: str
    position: int
    title: str
    body: str
    section: str | None
    label: str
    split: str


def load(corpus: Path) -> list[LabelledRisk]:
    """The labelled risks with their bodies and sections, parsed from the corpus."""
    with LABELS.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    filings = {}
    for ticker, year in sorted({(r["ticker"], r["year"]) for r in rows}):
        path = corpus / "real10k" / ticker / f"{year}.html"
        filings[ticker, year] = parse_filing(path.read_bytes(), path.name).risks
    risks = []
    for row in rows:
        risk = filings[row["ticker"], row["year"]][int(row["position"])]
        if " ".join(risk.title.split()) != row["title"]:
            raise SystemExit(f"{row['ticker']} {row['year']} #{row['position']}: title differs")
        risks.append(
            LabelledRisk(
                row["ticker"], row["year"], int(row["position"]), risk.title, risk.body,
                risk.section, row["label"], row["split"],
            )
        )  # fmt: skip
    return risks


def report(risks: list[LabelledRisk], split: str, show_errors: bool) -> None:
    chosen = [r for r in risks if r.split == split]
    predicted = [categorise(r.title, r.body, r.section) for r in chosen]
    right = sum(p == r.label for p, r in zip(predicted, chosen, strict=True))
    companies = ", ".join(sorted({r.ticker for r in chosen}))
    print(f"\n{split} ({companies}): {right}/{len(chosen)} = {right / len(chosen):.1%}")
    totals = collections.Counter(r.label for r in chosen)
    pairs = list(zip(predicted, chosen, strict=True))
    hits = collections.Counter(r.label for p, r in pairs if p == r.label)
    print("  recall by label:")
    for label, total in totals.most_common():
        print(f"    {label:28} {hits[label]:3}/{total:<3}")
    confusion = collections.Counter((r.label, p) for p, r in pairs if p != r.label)
    print("  confusion (label -> predicted: count):")
    for (label, guess), count in confusion.most_common():
        print(f"    {label:28} -> {guess:28} {count}")
    if show_errors:
        for p, r in pairs:
            if p != r.label:
                print(f"    ! {r.ticker} {r.year} #{r.position} [{r.label} -> {p}] {r.title[:90]}")


def time_48(risks: list[LabelledRisk]) -> float:
    """Median milliseconds to categorise 48 labelled risks (best of the runs' medians)."""
    batch = risks[:48]
    runs = []
    for _ in range(20):
        start = time.perf_counter()
        for r in batch:
            categorise(r.title, r.body, r.section)
        runs.append((time.perf_counter() - start) * 1000)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--show-errors", action="store_true", help="list every wrong risk")
    args = parser.parse_args()
    if not (args.corpus / "real10k").is_dir():
        print(f"corpus not found at {args.corpus}; nothing to evaluate")
        return
    risks = load(args.corpus)
    print(f"{len(risks)} labelled risks from {LABELS.relative_to(ROOT)}")
    for split in ("tune", "heldout"):
        report(risks, split, args.show_errors)
    print(f"\ncategorise: 48 risks in {time_48(risks):.1f} ms (median of 20 runs)")


if __name__ == "__main__":
    main()
