"""The Lazy Prices measures."""

from __future__ import annotations

import pytest

from riskdrift.analysis.similarity import lazy_prices_similarity, sequence_similarity, words


def test_identical_texts_score_one() -> None:
    s = lazy_prices_similarity("Our costs may rise.", "Our costs may rise.")
    assert (s.cosine, s.jaccard, s.min_edit, s.simple) == (1.0, 1.0, 1.0, 1.0)


def test_disjoint_texts_score_zero() -> None:
    s = lazy_prices_similarity("alpha beta gamma", "delta epsilon zeta")
    assert (s.cosine, s.jaccard, s.min_edit, s.simple) == (0.0, 0.0, 0.0, 0.0)


def test_known_values() -> None:
    s = lazy_prices_similarity("a b c d", "a b c e")
    assert s.jaccard == pytest.approx(3 / 5)
    assert s.cosine == pytest.approx(3 / 4)
    assert s.min_edit == pytest.approx(3 / 4)  # one substitution in four words
    assert s.simple == pytest.approx(6 / 8)  # one deletion + one insertion over eight words


def test_empty_side() -> None:
    assert lazy_prices_similarity("", "text").cosine == 0.0
    assert sequence_similarity([], []) == 1.0


def test_words_lowercases_and_keeps_apostrophes() -> None:
    assert words("The Company’s 10-K, Item A1.") == ["the", "company’s", "k", "item", "a1"]
