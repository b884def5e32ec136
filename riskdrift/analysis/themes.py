"""Emerging and fading themes: the terms whose use rose or fell most between two years.

A *term* is a run of one to three words inside one sentence, case-folded and
stemmed (Snowball's English stemmer, Porter2), that holds no stop word
and no figure, and is not made only of generic risk-factor
vocabulary ("adversely affect", "results of operations"). Each year's count is
the number of times the term occurs in that year's whole Item 1A text; the
risks it occurs in are recorded as indexes into the result's ``risks`` rows.

* **emerging**: used at least :data:`MIN_USES` times this year and at most
  :data:`NEAR_ABSENT` of that last year (absent or near-absent);
* **fading**: the same with the years swapped.

Terms are ranked by the rise (or fall) of their count; a term whose count is
(almost) all inside a longer listed term ("export" inside "export controls")
is dropped in favour of the longer one. The surface form shown is the most
frequent case-folded spelling of the term in the text it rose (or fell) in.

Pure and reproducible: the counts are plain occurrence counts in the section
text, so a reader searching the filing for the term (and its inflections)
finds them.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import snowballstemmer

from riskdrift.analysis.sentences import GENERIC_WORDS, split_sentences
from riskdrift.analysis.similarity import STOPWORDS
from riskdrift.models import Themes, ThemeTerm

__all__ = ["MIN_USES", "NEAR_ABSENT", "TermCounts", "clear_caches", "count_terms", "find_themes"]

MIN_USES = 3
#: Last year's count may be at most this share of this year's for a term to be emerging.
NEAR_ABSENT = 0.2
MAX_WORDS = 3
TOP = 15
#: A listed longer term holding at least this share of a shorter term's uses replaces it.
SUBSUMED = 0.8

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*[A-Za-z0-9]|[A-Za-z0-9]")
#: Words too common in risk factors to name a theme on their own or at a term's edge.
_EDGE_STOP = (
    STOPWORDS
    | GENERIC_WORDS
    | frozenset(
        [
            "able",
            "addition",
            "additional",
            "already",
            "approximately",
            "currently",
            "fiscal",
            "inc",
            "recent",
            "recently",
            "select",
            "several",
            "significant",
            "significantly",
            "substantial",
            "substantially",
            "certain",
            "continue",
            "continued",
            "due",
            "example",
            "fail",
            "failure",
            "increase",
            "increased",
            "increases",
            "increasing",
            "including",
            "level",
            "levels",
            "new",
            "other",
            "others",
            "part",
            "potential",
            "related",
            "relating",
            "respect",
            "similar",
            "various",
            "way",
            "ways",
            "well",
            "whether",
            "within",
            "years",
            "year",
            "time",
            "times",
            "number",
            "many",
            "much",
            "one",
            "two",
            "three",
        ]
    )
)
#: Snowball stemmers keep state while stemming: one per thread (the worker runs analyses
#: in a thread pool when it has no process pool).
_STEMMERS = threading.local()
#: Clause breaks inside a sentence: a term never spans one.
_TOKEN_OR_BREAK = re.compile(_TOKEN.pattern + r"|[,;:()\[\]–—]|\s-\s")


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """Porter2 stem, cached: a filing pair has ~5,000 distinct words and ~60,000 tokens."""
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = snowballstemmer.stemmer("english")
    return str(stemmer.stemWord(word.replace("’", "'")))


@dataclass
class TermCounts:
    """Occurrences of every term in one year's text, its spellings, and its sentences.

    ``sentences`` holds, for each sentence of each risk, the risk's row and the
    sentence's stems (segments separated by ``|``).
    """

    counts: Counter[tuple[str, ...]] = field(default_factory=Counter)
    #: the most frequent word run (unstemmed) of each term, and its count
    spellings: dict[tuple[str, ...], tuple[int, tuple[str, ...]]] = field(default_factory=dict)
    sentences: list[tuple[frozenset[int], str]] = field(default_factory=list)

    def risks_of(self, term: tuple[str, ...]) -> list[int]:
        """The risk rows whose text uses ``term``."""
        needle = " " + " ".join(term) + " "
        rows: set[int] = set()
        for sentence_rows, stems in self.sentences:
            if needle in stems:
                rows |= sentence_rows
        return sorted(rows)


def clear_caches() -> None:
    """Forget the per-sentence caches (benchmarks measure each filing as met the first time)."""
    _segments.cache_clear()
    _stemmed.cache_clear()


@functools.lru_cache(maxsize=16384)
def _segments(sentence: str) -> tuple[tuple[str, ...], ...]:
    """The sentence's maximal runs of words that may be part of a term, case-folded.

    A run ends at a clause break, a stop word, a bare figure or a short word (two-letter
    acronyms such as "AI" excepted), so no term ever spans one. Cached: the section and
    its risks hold the same sentences, and most recur in the other year.
    """
    segments: list[tuple[str, ...]] = []
    run: list[str] = []
    for raw in _TOKEN_OR_BREAK.findall(sentence):
        word = _usable(raw)
        if word is None:
            if run:
                segments.append(tuple(run))
                run = []
        else:
            run.append(word)
    if run:
        segments.append(tuple(run))
    return tuple(segments)


@functools.lru_cache(maxsize=16384)
def _stemmed(sentence: str) -> str:
    """The sentence's segments as stems, ``|`` between segments, padded with spaces."""
    stems = " | ".join(" ".join(_stem(w) for w in seg) for seg in _segments(sentence))
    return f" {stems} "


