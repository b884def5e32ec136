"""What changed inside a risk factor, sentence by sentence, in the filer's own words.

A risk's body is split into sentences (:func:`split_sentences`): paragraphs and
bullets always end one (a line that runs on in lower case after one without closing
punctuation is the same paragraph, cut by a page break); inside a paragraph a sentence
ends at ``.``, ``?`` or
``!`` followed by white space and a capital, a digit or an opening quote —
unless the word before the period is an abbreviation ("U.S.", "Inc.", "e.g.",
"No.") or an initial. Decimals ("3.5", "$1.2 billion") never split, as no
space follows their point.

The previous and current sentences of a paired risk are aligned
(:class:`SentenceAligner`) in three passes:

1. sentences equal after case and white-space folding are ``unchanged``, in
   any order (a moved sentence is not a change);
2. of the rest, sentences equal after :func:`normalise_trivia` (punctuation, spacing,
   hyphenation, case, quote and dash style, number formatting) are *trivial edits*
   (``SentenceChanges.trivial_edits``, each ``trivial=True``): listed so a reader can see
   them, but not an edit (``edited``), not a change of the risk, not drift;
3. the rest are paired by an optimal assignment on a *content similarity*:
   the IDF-weighted Dice overlap of their content words, IDF taken over every
   sentence of both years' Item 1A. Boilerplate that recurs through a filing
   ("could adversely affect our business, financial condition and results of
   operations") therefore weighs little, and two unrelated sentences that share
   it stay apart (generic risk words also weigh a quarter). Pairs at or above
   :data:`EDIT_THRESHOLD` are ``edited``, with
   a word-level diff;
4. what is left is ``added`` (current only) or ``removed`` (previous only).

Pure: strings in, :class:`~riskdrift.models.SentenceChanges` out.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from riskdrift.analysis.similarity import STOPWORDS, words
from riskdrift.models import PositionedSentence, SentenceChanges, SentenceEdit, WordOp

__all__ = [
    "EDIT_THRESHOLD",
    "RedlinePiece",
    "SentenceAligner",
    "clear_caches",
    "coarse_trivia",
    "is_trivial_edit",
    "normalise_trivia",
    "paragraph_starts",
    "redline",
    "split_sentences",
    "undo_trivial_edits",
    "word_diff",
]

#: Content similarity at or above which an unmatched previous and current sentence are one
#: sentence reworded; below it they are a removal and an addition.
EDIT_THRESHOLD = 0.5

#: Words that end with a period without ending a sentence (compared case-folded, no period).
ABBREVIATIONS = frozenset(
    [
        "u.s",
        "u.k",
        "u.n",
        "e.u",
        "e.g",
        "i.e",
        "etc",
        "inc",
        "corp",
        "co",
        "ltd",
        "l.p",
        "llc",
        "n.v",
        "s.a",
        "plc",
        "no",
        "nos",
        "vs",
        "v",
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "jr",
        "sr",
        "approx",
        "est",
        "dept",
        "fig",
        "figs",
        "sec",
        "secs",
        "art",
        "arts",
        "ch",
        "vol",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "cf",
        "al",
        "ph.d",
        "u.s.a",
        "n.a",
    ]
)
#: Company suffixes end a sentence when a usual sentence opener follows ("… Apple Inc. We …").
_SUFFIXES = frozenset(["inc", "corp", "co", "ltd", "l.p", "llc", "n.v", "s.a", "plc"])
_OPENER = re.compile(
    r"^(?:We|Our|The|This|These|That|Those|In|If|As|Any|It|Its|Such|There|For|A|An|Some|"
    r"Many|Certain|Additionally|However|Moreover|Furthermore|Accordingly)\b"
)
#: Generic risk-factor vocabulary: it recurs in most sentences of every filing, so it weighs a
#: quarter of its IDF weight when sentences are compared (IDF alone sees only one filer).
GENERIC_WORDS = frozenset(
    [
        "adverse",
        "adversely",
        "affect",
        "affected",
        "affects",
        "business",
        "businesses",
        "financial",
        "condition",
        "conditions",
        "results",
        "result",
        "operations",
        "operating",
        "material",
        "materially",
        "harm",
        "harmed",
        "harms",
        "negatively",
        "negative",
        "impact",
        "impacted",
        "impacts",
        "significant",
        "significantly",
        "ability",
        "could",
        "cause",
        "caused",
        "including",
        "future",
        "risk",
        "risks",
        "ongoing",
    ]
)
GENERIC_WEIGHT = 0.25
_BOUNDARY = re.compile(r"[.?!][”\"’')\]]*\s+(?=[A-Z0-9“\"'(\[])")
#: A bullet glyph opens a list item even glued to its first word ("•our ability", as some
#: plain-text extracts have it); a dash, a star or "(a)" only when a space follows.
_BULLET = re.compile(r"^\s*(?:[•·▪●◦‣∙]\s*|(?:[\-–—*]|\(?[a-z0-9]{1,3}[.)])\s+)")
_SPACE = re.compile(r"\s+")


#: :data:`_OPENER` where a sentence would start inside a paragraph (``match(text, pos)``:
#: a ``^`` matches only at the real start of a string).
_OPENER_AT = re.compile(_OPENER.pattern.removeprefix("^"))


def _ends_with_abbreviation(paragraph: str, start: int, end: int, following: int) -> bool:
    """Whether the sentence ``paragraph[start:end]`` (it ends with its period) ends with an
    abbreviation, the next sentence starting at ``following``.

    A paragraph's white space is single spaces (:func:`_paragraphs`), so its last word is
    what follows the last space: found with ``rfind``, not a regex searched from every
    position of the sentence (``(\\S+)$``: a third of the time of sentence splitting).
    """
    word = paragraph[max(start, paragraph.rfind(" ", start, end) + 1) : end]
    word = word.lstrip("(“\"'").rstrip(".").casefold()
    if word in _SUFFIXES:
        return _OPENER_AT.match(paragraph, following) is None
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _split_paragraph(paragraph: str) -> Iterable[str]:
    """The sentences of one paragraph (white space already folded to single spaces)."""
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        end = match.start() + 1
        if paragraph[match.start()] == "." and _ends_with_abbreviation(
            paragraph, start, end, match.end()
        ):
            continue
        sentence = paragraph[start : match.end()].strip()
        if sentence:
            yield sentence
        start = match.end()
    tail = paragraph[start:].strip()
    if tail:
        yield tail


def split_sentences(text: str) -> list[str]:
    """A body's sentences in order; every line (paragraph, bullet) ends one."""
    return list(_split_cached(text))


