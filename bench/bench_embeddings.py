"""Retrieval benchmark of the embedders over the corpus's consecutive-year pairs.

For every company with fiscal years N and N+1 in ``real10k``, both filings are
parsed and matched by the analysis engine (``match_risks``). Each matched pair
(status ``modified`` or ``unchanged``) is a query: the year-N risk's vector is
ranked against the vectors of *all* year-N+1 risks of *all* companies, and the
rank of its engine counterpart is recorded. Printed per embedder: recall@1,
recall@5 and MRR (over all matched pairs and over ``modified`` pairs alone,
the harder case), embedding throughput (risks/s, after a warm-up) and the
embedding process's peak RSS. Each embedder runs in a fresh subprocess so its
memory figure is its own.

A second table checks whether vectors would help the matcher: it re-runs the
assignment with ``(1 − w) · engine score + w · embedding cosine`` and counts how
many pairs change. There are no gold labels in the corpus, so changed pairs are
printed for reading, not scored.

    .venv/bin/python bench/bench_embeddings.py [--embedders lexical,minilm] [--show 8]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = Path(os.environ.get("RISKDRIFT_CORPUS", ROOT.parent / "shared" / "corpus"))
BLEND_WEIGHTS = (0.25, 0.5)


def pairs(corpus: Path) -> list[tuple[str, int, int]]:
    found = []
    for ticker_dir in sorted((corpus / "real10k").iterdir()):
        if not ticker_dir.is_dir():
            continue
        years = sorted(int(p.stem) for p in ticker_dir.glob("*.html") if p.stem.isdigit())
        found += [(ticker_dir.name, a, b) for a, b in itertools.pairwise(years) if b == a + 1]
    return found


def load(corpus: Path) -> dict[str, Any]:
    """Parse every filing once; the engine's matched pairs as (prev index, next index)."""
    from riskdrift.analysis.matching import match_risks
    from riskdrift.analysis.pipeline import parse_filing

    parsed: dict[tuple[str, int], Any] = {}
    out: dict[str, Any] = {"pairs": []}
    for ticker, old, new in pairs(corpus):
        for year in (old, new):
            if (ticker, year) not in parsed:
                path = corpus / "real10k" / ticker / f"{year}.html"
                parsed[ticker, year] = parse_filing(path.read_bytes(), path.name).risks
        matched = match_risks(parsed[ticker, new], parsed[ticker, old])
        out["pairs"].append(
            (
                ticker,
                old,
                new,
                [
                    (p.previous, p.current, p.status)
                    for p in matched
                    if p.previous is not None and p.current is not None
                ],
            )
        )
    out["risks"] = parsed
    return out


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_embedder(name: str, corpus: Path) -> dict[str, Any]:
    """In a subprocess: embed every risk of the corpus with ``name`` and score retrieval."""
    import asyncio

    from riskdrift.config import Settings
    from riskdrift.embeddings import create_embedder

    data = load(corpus)
    risks: dict[tuple[str, int], Any] = data["risks"]
    keys = sorted(risks)
    texts = [r.text for k in keys for r in risks[k]]
    offsets = dict(
        zip(keys, itertools.accumulate([0, *(len(risks[k]) for k in keys)]), strict=False)
    )
    base_rss = rss_mb()

    async def embed() -> tuple[np.ndarray, float, str]:
        settings = Settings(embedder=name, _env_file=None)
        embedder = create_embedder(settings)
        await embedder.embed(texts[:16])  # warm-up
        started = time.perf_counter()
        vectors = await embedder.embed(texts)
        took = time.perf_counter() - started
        await embedder.aclose()
        return vectors, took, embedder.model

    vectors, took, model = asyncio.run(embed())
    # The pool: every year-N+1 risk of every pair.
    pool_keys = sorted({(t, new) for t, _, new, _ in data["pairs"]})
    pool_rows = np.concatenate(
        [np.arange(offsets[k], offsets[k] + len(risks[k])) for k in pool_keys]
    )
    pool = vectors[pool_rows]
    position = {int(row): i for i, row in enumerate(pool_rows)}
    ranks: list[tuple[int, str]] = []
    blends: dict[float, dict[str, Any]] = {w: {"changed": 0, "examples": []} for w in BLEND_WEIGHTS}
    for ticker, old, new, matched in data["pairs"]:
        for prev, cur, status in matched:
            query = vectors[offsets[ticker, old] + prev]
            scores = pool @ query
            target = position[offsets[ticker, new] + cur]
            ranks.append((int((scores > scores[target]).sum()) + 1, status))
        blends_for_pair(data, vectors, offsets, ticker, old, new, blends)

    def summary(selected: list[int]) -> dict[str, float]:
        r = np.array(selected)
        return {
            "n": len(r),
            "recall@1": round(float((r == 1).mean()), 4),
            "recall@5": round(float((r <= 5).mean()), 4),
            "mrr": round(float((1 / r).mean()), 4),
        }

    return {
        "embedder": name,
        "model": model,
        "dimensions": int(vectors.shape[1]),
        "risks": len(texts),
        "pool": len(pool_rows),
        "all": summary([r for r, _ in ranks]),
        "modified": summary([r for r, s in ranks if s == "modified"]),
        "risks_per_s": round(len(texts) / took, 1),
        "embed_s": round(took, 2),
        "rss_mb_before": round(base_rss, 1),
        "peak_rss_mb": round(rss_mb(), 1),
        "blend": {str(w): b for w, b in blends.items()},
    }


