"""How far the changes a result claims hold against the filings (issue #22's independent check).

Every consecutive pair of ``real10k`` (HTML 10-Ks) and ``real10k_item1a_only`` (plain
Item 1A extracts) is analysed, and each claimed added / removed / edited sentence is
checked against an independent extraction of both years' Item 1A
(``tests/analysis/claims.py``); the layouts corpus's single filings get the check that
every risk stands in Item 1A and none is furniture or empty. Per pair it prints the
claims checked, the share holding by kind of claim, the failing claims by category,
the plain sentence diff's changes among the risks and those the result misses (and,
apart, the misses in Item 1A's preamble: introduction, risk-factor summary), then
examples of failing claims and misses.

    .venv/bin/python bench/eval_claims.py [--corpus ../shared/corpus] [--examples 3]
                                          [--only TICKER]

The test (``tests/analysis/test_claims.py``) asserts the thresholds: at least 98 % of
claims hold and at most 1 % of changes are missed, per corpus. Without the corpus it
says so and exits 0.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from riskdrift.errors import FilingParseError  # noqa: E402
from tests.analysis.claims import (  # noqa: E402
    PairReport,
    item1a_only_pairs,
    layout_filings,
    layout_report,
    pair_report,
    real10k_pairs,
    totals,
)

DEFAULT_CORPUS = Path(os.environ.get("RISKDRIFT_CORPUS", ROOT.parent / "shared" / "corpus"))
KINDS = ("new risk", "removed risk", "added", "removed", "edited", "risk")


def _share(report: PairReport, kind: str) -> str:
    checks = [c for c in report.checks if c.claim.kind == kind]
    if not checks:
        return "-"
    return f"{sum(c.holds for c in checks) / len(checks):.0%}/{len(checks)}"


def print_reports(title: str, reports: Sequence[PairReport], examples: int) -> None:
    """One line per pair, the corpus's totals and categories, then examples."""
    print(f"\n== {title}")
    print(
        f"{'pair':18} {'claims':>6} {'hold':>6} "
        + " ".join(f"{k:>12}" for k in KINDS)
        + f" {'changes':>7} {'missed':>6} {'preamble':>8}  failing by category"
    )
    categories: collections.Counter[str] = collections.Counter()
    for report in reports:
        kinds = collections.Counter(c.category or "" for c in report.failures)
        categories.update(kinds)
        holding = 1 - len(report.failures) / len(report.checks) if report.checks else 1.0
        print(
            f"{report.name:18} {len(report.checks):6} {holding:6.1%} "
            + " ".join(f"{_share(report, k):>12}" for k in KINDS)
            + f" {report.reference_changes:7} {len(report.risk_misses):6}"
            + f" {len(report.preamble_misses):8}  "
            + ", ".join(f"{k} {n}" for k, n in kinds.most_common())
        )
    figures = totals(reports)
    print(
        f"{'total':18} {figures.claims:6} {figures.holding_share:6.1%} "
        f"{'':>77} {figures.reference_changes:7} {figures.misses:6}"
        f"  ({figures.miss_share:.2%} missed)"
    )
    if figures.failing:
        print(
            "false claims by category: "
            + ", ".join(f"{k} {n} ({n / figures.failing:.0%})" for k, n in categories.most_common())
        )
    if examples:
        for report in reports:
            shown = report.failures[:examples]
            misses = report.risk_misses[:examples]
            if not shown and not misses:
                continue
            print(f"-- {report.name}")
            for check in shown:
                print(f"   {check.describe()}")
            for miss in misses:
                print(f"   [missed] {miss.kind}: {miss.sentence[:160]!r}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--examples", type=int, default=3, help="failing claims shown per pair")
    parser.add_argument("--only", help="only the pairs of this ticker")
    args = parser.parse_args(argv)
    corpus: Path = args.corpus
    if not (corpus / "real10k").is_dir():
        print(f"corpus not found at {corpus}: nothing to evaluate")
        return 0
    started = time.perf_counter()
    for title, pairs, whole in (
        ("real10k (HTML 10-Ks)", real10k_pairs(corpus / "real10k"), False),
        (
            "real10k_item1a_only (plain-text Item 1A)",
            item1a_only_pairs(corpus / "real10k_item1a_only")
            if (corpus / "real10k_item1a_only").is_dir()
            else [],
            True,
        ),
    ):
        chosen = [p for p in pairs if args.only in (None, p[0])]
        if chosen:
            print_reports(title, [pair_report(t, c, p, whole) for t, c, p in chosen], args.examples)
    layouts = corpus / "layouts"
    if layouts.is_dir():
        reports = []
        for path in layout_filings(layouts):
            if args.only not in (None, path.parent.name):
                continue
            try:
                reports.append(layout_report(path))
            except FilingParseError as error:
                print(f"layouts {path.parent.name}: refused ({type(error).__name__}): {error}")
        if reports:
            print_reports(
                "layouts (single filings: risks stand in Item 1A)", reports, args.examples
            )
    print(f"\nchecked in {time.perf_counter() - started:.1f} s (analysis included)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