def clear_caches() -> None:
    """Forget the per-text caches (benchmarks measure each filing as met the first time)."""
    _split_cached.cache_clear()
    normalise_trivia.cache_clear()
    _coarse.cache_clear()
    _paragraph_starts_cached.cache_clear()


def paragraph_starts(text: str) -> frozenset[int]:
    """Positions (as in :func:`split_sentences`) of the sentences that open a paragraph."""
    return _paragraph_starts_cached(text)


@functools.lru_cache(maxsize=1024)
def _split_cached(text: str) -> tuple[str, ...]:
    # Matching, alignment and themes each read every body: split each once per process.
    return tuple(s for paragraph in _paragraphs(text) for s in paragraph)


@functools.lru_cache(maxsize=256)
def _paragraph_starts_cached(text: str) -> frozenset[int]:
    starts: set[int] = set()
    position = 0
    for paragraph in _paragraphs(text):
        if paragraph:
            starts.add(position)
        position += len(paragraph)
    return frozenset(starts)


def _paragraphs(text: str) -> list[list[str]]:
    """The body's paragraphs (lines, rejoined where a page break cut one), each as sentences."""
    paragraphs: list[str] = []
    for raw in text.splitlines():
        line = " ".join(raw.split())  # = _SPACE.sub(" ", raw).strip(), several times faster
        if not line:
            continue
        if paragraphs and _continues(paragraphs[-1], line):
            paragraphs[-1] = f"{paragraphs[-1]} {line}"  # a paragraph a page break cut
        else:
            paragraphs.append(line)
    return [list(_split_paragraph(paragraph)) for paragraph in paragraphs]


#: Words no sentence or heading ends with: a line ending in one was cut mid-sentence, even
#: when the next line starts with a capital ("…aftermarket sales of our" / "GPUs, which…").
_DANGLING = frozenset(
    [
        "a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or",
        "our", "the", "their", "to", "with", "its", "which", "that",
    ]
)  # fmt: skip


def _continues(previous: str, line: str) -> bool:
    """Whether ``line`` carries on ``previous`` (cut mid-sentence by a page break)."""
    if previous.rstrip("”\"’') ").endswith((".", "?", "!", ":", ";")):
        return False
    if _BULLET.match(line) is not None:
        return False
    last = previous.rsplit(None, 1)[-1] if previous.strip() else ""
    return line[:1].islower() or last in _DANGLING


