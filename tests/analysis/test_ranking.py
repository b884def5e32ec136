"""The universe ranking (riskdrift/analysis/ranking.py): order, ties, percentiles. Pure."""

from __future__ import annotations

import pytest

from riskdrift.analysis.ranking import PairChange, rank_pairs


def pair(ticker: str, min_edit: float, jaccard: float, cosine: float) -> PairChange:
    return PairChange(
        key=ticker,
        ticker=ticker,
        current_year=2024,
        previous_year=2023,
        min_edit=min_edit,
        jaccard=jaccard,
        cosine=cosine,
        risks_new=1,
        risks_removed=0,
        risks_modified=2,
        risks_unchanged=3,
    )


def test_most_changed_first_with_percentile_ranks() -> None:
    pairs = [
        pair("AAA", 0.9, 0.9, 0.9),  # change 0.1
        pair("BBB", 0.3, 0.6, 0.9),  # change 0.4
        pair("CCC", 0.6, 0.6, 0.6),  # change 0.4: tied with BBB
        pair("DDD", 0.0, 0.3, 0.3),  # change 0.8
    ]
    ranked = rank_pairs(pairs)
    assert [r.pair.ticker for r in ranked] == ["DDD", "BBB", "CCC", "AAA"]
    assert [r.rank for r in ranked] == [1, 2, 2, 4]
    assert [r.score for r in ranked] == pytest.approx([0.8, 0.4, 0.4, 0.1])
    # (below + half the equal, itself included) / n
    assert [r.percentile for r in ranked] == [87.5, 50.0, 50.0, 12.5]


def test_ranked_by_one_measure() -> None:
    pairs = [pair("AAA", 0.1, 0.9, 0.9), pair("BBB", 0.9, 0.9, 0.2)]
    assert [r.pair.ticker for r in rank_pairs(pairs, by="cosine")] == ["BBB", "AAA"]
    assert [r.pair.ticker for r in rank_pairs(pairs, by="min_edit")] == ["AAA", "BBB"]
    assert rank_pairs(pairs, by="cosine")[0].score == pytest.approx(0.8)


def test_one_pair_and_none() -> None:
    [only] = rank_pairs([pair("AAA", 0.5, 0.5, 0.5)])
    assert (only.rank, only.percentile) == (1, 50.0)
    assert rank_pairs([]) == []


def test_unknown_measure() -> None:
    with pytest.raises(ValueError, match="unknown measure"):
        rank_pairs([], by="simple")  # type: ignore[arg-type]


def test_the_report_escapes_and_prints_every_row() -> None:
    from riskdrift.render.ranking import ranking_html

    row = {
        "rank": 1,
        "percentile": 50.0,
        "ticker": "<B&B>",
        "current_year": 2024,
        "previous_year": 2023,
        "change": 0.25,
        "similarity_min_edit": 0.75,
        "similarity_jaccard": 0.7,
        "similarity_cosine": 0.8,
        "risks_new": 3,
        "risks_removed": 1,
        "risks_modified": 2,
        "material_changes": None,
    }
    page = ranking_html("T <1>", "sub", [row])
    assert "<B&B>" not in page
    assert "&lt;B&amp;B&gt; 2024" in page
    assert "<td>0.2500</td><td>50.00</td><td>0.7500</td>" in page
    assert "<td>–</td>" in page  # no material changes listed
    assert "No completed pair yet." in ranking_html("T", "sub", [])
