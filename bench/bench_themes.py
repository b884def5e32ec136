"""CPU time of the themes step and of the whole pure pipeline, per corpus pair.

CPU seconds (``time.process_time``, the least of ``--repeat`` runs, per-text caches
emptied before each) are steadier than wall time on a shared machine, so two commits
can be compared in the same minutes: check out each (or export it with ``git
archive``) and run this script from its root.

    .venv/bin/python bench/bench_themes.py [--repeat 5] [--corpus ../shared/corpus]

Without the corpus it says so and exits 0.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path(os.environ.get("RISKDRIFT_CORPUS", ROOT.parent / "shared" / "corpus"))


def pairs(corpus: Path) -> list[tuple[str, int, int]]:
    found = []
    for ticker_dir in sorted((corpus / "real10k").iterdir()):
        years = sorted(int(p.stem) for p in ticker_dir.glob("*.html") if p.stem.isdigit())
        found += [(ticker_dir.name, b, a) for a, b in itertools.pairwise(years) if b == a + 1]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    if not (args.corpus / "real10k").is_dir():
        print(f"no corpus at {args.corpus}: nothing to measure")
        return
    sys.path.insert(0, str(ROOT))
    from riskdrift.agent.lexicons import load_lexicon
    from riskdrift.analysis import sentences, themes
    from riskdrift.analysis.matching import match_risks
    from riskdrift.analysis.pipeline import (
        analyse_documents,
        compare_filings,
        parse_filing,
        score_risks,
    )
    from riskdrift.models import FilingDocument

    lexicon = load_lexicon(None)

    def least(step: Callable[[], object]) -> float:
        best = float("inf")
        for _ in range(args.repeat):
            sentences.clear_caches()
            themes.clear_caches()
            started = time.process_time()
            step()
            best = min(best, time.process_time() - started)
        return best

    print(f"{'pair':<16}{'themes':>8}{'compare':>9}{'pipeline':>10}  CPU s, least of {args.repeat}")
    totals = [0.0, 0.0, 0.0]
    for ticker, current, previous in pairs(args.corpus):
        docs = []
        for year in (current, previous):
            path = args.corpus / "real10k" / ticker / f"{year}.html"
            docs.append(FilingDocument(ticker, year, path.read_bytes(), str(path), "local"))
        cur, prev = (parse_filing(d.content, d.name) for d in docs)
        rows = match_risks(cur.risks, prev.risks)
        tones = (score_risks(cur.risks, lexicon), score_risks(prev.risks, lexicon))
        risk_texts = (
            [(k, cur.risks[p.current].text) for k, p in enumerate(rows) if p.current is not None],
            [
                (k, prev.risks[p.previous].text)
                for k, p in enumerate(rows)
                if p.previous is not None
            ],
        )
        figures = [
            least(functools.partial(theme_step, themes, cur, prev, risk_texts)),
            least(functools.partial(compare_filings, cur, prev, *tones)),
            least(functools.partial(analyse_documents, docs[0], docs[1], lexicon)),
        ]
        totals = [t + f for t, f in zip(totals, figures, strict=True)]
        name = f"{ticker} {current}/{previous}"
        print(f"{name:<16}{figures[0]:>8.3f}{figures[1]:>9.3f}{figures[2]:>10.3f}")
    print(f"{'total':<16}{totals[0]:>8.3f}{totals[1]:>9.3f}{totals[2]:>10.3f}")


def theme_step(themes: Any, cur: Any, prev: Any, risk_texts: tuple[Any, Any]) -> object:
    """Count both years' terms and find the themes (folding both years' text, where the
    code has :class:`TermFolding`)."""
    folding = getattr(themes, "TermFolding", None)  # absent before issue 22
    extra = (folding.of(cur.item1a_text, prev.item1a_text),) if folding else ()
    return themes.find_themes(
        themes.count_terms(cur.item1a_text, risk_texts[0], *extra),
        themes.count_terms(prev.item1a_text, risk_texts[1], *extra),
    )


if __name__ == "__main__":
    main()