def _fold(sentence: str) -> str:
    return " ".join(_BULLET.sub("", sentence).split()).casefold()


#: Dashes, hyphens and minus signs of every style: one hyphen.
_DASHES = re.compile(r"[\u2010-\u2015\u2212\u00ad\ufe58\ufe63\uff0d]")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
#: A period is punctuation unless it is a decimal point (a digit on both sides).
_NOT_DECIMAL = re.compile(r"(?<!\d)\.|\.(?!\d)")
_NOT_ALNUM = re.compile(r"[^\w.]+|_")
#: A space that separates two figures ("2023 10") is kept; every other one goes.
_SPACE_NOT_BETWEEN_FIGURES = re.compile(r"(?<!\d) | (?!\d)")


@functools.lru_cache(maxsize=8192)
def normalise_trivia(text: str) -> str:
    """``text`` with everything that does not change what it says folded away.

    Two sentences with the same normalised text differ only trivially: in
    punctuation, spacing, hyphenation and compounding ("third- party", "third-party",
    "third party", "thirdparty"), case, quote and dash style (’ ', – -), thousands
    separators ("1,000" / "1000"), the percent sign ("5%" / "5 percent" / "5 per
    cent") or an extraction artefact that split or spaced a word ("F or",
    "reputation ."). Kept: every letter and digit in order, decimal points ("1.5" is
    not "15"), and the space between two figures.
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = _DASHES.sub("-", folded).replace("%", " percent ")
    folded = _THOUSANDS.sub("", folded)
    folded = _NOT_DECIMAL.sub(" ", folded)
    folded = _SPACE.sub(" ", _NOT_ALNUM.sub(" ", folded)).strip()
    return _SPACE_NOT_BETWEEN_FIGURES.sub("", folded)


#: Deletes what :func:`normalise_trivia` removes or turns into a space, "%" → "percent".
_DROPPED = "".join(chr(n) for n in range(128) if not chr(n).isalnum()) + (
    "\u00a0\u00ad\u2010\u2011\u2012\u2013\u2014\u2015\u2018\u2019\u201c\u201d\u2022\u2026"
    "\u2212\u00b7\u25aa\u25cf"
)
_COARSE: dict[int, str | None] = {ord(c): None for c in _DROPPED} | {ord("%"): "percent"}
_DROPPED_ASCII = bytes(n for n in range(128) if not chr(n).isalnum())
_DROPPED_NOT_ASCII = re.compile("[" + "".join(re.escape(c) for c in _DROPPED if ord(c) > 127) + "]")


def coarse_trivia(text: str) -> str:
    """:func:`normalise_trivia` without its decimal points and spaces, computed cheaply:
    two sentences with different coarse keys never differ only trivially (equal keys
    are a necessary test, not a sufficient one)."""
    folded = text.casefold()
    if not folded.isascii():  # curly quotes, dashes: most of what is not ASCII is dropped
        folded = _DROPPED_NOT_ASCII.sub("", folded)
    if folded.isascii():  # most sentences: the same deletions on bytes, ten times faster
        ascii_text = folded.replace("%", "percent").encode("ascii")
        return ascii_text.translate(None, _DROPPED_ASCII).decode("ascii")
    coarse = text.casefold().translate(_COARSE)
    if not coarse.isascii():  # a character the table does not know: the exact way
        coarse = normalise_trivia(text).replace(".", "").replace(" ", "")
    return coarse


@functools.lru_cache(maxsize=8192)
def _coarse(text: str) -> str:
    return coarse_trivia(text)


def is_trivial_edit(previous: str, current: str) -> bool:
    """Whether two different sentences differ only trivially (see :func:`normalise_trivia`)."""
    return normalise_trivia(previous) == normalise_trivia(current)


def undo_trivial_edits(previous: str | None, changes: SentenceChanges) -> str:
    """The previous body as if its trivially edited sentences had read as this year's.

    Drift is measured against this text, so trivial edits move no risk.
    """
    sentences = split_sentences(previous or "")
    for edit in changes.trivial_edits:
        if 0 <= edit.position_previous < len(sentences):
            sentences[edit.position_previous] = edit.current
    return "\n".join(sentences)


def word_diff(previous: str, current: str) -> tuple[list[WordOp], float]:
    """Word runs kept, inserted and deleted from ``previous`` to ``current``, and their
    word-level similarity (difflib's ratio over case-folded words)."""
    a, b = previous.split(), current.split()
    matcher = difflib.SequenceMatcher(
        None, [w.casefold() for w in a], [w.casefold() for w in b], autojunk=False
    )
    ops: list[WordOp] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            ops.append(WordOp(op="equal", text=" ".join(b[j1:j2])))
            continue
        if i2 > i1:
            ops.append(WordOp(op="delete", text=" ".join(a[i1:i2])))
        if j2 > j1:
            ops.append(WordOp(op="insert", text=" ".join(b[j1:j2])))
    return ops, round(matcher.ratio(), 4)


class SentenceAligner:
    """Aligns sentences of paired risks, with IDF weights from the whole comparison."""

    def __init__(self, corpus: Iterable[str]) -> None:
        """``corpus``: every risk body of both filings (each split into sentences here)."""
        frequency: Counter[str] = Counter()
        n = 0
        self._contents: dict[str, frozenset[str]] = {}
        for body in corpus:
            for sentence in split_sentences(body):
                n += 1
                frequency.update(self._content(sentence))
        self._n = max(n, 1)
        self._idf = {w: math.log((1 + self._n) / (1 + df)) + 1.0 for w, df in frequency.items()}
        self._unseen = math.log(1 + self._n) + 1.0

    def _content(self, sentence: str) -> frozenset[str]:
        """The sentence's distinct content words (memoised: the alignment reads again the
        sentences the IDF was counted over)."""
        content = self._contents.get(sentence)
        if content is None:
            content = frozenset(w for w in words(sentence) if w not in STOPWORDS and len(w) > 1)
            self._contents[sentence] = content
        return content

    def _weights(self, sentence: str) -> dict[str, float]:
        return {
            w: self._idf.get(w, self._unseen) * (GENERIC_WEIGHT if w in GENERIC_WORDS else 1.0)
            for w in self._content(sentence)
        }

    def similarity(self, a: str, b: str) -> float:
        """IDF-weighted Dice overlap of two sentences' content words, 0..1."""
        return self._dice(self._weights(a), self._weights(b))

    @staticmethod
    def _dice(wa: dict[str, float], wb: dict[str, float]) -> float:
        # fsum: exactly rounded, so the score does not depend on the order of the words,
        # which is set order (the string hash seed): two candidates that tie stay tied
        # and the assignment breaks the tie the same way in every process.
        total = math.fsum(wa.values()) + math.fsum(wb.values())
        if not total:
            return 0.0
        shared = math.fsum(w for k, w in wa.items() if k in wb)
        return 2 * shared / total

    def align(self, previous: str | None, current: str | None) -> SentenceChanges:
        """The sentence-level changes from ``previous`` to ``current`` (either may be None)."""
        prev = split_sentences(previous or "")
        cur = split_sentences(current or "")
        unchanged = 0
        by_text: dict[str, list[int]] = {}
        for j, sentence in enumerate(prev):
            by_text.setdefault(_fold(sentence), []).append(j)
        left_cur: list[int] = []
        for i, sentence in enumerate(cur):
            same = by_text.get(_fold(sentence))
            if same:
                same.pop(0)
                unchanged += 1
            else:
                left_cur.append(i)
        left_prev = sorted(j for js in by_text.values() for j in js)
        trivial, left_cur, left_prev = self._trivial_pass(prev, cur, left_cur, left_prev)

        edits: list[SentenceEdit] = []
        paired_cur: set[int] = set()
        paired_prev: set[int] = set()
        if left_cur and left_prev:
            wc = [self._weights(cur[i]) for i in left_cur]
            wp = [self._weights(prev[j]) for j in left_prev]
            score = np.array([[self._dice(a, b) for b in wp] for a in wc])
            rows, cols = linear_sum_assignment(score, maximize=True)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                if score[r, c] < EDIT_THRESHOLD:
                    continue
                i, j = left_cur[r], left_prev[c]
                diff, ratio = word_diff(prev[j], cur[i])
                edits.append(
                    SentenceEdit(
                        previous=prev[j],
                        current=cur[i],
                        position_previous=j,
                        position_current=i,
                        similarity=ratio,
                        diff=diff,
                    )
                )
                paired_cur.add(i)
                paired_prev.add(j)
        edits.sort(key=lambda e: e.position_current)
        return SentenceChanges(
            added=[
                PositionedSentence(text=cur[i], position=i) for i in left_cur if i not in paired_cur
            ],
            removed=[
                PositionedSentence(text=prev[j], position=j)
                for j in left_prev
                if j not in paired_prev
            ],
            edited=edits,
            unchanged=unchanged,
            trivial_edits=trivial,
        )

    @staticmethod
    def _trivial_pass(
        prev: Sequence[str], cur: Sequence[str], left_cur: list[int], left_prev: list[int]
    ) -> tuple[list[SentenceEdit], list[int], list[int]]:
        """Pair the sentences equal after :func:`normalise_trivia`, in order, as trivial edits;
        what is left of each year goes on to the content-similarity pass."""
        if not (left_cur and left_prev):
            return [], left_cur, left_prev
        # Most sentences have no trivial twin: a cheap necessary key rules them out first.
        coarse_prev = {_coarse(prev[j]) for j in left_prev}
        maybe_cur = {i for i in left_cur if _coarse(cur[i]) in coarse_prev}
        if not maybe_cur:
            return [], left_cur, left_prev
        coarse_cur = {_coarse(cur[i]) for i in maybe_cur}
        by_key: dict[str, list[int]] = {}
        for j in left_prev:
            if _coarse(prev[j]) in coarse_cur:
                by_key.setdefault(normalise_trivia(prev[j]), []).append(j)
        trivial: list[SentenceEdit] = []
        rest_cur: list[int] = []
        for i in left_cur:
            same = by_key.get(normalise_trivia(cur[i])) if i in maybe_cur else None
            if not same:
                rest_cur.append(i)
                continue
            j = same.pop(0)
            diff, ratio = word_diff(prev[j], cur[i])
            trivial.append(
                SentenceEdit(
                    previous=prev[j],
                    current=cur[i],
                    position_previous=j,
                    position_current=i,
                    similarity=ratio,
                    diff=diff,
                    trivial=True,
                )
            )
        paired = {e.position_previous for e in trivial}
        return trivial, rest_cur, [j for j in left_prev if j not in paired]


@dataclass(frozen=True, slots=True)
class RedlinePiece:
    """One sentence of a redline: kept, added, edited or trivially edited (current year) or
    removed (previous year), in reading order."""

    kind: Literal["same", "added", "removed", "edited", "trivial"]
    text: str
    diff: tuple[WordOp, ...] = ()
    new_paragraph: bool = False


def redline(
    previous: str | None, current: str | None, changes: SentenceChanges
) -> list[RedlinePiece]:
    """The current body with its sentence changes marked, removed sentences placed
    after the sentence that preceded them last year (or first, if none did).

    ``changes`` is what :meth:`SentenceAligner.align` returned for these two bodies;
    the unchanged sentences are paired again here the way it paired them (equal after
    case and white-space folding, in order).
    """
    prev = split_sentences(previous or "")
    cur = split_sentences(current or "")
    added = {a.position for a in changes.added}
    removed = {r.position for r in changes.removed}
    edits = {e.position_current: e for e in (*changes.edited, *changes.trivial_edits)}
    cur_of_prev = {e.position_previous: e.position_current for e in edits.values()}
    left: dict[str, list[int]] = {}
    for j, sentence in enumerate(prev):
        if j not in removed and j not in cur_of_prev:
            left.setdefault(_fold(sentence), []).append(j)
    for i, sentence in enumerate(cur):
        if i not in added and i not in edits and left.get(_fold(sentence)):
            cur_of_prev[left[_fold(sentence)].pop(0)] = i

    after: dict[int, list[int]] = {}  # current position (-1: the start) -> removed sentences
    anchor = -1
    for j in range(len(prev)):
        if j in removed:
            after.setdefault(anchor, []).append(j)
        elif j in cur_of_prev:
            anchor = cur_of_prev[j]
    starts_cur, starts_prev = paragraph_starts(current or ""), paragraph_starts(previous or "")

    def removed_after(i: int) -> list[RedlinePiece]:
        return [
            RedlinePiece("removed", prev[j], new_paragraph=j in starts_prev and j > 0)
            for j in after.get(i, [])
        ]

    pieces = removed_after(-1)
    for i, sentence in enumerate(cur):
        start = i in starts_cur and bool(pieces)
        if i in added:
            pieces.append(RedlinePiece("added", sentence, new_paragraph=start))
        elif i in edits:
            kind: Literal["edited", "trivial"] = "trivial" if edits[i].trivial else "edited"
            pieces.append(RedlinePiece(kind, sentence, tuple(edits[i].diff), new_paragraph=start))
        else:
            pieces.append(RedlinePiece("same", sentence, new_paragraph=start))
        pieces.extend(removed_after(i))
    return pieces
