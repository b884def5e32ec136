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
Python ``difflib`` takes.
"""

from __future__ import annotations

import functools
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
    "clear_caches",
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
    return list(_words(text))


@functools.lru_cache(maxsize=1024)
def _words(text: str) -> tuple[str, ...]:
    # Tone, risk matching and the drift of a pair each read every risk's text: tokenise
    # each once per process (benchmarks clear this with the sentence caches).
    return tuple(_WORD.findall(text.lower()))


def clear_caches() -> None:
    """Forget the per-text caches (benchmarks measure each filing as met the first time)."""
    _words.cache_clear()


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
    ca, cb = Counter(a), Counter(b)
    dot = sum(n * cb[w] for w, n in ca.items() if w in cb)
    norm = math.sqrt(sum(n * n for n in ca.values())) * math.sqrt(sum(n * n for n in cb.values()))
    sa, sb = set(ca), set(cb)
    vocabulary: dict[str, int] = {}
    ia, ib = _ids(a, vocabulary), _ids(b, vocabulary)
    return SimilarityScores(
        cosine=round(min(1.0, dot / norm), 4),
        jaccard=round(len(sa & sb) / len(sa | sb), 4),
        min_edit=round(float(Levenshtein.normalized_similarity(ia, ib)), 4),
        simple=round(float(Indel.normalized_similarity(ia, ib)), 4),
    )


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