@functools.lru_cache(maxsize=65536)
def _usable(raw: str) -> str | None:
    """The filer's spelling, case-folded (apostrophe kept), of a word a term may hold."""
    if not any(c.isalpha() for c in raw):
        return None  # a clause break or a figure
    word = raw.casefold()
    if word.replace("’", "'") in _EDGE_STOP:
        return None
    return word if len(word) >= 3 or (len(raw) == 2 and raw.isupper()) else None


def _runs(segments: Iterable[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Every 1-3 word run inside the segments."""
    grams: list[tuple[str, ...]] = []
    for words in segments:
        n = len(words)
        grams.extend(words[i:j] for i in range(n) for j in range(i + 1, min(i + MAX_WORDS, n) + 1))
    return grams


def count_terms(section: str, risk_texts: Sequence[tuple[int, str]]) -> TermCounts:
    """Count every term in ``section`` and note which risks (row index, text) use it.

    Word runs are counted first and stemmed once per distinct run; each risk
    sentence is kept as its stems, so the risks of the few terms reported are
    found by substring search afterwards.
    """
    runs: Counter[tuple[str, ...]] = Counter()
    for sentence in split_sentences(section):
        runs.update(_runs(_segments(sentence)))
    found = TermCounts()
    for words, n in runs.items():
        term = tuple(_stem(w) for w in words)
        found.counts[term] += n
        best = found.spellings.get(term)
        if best is None or (n, words) > best:
            found.spellings[term] = (n, words)
    for row, text in risk_texts:
        rows = frozenset({row})
        for sentence in split_sentences(text):
            found.sentences.append((rows, _stemmed(sentence)))
    return found


def _rising(this: TermCounts, other: TermCounts, *, current: bool) -> list[ThemeTerm]:
    candidates = [
        (n - other.counts.get(t, 0), n, t)
        for t, n in this.counts.items()
        if n >= MIN_USES and other.counts.get(t, 0) <= NEAR_ABSENT * n
    ]
    candidates.sort(key=lambda c: (-c[0], -len(c[2]), c[2]))
    chosen: list[tuple[str, ...]] = []
    for _, n, term in candidates:
        # Prefer the longest phrase: skip a term mostly used inside one already chosen, and
        # replace chosen terms that are mostly used inside this one.
        if any(_inside(term, longer) and this.counts[longer] >= SUBSUMED * n for longer in chosen):
            continue
        chosen = [c for c in chosen if not (_inside(c, term) and n >= SUBSUMED * this.counts[c])]
        chosen.append(term)
    chosen.sort(key=lambda t: (-(this.counts[t] - other.counts.get(t, 0)), t))
    out = []
    for term in chosen[:TOP]:
        spelling = " ".join(this.spellings[term][1])
        mine, theirs = this.risks_of(term), other.risks_of(term)
        out.append(
            ThemeTerm(
                term=spelling,
                count_current=this.counts[term] if current else other.counts.get(term, 0),
                count_previous=other.counts.get(term, 0) if current else this.counts[term],
                risks_current=mine if current else theirs,
                risks_previous=theirs if current else mine,
            )
        )
    return out


def _inside(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    if len(short) >= len(long):
        return False
    return any(long[i : i + len(short)] == short for i in range(len(long) - len(short) + 1))


def find_themes(current: TermCounts, previous: TermCounts) -> Themes:
    """The terms that emerged this year and those that faded since last year."""
    return Themes(
        emerging=_rising(current, previous, current=True),
        fading=_rising(previous, current, current=False),
    )
