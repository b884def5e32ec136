"""Financial tone of risk factors from word lists.

Tone is measured the way the finance literature does (Loughran & McDonald
2011): the number of words from each category list per 100 words of text, and
a net tone ``(positive − negative) / (positive + negative)`` in −1..1 (0 when a
text has neither).

Two lexicons are supported:

* the project's own word lists (``data/tone_words.txt``, written for riskdrift
  and shipped with it), parsed by :func:`parse_word_lists`;
* the Loughran-McDonald master dictionary, which may not be redistributed: a
  user points ``Settings.lm_dictionary_path`` at their own copy of the CSV and
  :func:`parse_lm_dictionary` reads it (columns ``Word``, ``Negative``,
  ``Positive``, ``Uncertainty``, ``Litigious``, ``Strong_Modal``,
  ``Weak_Modal``; a non-zero value means the word is in that category).

Pure: the text of a lexicon in, :class:`Lexicon` out; reading files is the
agent's job (:mod:`riskdrift.agent.lexicons`).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from riskdrift.analysis.similarity import words
from riskdrift.models import ToneScores

__all__ = [
    "TONE_CATEGORIES",
    "Lexicon",
    "LexiconError",
    "parse_lm_dictionary",
    "parse_word_lists",
    "score_tone",
]

TONE_CATEGORIES = ("negative", "positive", "uncertainty", "litigious", "strong_modal", "weak_modal")
_LM_COLUMNS = {
    "negative": "Negative",
    "positive": "Positive",
    "uncertainty": "Uncertainty",
    "litigious": "Litigious",
    "strong_modal": "Strong_Modal",
    "weak_modal": "Weak_Modal",
}


class LexiconError(ValueError):
    """A lexicon file is not in the expected format."""


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Word lists per tone category, lower-cased; ``name`` is recorded in results."""

    name: str
    categories: dict[str, frozenset[str]]

    def members(self, category: str) -> frozenset[str]:
        """The words of one category (empty when the lexicon lacks it)."""
        return self.categories.get(category, frozenset())

    @property
    def fingerprint(self) -> str:
        """``name:`` and a digest of the word lists: two lexicons score alike iff equal."""
        digest = hashlib.sha256()
        for category in sorted(self.categories):
            digest.update(category.encode() + b"\0")
            digest.update("\n".join(sorted(self.categories[category])).encode() + b"\0")
        return f"{self.name}:{digest.hexdigest()[:12]}"


def parse_word_lists(text: str, *, name: str) -> Lexicon:
    """Parse the project's word-list format: ``[category]`` headers, words, ``#`` comments."""
    lists: dict[str, set[str]] = {c: set() for c in TONE_CATEGORIES}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1].strip()
            if current not in lists:
                raise LexiconError(f"unknown tone category [{current}]")
            continue
        if current is None:
            raise LexiconError("words appear before the first [category] header")
        lists[current].update(w.lower() for w in line.split())
    if not any(lists.values()):
        raise LexiconError("the word lists are empty")
    return Lexicon(name, {c: frozenset(ws) for c, ws in lists.items()})


def parse_lm_dictionary(text: str, *, name: str = "loughran-mcdonald") -> Lexicon:
    """Parse a Loughran-McDonald master dictionary CSV (non-zero cell = member)."""
    reader = csv.DictReader(io.StringIO(text))
    fields = set(reader.fieldnames or ())
    missing = {"Word", *_LM_COLUMNS.values()} - fields
    if missing:
        raise LexiconError(
            "not a Loughran-McDonald master dictionary: missing column(s) "
            + ", ".join(sorted(missing))
        )
    lists: dict[str, set[str]] = {c: set() for c in TONE_CATEGORIES}
    for row in reader:
        word = (row.get("Word") or "").strip().lower()
        if not word:
            continue
        for category, column in _LM_COLUMNS.items():
            cell = (row.get(column) or "").strip()
            try:
                member = float(cell or 0) != 0
            except ValueError as exc:
                raise LexiconError(
                    f"column {column} of {word!r} is not a number: {cell!r}"
                ) from exc
            if member:
                lists[category].add(word)
    if not any(lists.values()):
        raise LexiconError("the dictionary marks no word in any tone category")
    return Lexicon(name, {c: frozenset(ws) for c, ws in lists.items()})


def score_tone(text: str | Iterable[str], lexicon: Lexicon) -> ToneScores:
    """Tone of a text: hits per 100 words for each category, and net tone in −1..1."""
    tokens = words(text) if isinstance(text, str) else list(text)
    total = len(tokens)
    counts = dict.fromkeys(TONE_CATEGORIES, 0)
    if total:
        # Each distinct word looked up once per list (a set intersection), not every token.
        uses = Counter(tokens)
        for category in TONE_CATEGORIES:
            counts[category] = sum(uses[w] for w in lexicon.members(category).intersection(uses))
    per100 = {c: round(100.0 * n / total, 4) if total else 0.0 for c, n in counts.items()}
    polar = counts["positive"] + counts["negative"]
    net = (counts["positive"] - counts["negative"]) / polar if polar else 0.0
    return ToneScores(net=round(net, 4), **per100)