def blends_for_pair(
    data: dict[str, Any],
    vectors: np.ndarray,
    offsets: dict[tuple[str, int], int],
    ticker: str,
    old: int,
    new: int,
    blends: dict[float, dict[str, Any]],
) -> None:
    """Re-run the assignment with embedding cosine blended in; count pairs that change."""
    from scipy.optimize import linear_sum_assignment

    from riskdrift.analysis.matching import MATCH_THRESHOLD, TITLE_WEIGHT
    from riskdrift.analysis.similarity import cosine_matrix, tfidf_matrix, words

    cur, prev = data["risks"][ticker, new], data["risks"][ticker, old]
    n = len(cur)
    titles = tfidf_matrix([words(r.title) for r in (*cur, *prev)])
    texts = tfidf_matrix([words(r.text) for r in (*cur, *prev)])
    engine = TITLE_WEIGHT * cosine_matrix(titles[:n], titles[n:]) + (
        1 - TITLE_WEIGHT
    ) * cosine_matrix(texts[:n], texts[n:])
    vc = vectors[offsets[ticker, new] : offsets[ticker, new] + n]
    vp = vectors[offsets[ticker, old] : offsets[ticker, old] + len(prev)]
    cos = vc @ vp.T

    def assign(score: np.ndarray) -> set[tuple[int, int]]:
        rows, cols = linear_sum_assignment(score, maximize=True)
        return {
            (i, j)
            for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
            if score[i, j] >= MATCH_THRESHOLD
        }

    base = assign(engine)
    for w, record in blends.items():
        other = assign((1 - w) * engine + w * cos)
        record["changed"] += len(base - other)
        for i, j in sorted(other - base)[:2]:
            record["examples"].append(
                {"ticker": ticker, "current": cur[i].title[:90], "previous": prev[j].title[:90]}
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--embedders", default="lexical,minilm")
    parser.add_argument("--show", type=int, default=4, help="changed matches to print")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_embedder(args.child, args.corpus)))
        return
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"pairs: {', '.join(f'{t} {a}->{b}' for t, a, b in pairs(args.corpus))}")
    results = []
    for name in args.embedders.split(","):
        out = subprocess.run(
            [sys.executable, __file__, "--child", name, "--corpus", str(args.corpus)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "RISKDRIFT_LOG_LEVEL": "WARNING"},
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print()
    print(
        f"{'embedder':<10} {'model':<22} {'dim':>5} {'R@1':>6} {'R@5':>6} {'MRR':>6} "
        f"{'R@1 mod':>8} {'MRR mod':>8} {'risks/s':>8} {'peak MB':>8}"
    )
    for r in results:
        print(
            f"{r['embedder']:<10} {r['model']:<22} {r['dimensions']:>5} "
            f"{r['all']['recall@1']:>6.3f} {r['all']['recall@5']:>6.3f} {r['all']['mrr']:>6.3f} "
            f"{r['modified']['recall@1']:>8.3f} {r['modified']['mrr']:>8.3f} "
            f"{r['risks_per_s']:>8.1f} {r['peak_rss_mb']:>8.1f}"
        )
    first = results[0]
    print(
        f"\nqueries: {first['all']['n']} matched pairs ({first['modified']['n']} modified); "
        f"pool: {first['pool']} year-N+1 risks; {first['risks']} risks embedded"
    )
    print("\nmatcher with embeddings blended in: engine pairs that change")
    for r in results:
        for w, b in r["blend"].items():
            print(f"  {r['embedder']:<8} w={w}: {b['changed']} of {first['all']['n']}")
            for ex in b["examples"][: args.show]:
                print(f"      {ex['ticker']}: {ex['current']!r}\n          <- {ex['previous']!r}")


if __name__ == "__main__":
    main()
