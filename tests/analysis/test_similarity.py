"""The Lazy Prices measures."""

from __future__ import annotations

import math
from collections import Counter

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


def test_banded_edit_measures_equal_the_full_computation() -> None:
    """min_edit and simple are computed under a cutoff (a band) that starts from a lower
    bound and doubles: they must equal RapidFuzz's full computation, also when the first
    cutoff is far too low (a text reordered: the same words, a large distance)."""
    from random import Random

    from rapidfuzz.distance import Indel, Levenshtein

    rng = Random(22)
    vocabulary = [f"w{k}" for k in range(40)]
    for case in range(300):
        a = [rng.choice(vocabulary) for _ in range(rng.randrange(1, 400))]
        if case % 3 == 0:
            b = a[:]
            rng.shuffle(b)  # the same multiset: the lower bound is 0
        else:
            b = [w if rng.random() < 0.8 else rng.choice(vocabulary) for w in a]
            b = b[rng.randrange(0, 20) :] + [
                rng.choice(vocabulary) for _ in range(rng.randrange(5))
            ]
        if not b:
            continue
        s = lazy_prices_similarity(" ".join(a), " ".join(b))
        ids: dict[str, int] = {}
        ia = [ids.setdefault(w, len(ids)) for w in a]
        ib = [ids.setdefault(w, len(ids)) for w in b]
        assert s.min_edit == round(Levenshtein.normalized_similarity(ia, ib), 4)
        assert s.simple == round(Indel.normalized_similarity(ia, ib), 4)
        ca, cb = Counter(a), Counter(b)  # cosine and Jaccard, word counts repeated
        dot = sum(n * cb[w] for w, n in ca.items())
        norm = math.sqrt(sum(n * n for n in ca.values())) * math.sqrt(
            sum(n * n for n in cb.values())
        )
        assert s.cosine == round(min(1.0, dot / norm), 4)
        assert s.jaccard == round(len(set(a) & set(b)) / len(set(a) | set(b)), 4)
