"""Text similarity: the four Lazy Prices measures and the vectors risk matching uses.

Cohen, Malloy & Nguyen (2020), "Lazy Prices", compare a firm's filing with its
previous one by four measures, each in 0..1 (1 = identical):

* **cosine** — cosine of the two term-frequency vectors;
* **jaccard** — size of the intersection over the union of the two word sets;
* **min_edit** — 1 − word-level Levenshtein distance / length of the longer text
  (insertions, deletions and substitutions of whole words);
* **simple** — 1 − (words added + words deleted) / (words in both texts), the
  changes a ``diff`` reports (word-level Indel distance).

The edit measures use RapidFuzz's bit-parallel C implementations over word ids,
so 20,000-word sections compare in milliseconds rather than the minutes a
Python ``difflib`` takes; both are computed in a band under a cutoff
(:func:`_indel_distance`), exact, several times faster than the whole matrix.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from rapidfuzz.distance import Indel, Levenshtein

from riskdrift.models import SimilarityScores

__all__ = [
    "STOPWORDS",
    "cosine_matrix",
    "lazy_prices_similarity",
    "sequence_similarity",
    "tfidf_matrix",
    "words",
]

_WORD = re.compile(r"[a-z][a-z0-9]*(?:['’][a-z]+)?")

#: Function words ignored when vectors compare content (not by the Lazy Prices measures).
_STOPWORD_TEXT = """a about above after again against all also am an and any are as at be because
been before being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers him his how i if in into is it its itself may me
might more most must my no nor not of off on once only or other our ours out over own same she
should so some such than that the their theirs them then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you
your company company's companys we're us"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def words(text: str) -> list[str]:
    """Lower-cased word tokens: a letter, then letters or digits; figures alone are dropped."""
    return _WORD.findall(text.lower())


def _ids(tokens: Sequence[str], vocabulary: dict[str, int]) -> list[int]:
    return [vocabulary.setdefault(t, len(vocabulary)) for t in tokens]


def sequence_similarity(a: Sequence[str], b: Sequence[str]) -> float:
    """Diff similarity of two word sequences: 1 − (added + deleted) / (len a + len b)."""
    if not a and not b:
        return 1.0
    vocabulary: dict[str, int] = {}
    return float(Indel.normalized_similarity(_ids(a, vocabulary), _ids(b, vocabulary)))


def lazy_prices_similarity(current: str, previous: str) -> SimilarityScores:
    """The four Lazy Prices similarity measures between two texts, each 0..1."""
    a, b = words(current), words(previous)
    if not a and not b:
        return SimilarityScores(cosine=1.0, jaccard=1.0, min_edit=1.0, simple=1.0)
    if not a or not b:
        return SimilarityScores(cosine=0.0, jaccard=0.0, min_edit=0.0, simple=0.0)
    vocabulary: dict[str, int] = {}
    ia, ib = _ids(a, vocabulary), _ids(b, vocabulary)
    # Each word's count in each text, by id (integers: the sums are exact, as with Counters).
    ca = np.bincount(ia, minlength=len(vocabulary))
    cb = np.bincount(ib, minlength=len(vocabulary))
    dot = int(ca @ cb)
    norm = math.sqrt(int(ca @ ca)) * math.sqrt(int(cb @ cb))
    in_a, in_b = ca > 0, cb > 0
    both, either = int(np.count_nonzero(in_a & in_b)), int(np.count_nonzero(in_a | in_b))
    # The words the two texts do not share (as multisets) bound the indel distance from
    # below; ~2-3 times that bound holds it on the corpus, and a distance under a cutoff
    # is computed in a band (RapidFuzz), several times faster than the whole matrix.
    shared = int(np.minimum(ca, cb).sum())
    indel = _indel_distance(ia, ib, EDIT_BAND * (len(a) + len(b) - 2 * shared))
    # Levenshtein (a substitution costs 1) never exceeds the indel distance (it costs 2).
    levenshtein = Levenshtein.distance(ia, ib, score_cutoff=indel)
    return SimilarityScores(
        cosine=round(min(1.0, dot / norm), 4),
        jaccard=round(both / either, 4),
        # = Levenshtein.normalized_similarity and Indel.normalized_similarity, exactly
        min_edit=round(1.0 - levenshtein / max(len(ia), len(ib)), 4),
        simple=round(1.0 - indel / (len(ia) + len(ib)), 4),
    )


#: The first cutoff of the indel distance, as a multiple of its multiset lower bound.
EDIT_BAND = 3


def _indel_distance(a: Sequence[int], b: Sequence[int], guess: int) -> int:
    """The exact indel distance of two non-empty sequences, computed under a cutoff that
    starts at ``guess`` and doubles until the distance falls under it."""
    limit = len(a) + len(b)  # no distance exceeds it
    cutoff = min(max(guess, 64), limit)
    while True:
        distance = int(Indel.distance(a, b, score_cutoff=cutoff))
        if distance <= cutoff:
            return distance
        cutoff = min(cutoff * 2, limit)


def tfidf_matrix(documents: Sequence[Sequence[str]]) -> NDArray[np.float64]:
    """Row-normalised TF-IDF vectors (stopwords dropped) of tokenised documents."""
    vocabulary: dict[str, int] = {}
    rows: list[Counter[int]] = []
    for tokens in documents:
        rows.append(
            Counter(vocabulary.setdefault(t, len(vocabulary)) for t in tokens if t not in STOPWORDS)
        )
    matrix = np.zeros((len(documents), max(len(vocabulary), 1)), dtype=np.float64)
    for i, counts in enumerate(rows):
        if counts:
            cols = np.fromiter(counts.keys(), dtype=np.int64)
            matrix[i, cols] = np.fromiter(counts.values(), dtype=np.float64)
    df = np.count_nonzero(matrix, axis=0)
    idf = np.log((1 + len(documents)) / (1 + df)) + 1.0
    matrix = np.log1p(matrix) * idf
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: NDArray[np.float64] = matrix / norms
    return normalised


def cosine_matrix(left: NDArray[np.float64], right: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pairwise cosine similarity of two sets of row-normalised vectors."""
    product: NDArray[np.float64] = np.clip(left @ right.T, 0.0, 1.0)
    return product
