"""A dependency-free lexical embedder: signed feature hashing of words, bigrams and n-grams.

Each text becomes a bag of features: content words (stopwords dropped), word
bigrams and character 4-grams of longer words (so "regulations" and
"regulatory" share something). Counts are damped (``1 + log tf``), hashed with
CRC-32 into ``dimensions`` buckets with a sign bit (collisions cancel instead
of piling up), and the row is L2-normalised. No corpus statistics: the same
text always gets the same vector, in any process, so vectors stored months
apart stay comparable.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np

from riskdrift.analysis.similarity import STOPWORDS, words
from riskdrift.embeddings.base import Vectors, normalise_rows, run_off_loop

__all__ = ["LexicalEmbedder", "lexical_vectors"]

WORD_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.5
CHARGRAM_WEIGHT = 0.25
CHARGRAM = 4


def _features(text: str) -> Counter[str]:
    tokens = [t for t in words(text) if t not in STOPWORDS]
    features: Counter[str] = Counter()
    features.update(f"w:{t}" for t in tokens)
    features.update(f"b:{a} {b}" for a, b in itertools.pairwise(tokens))
    for token in tokens:
        if len(token) > CHARGRAM:
            padded = f"<{token}>"
            features.update(
                f"c:{padded[i : i + CHARGRAM]}" for i in range(len(padded) - CHARGRAM + 1)
            )
    return features


_WEIGHTS = {"w": WORD_WEIGHT, "b": BIGRAM_WEIGHT, "c": CHARGRAM_WEIGHT}


def lexical_vectors(texts: Sequence[str], dimensions: int) -> Vectors:
    """Hashed, damped, normalised feature vectors of ``texts`` (pure; runs in an executor)."""
    matrix = np.zeros((len(texts), dimensions), dtype=np.float32)
    for row, text in enumerate(texts):
        for feature, count in _features(text).items():
            digest = zlib.crc32(feature.encode())
            sign = 1.0 if digest & 0x80000000 else -1.0
            matrix[row, digest % dimensions] += (
                sign * _WEIGHTS[feature[0]] * (1.0 + math.log(count))
            )
    return normalise_rows(matrix)


class LexicalEmbedder:
    """Hashed lexical vectors; the model name records the dimension and feature scheme."""

    def __init__(self, *, dimensions: int = 2048, executor: Executor | None = None) -> None:
        if dimensions < 64:
            raise ValueError("lexical embeddings need at least 64 dimensions")
        self._dimensions = dimensions
        self._executor = executor

    @property
    def model(self) -> str:
        return f"lexical-hash-v1-{self._dimensions}"

    @property
    def dimensions(self) -> int:
        return self._dimensions

    async def embed(self, texts: Sequence[str]) -> Vectors:
        return await run_off_loop(self._executor, lexical_vectors, list(texts), self._dimensions)

    async def aclose(self) -> None:
        return None
