"""Precision and recall of the materiality ranking on the hand-labelled changes.

The labels are ``tests/analysis/materiality_labels.csv``: changes of nine corpus pairs,
read and labelled material or immaterial (would a portfolio manager need to hear about
it?) before any weight was tuned; META 2024/2023 and NVDA 2025/2024 are held out of
tuning. Each pair is analysed, every change scored (``materiality.score_changes``) and
each label found among the scored changes by pair, change type, risk title and the
quoted sentence's opening words. Per split it prints:

- *top-5 precision*: of the five highest-scored labelled changes of each pair, the share
  labelled material (averaged over pairs); *top-5 recall*: of each pair's labelled
  material changes (at most five), the share that made its top five;
- *ranking accuracy*: over all (material, immaterial) label pairs of the same filing
  pair, the share where the material change scores higher (ties count half);
- of each pair's own top five (labelled or not): how many are labelled material,
  immaterial, or not labelled at all;
- the overall top five of each pair (labelled or not), with scores and reasons.

    .venv/bin/python bench/eval_materiality.py [--corpus ../shared/corpus] [--show N]

Without the corpus it says so and exits 0.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from riskdrift.agent.lexicons import load_lexicon  # noqa: E402
from riskdrift.analysis.materiality import score_changes  # noqa: E402
from riskdrift.analysis.pipeline import analyse_documents  # noqa: E402
from riskdrift.models import FilingDocument, MaterialChange  # noqa: E402

DEFAULT_CORPUS = Path(os.environ.get("RISKDRIFT_CORPUS", ROOT.parent / "shared" / "corpus"))
LABELS = ROOT / "tests" / "analysis" / "materiality_labels.csv"
TOP = 5


@dataclass(frozen=True)
class Label:
    pair: str
    split: str
    risk: str
    change: str
    quote: str
    material: bool


def load_labels(path: Path = LABELS) -> list[Label]:
    with path.open(newline="") as handle:
        return [
            Label(
                r["pair"], r["split"], r["risk"], r["change"], r["quote"],
                r["label"] == "material",
            )
            for r in csv.DictReader(handle)
        ]  # fmt: skip


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def find(label: Label, scored: list[MaterialChange]) -> MaterialChange | None:
    """The scored change a label names (None when the analysis no longer reports it)."""
    for change in scored:
        if change.change != label.change or not _norm(change.risk_title).startswith(label.risk):
            continue
        if label.change in ("new_risk", "removed_risk"):
            return change
        text = change.previous if label.change == "removed" else change.current
        if _norm(text).startswith(label.quote):
            return change
    return None


def score_pair(corpus: Path, pair: str) -> list[MaterialChange]:
    """Every change of one labelled pair ("AAPL 2025/2024"), scored."""
    ticker, years = pair.split()
    current, previous = (int(y) for y in years.split("/"))

    def document(year: int) -> FilingDocument:
        path = corpus / "real10k" / ticker / f"{year}.html"
        return FilingDocument(ticker, year, path.read_bytes(), str(path), "local")

    result = analyse_documents(document(current), document(previous), load_lexicon(None))
    return score_changes(result.risks, (current, previous))


@dataclass(frozen=True)
class Figures:
    precision: float
    recall: float
    ranking: float
    found: int
    missing: int
    overall: tuple[int, int, int]  # the pairs' own top 5: labelled material, immaterial, neither


def evaluate(labels: list[Label], scored: dict[str, list[MaterialChange]], split: str) -> Figures:
    """Top-5 precision and recall (mean over pairs) and ranking accuracy of one split."""
    precisions, recalls = [], []
    wins = total = 0.0
    found = missing = 0
    overall = [0, 0, 0]
    for pair in sorted({lb.pair for lb in labels if lb.split == split}):
        labelled = {id(c): lb.material for lb in labels if lb.pair == pair
                    if (c := find(lb, scored[pair])) is not None}  # fmt: skip
        for top in scored[pair][:TOP]:
            verdict = labelled.get(id(top))
            overall[0 if verdict is True else 1 if verdict is False else 2] += 1
        matched: list[tuple[MaterialChange, bool]] = []
        for label in (lb for lb in labels if lb.pair == pair):
            change = find(label, scored[pair])
            if change is None:
                missing += 1
                continue
            found += 1
            matched.append((change, label.material))
        ranked = sorted(matched, key=lambda m: -m[0].score)[:TOP]
        material = sum(1 for _, m in matched if m)
        precisions.append(sum(1 for _, m in ranked if m) / max(len(ranked), 1))
        recalls.append(sum(1 for _, m in ranked if m) / max(min(material, TOP), 1))
        for a, ma in matched:
            for b, mb in matched:
                if ma and not mb:
                    total += 1
                    wins += 1.0 if a.score > b.score else 0.5 if a.score == b.score else 0.0
    return Figures(
        sum(precisions) / max(len(precisions), 1),
        sum(recalls) / max(len(recalls), 1),
        wins / max(total, 1),
        found,
        missing,
        (overall[0], overall[1], overall[2]),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--show", type=int, default=TOP, help="top changes to print per pair")
    args = parser.parse_args()
    if not (args.corpus / "real10k").is_dir():
        print(f"corpus not found at {args.corpus}; nothing to evaluate")
        return
    labels = load_labels()
    pairs = sorted({lb.pair for lb in labels})
    scored = {pair: score_pair(args.corpus, pair) for pair in pairs}
    for split in ("tune", "holdout"):
        f = evaluate(labels, scored, split)
        names = ", ".join(sorted({lb.pair for lb in labels if lb.split == split}))
        print(
            f"{split} ({names}): top-{TOP} precision {f.precision:.2f}, recall {f.recall:.2f}, "
            f"ranking accuracy {f.ranking:.2f} ({f.found} labels found, {f.missing} missing); "
            f"the pairs' own top {TOP}: {f.overall[0]} labelled material, {f.overall[1]} "
            f"immaterial, {f.overall[2]} unlabelled"
        )
    if args.show:
        by_key = {(lb.pair, lb.change, lb.quote): lb for lb in labels}
        for pair in pairs:
            print(f"\n{pair}")
            for change in scored[pair][: args.show]:
                text = _norm(change.current or change.previous)
                label = next(
                    (
                        "M" if lb.material else "I"
                        for (p, c, q), lb in by_key.items()
                        if p == pair and c == change.change and text.startswith(q)
                    ),
                    "?",
                )
                print(f"  {change.score:.2f} {label} {change.kind:18} {text[:90]}")
                print(f"       {'; '.join(change.reasons)[:110]}")


if __name__ == "__main__":
    main()
