"""An independent check of what an analysis result claims changed (issue #22).

The reference side never touches riskdrift's extraction or sentence splitter:

- :func:`filing_lines` turns a filing into lines of text its own way (block tags and
  table rows end a line, cells are spaced, ``<hr>`` and CSS page breaks become page
  marks; a plain-text filing is read line by line, form feeds as page marks);
- :func:`find_furniture` finds page furniture independently: bare page numbers,
  "Table of Contents" back-links, and short lines that recur three or more times in
  the filing once digits are folded (running headers and footers);
- :func:`locate_item1a` finds the body's Item 1A by its heading line and the next
  Item 1B / 1C / 2 heading, taking the longest span so the table of contents (a span
  of one line) is skipped;
- :func:`split_reference_sentences` is a small regex splitter with a short list of
  abbreviations.

The claims come from an :class:`~riskdrift.models.AnalysisResult`: every new and
removed risk, every risk's added, removed and edited sentences. :func:`check_claims`
tests each against the two years' Item 1A (normalised: white space, quotes, dashes,
soft hyphens, bullets, case). "Present" means as one or more whole sentences (from a
sentence start to a sentence end), not a piece cut out of one:

- ``added``: present in the current year, absent from the previous one;
- ``removed``: the reverse;
- ``edited``: each side present in its year, the two sides differ beyond trivia
  (punctuation, spacing, hyphens, quotes, case), and the new side did not already
  stand in the previous year;
- ``new risk`` / ``removed risk``: a body of its own, a title in its year's Item 1A
  that is not furniture, and less than :data:`SAME_RISK_SHARE` of its text in the
  other year's Item 1A;
- every claimed sentence: not page furniture, not a fragment with no words.

A layout filing (one year) gets ``risk`` claims: each risk's title and body lines stand
somewhere in Item 1A, none is furniture, no body is empty.

:func:`missed_changes` runs a plain sentence diff of the two Item 1As (a sentence is
changed when it is not a substring of the other year's text, so a sentence a page
break cut differently each year is not a change) and lists the changed sentences the
result reports nowhere. Failing claims carry a category (furniture, cut sentence,
artefact, moved, …) so the figures say what is wrong, not only how much.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis.pipeline import analyse_documents, parse_filing
from riskdrift.analysis.sentiment import Lexicon
from riskdrift.models import AnalysisResult, FilingDocument, RiskChange

__all__ = [
    "Claim",
    "ClaimCheck",
    "Item1AText",
    "PairReport",
    "check_claims",
    "check_layout",
    "filing_lines",
    "find_furniture",
    "fold_trivia",
    "locate_item1a",
    "missed_changes",
    "normalise",
    "reference_item1a",
    "split_reference_sentences",
]

PAGE = "\f"
"""The line that stands for a page break in :func:`filing_lines`."""

# ---------------------------------------------------------------------------------------
# Text of a filing, our own way
# ---------------------------------------------------------------------------------------

_DROP = re.compile(
    r"<(script|style|head|ix:header|title)\b.*?</\1\s*>|<!--.*?-->", re.IGNORECASE | re.DOTALL
)
_PAGE_BREAK = re.compile(
    r"<hr\b[^>]*>|<[a-z][^>]*\b(?:page-)?break-(?:before|after)\s*:\s*(?:always|page)[^>]*>",
    re.IGNORECASE,
)
_BLOCK = re.compile(
    r"</?(?:p|div|br|tr|li|ul|ol|h[1-6]|table|thead|tbody|section|article|blockquote|center|"
    r"pre|dd|dt|dl|body|html|font\s+[^>]*display\s*:\s*block)\b[^>]*>",
    re.IGNORECASE,
)
_CELL = re.compile(r"<t[dh]\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SGML_TEXT = re.compile(r"<TEXT>(.*?)</TEXT>", re.DOTALL)

_SPACES = re.compile(r"[ \t\r\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
#: List bullets are layout, not words: a claim may keep or drop one, a filing may glue it on.
_BULLETS = re.compile(r"[\u2022\u00b7\u25aa\u25cf\u25e6\u2023\u2219\uf0b7\uf0a7]")
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\ufe58": "-",
        "\ufe63": "-",
        "\uff0d": "-",
    }
)


def filing_lines(content: bytes) -> list[str]:
    """The filing as lines of normalised text; :data:`PAGE` lines mark page breaks.

    HTML: block elements end a line, table cells are separated by a space, ``<hr>``
    and CSS page breaks become :data:`PAGE`. Anything else is read as plain text
    (form feeds are page breaks).
    """
    text = content.decode("utf-8", errors="replace")
    sgml = _SGML_TEXT.search(text)
    if sgml is not None:
        text = sgml.group(1)
    if re.search(r"<(?:html|body|div|p|table)\b", text[:200_000], re.IGNORECASE):
        text = _DROP.sub(" ", text)
        text = _PAGE_BREAK.sub(f"\n{PAGE}\n", text)
        text = _BLOCK.sub("\n", text)
        text = _CELL.sub(" ", text)
        text = html.unescape(_TAG.sub("", text))
    lines: list[str] = []
    # Not str.splitlines(): it would split at the form feeds that stand for page breaks.
    for raw in re.split(
        r"\r\n|[\r\n\v\x1c-\x1e\x85\u2028\u2029]", text.replace(PAGE, f"\n{PAGE}\n")
    ):
        if raw == PAGE:
            if lines and lines[-1] != PAGE:
                lines.append(PAGE)
            continue
        line = _SPACES.sub(" ", _INVISIBLE.sub("", raw)).strip()
        if line:
            lines.append(line)
    return lines


def normalise(text: str) -> str:
    """Text as compared: NFKC, straight quotes, one hyphen for every dash, no soft
    hyphens or zero-width characters, white space collapsed, case folded."""
    text = unicodedata.normalize("NFKC", _INVISIBLE.sub("", text)).translate(_QUOTES)
    text = _BULLETS.sub(" ", text)
    return " ".join(text.split()).casefold()


_TRIVIA = re.compile(r"[^0-9a-z]+")


def fold_trivia(text: str) -> str:
    """What is left of a sentence without punctuation, spacing, hyphens, quotes and case."""
    return _TRIVIA.sub("", normalise(text))


# ---------------------------------------------------------------------------------------
# Page furniture, our own way
# ---------------------------------------------------------------------------------------

#: Lines longer than this are never furniture: running headers and footers are short.
FURNITURE_MAX_CHARS = 80
#: A short line recurring this often (digits folded) is a running header or footer.
FURNITURE_MIN_REPEATS = 3
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s*)?[-\u2013\u2014(\[]?\s*(?:\d{1,3}|[ivxlc]{1,6}|[a-z]-\d{1,3})\s*[-\u2013\u2014)\]]?\.?$",
    re.IGNORECASE,
)
_BACK_LINK = re.compile(r"^(?:\S.{0,40}\s)?(?:table of contents|index)(?:\s.{0,40})?$", re.I)


def _furniture_key(line: str) -> str:
    return _DIGITS.sub("#", normalise(line))


@dataclass(frozen=True, slots=True)
class Furniture:
    """The running headers and footers of one filing, as digit-folded normalised text."""

    recurring: frozenset[str]
    """Short lines recurring through the filing (digits folded)."""
    running: frozenset[str] = frozenset()
    """Those of them that stand next to page breaks: running headers and footers, which
    are what a faulty extraction glues onto real sentences."""

    def is_furniture(self, text: str) -> bool:
        """Whether ``text`` (a line or a claimed sentence) is page furniture as a whole."""
        stripped = text.strip()
        if not stripped:
            return False
        if _PAGE_NUMBER.match(stripped) or (
            len(stripped) <= FURNITURE_MAX_CHARS and _BACK_LINK.match(stripped)
        ):
            return True
        return len(stripped) <= FURNITURE_MAX_CHARS and _furniture_key(stripped) in self.recurring

    def glued(self, text: str) -> str | None:
        """The (longest) furniture glued into a claimed sentence, at either end or inside."""
        key = f" {_furniture_key(text)} "
        for piece in sorted(self.running, key=len, reverse=True):
            if len(piece) >= 6 and len(piece) < len(key) - 2 and f" {piece} " in key:
                return piece
        return None


#: A running header or footer stands next to a page break (within two lines) at least
#: this share of the times it occurs.
RUNNING_SHARE = 0.75


def find_furniture(lines: Sequence[str]) -> Furniture:
    """Short lines that recur :data:`FURNITURE_MIN_REPEATS` times or more once digits
    are folded, and that carry a digit or stand next to a page break nearly every time
    (so a heading repeated in Item 1, 1A and 7 is not taken for a running header)."""
    counts: Counter[str] = Counter()
    near_break: Counter[str] = Counter()
    with_digit: set[str] = set()
    for k, line in enumerate(lines):
        if line == PAGE or len(line) > FURNITURE_MAX_CHARS:
            continue
        key = _furniture_key(line)
        counts[key] += 1
        if any(c.isdigit() for c in line):
            with_digit.add(key)
        window = lines[max(k - 2, 0) : k + 3]
        if PAGE in window:
            near_break[key] += 1
    running = frozenset(
        key
        for key, n in counts.items()
        if near_break[key] >= max(FURNITURE_MIN_REPEATS, RUNNING_SHARE * n)
        and any(c.isalpha() for c in key)
    )
    recurring = running | frozenset(
        key
        for key, n in counts.items()
        if n >= FURNITURE_MIN_REPEATS and key in with_digit and any(c.isalpha() for c in key)
    )
    return Furniture(recurring, running)


# ---------------------------------------------------------------------------------------
# Item 1A, our own way
# ---------------------------------------------------------------------------------------

_ITEM = r"item[\s.]*"
_START = re.compile(rf"^{_ITEM}1a\b[\s.:\-]*(?:risk\s+factors)?[\s.:]*$", re.IGNORECASE)
_START_WITH_TITLE = re.compile(rf"^{_ITEM}1a\b[\s.:\-]*risk\s+factors\b", re.IGNORECASE)
_TITLE_ONLY = re.compile(r"^risk\s+factors\.?$", re.IGNORECASE)
_END = re.compile(rf"^(?:part\s+i+\W*)?{_ITEM}(?:1b|1c|2|3|7)\b(?!\s*of\b)", re.IGNORECASE)


_STOP = re.compile(r"[.?!:;][\"')\]]*(?=\s)")
_AFTER_STOP = re.compile(r"[.?!:;][\"')\]]*\s")


#: Abbreviations no sentence ends with ("U.S." and "Inc." may end one, so they are not here).
_NEVER_FINAL = frozenset(
    ["mr", "mrs", "ms", "dr", "no", "nos", "e.g", "i.e", "vs", "v", "st", "jr", "sr",
     "approx", "dept", "fig", "sec", "cf", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
     "sep", "sept", "oct", "nov", "dec"]
)  # fmt: skip


def _ends_in_abbreviation(key: str) -> bool:
    word = key.rsplit(None, 1)[-1].strip("(\"'").rstrip(".")
    return key.endswith(".") and (word in _NEVER_FINAL or (len(word) == 1 and word.isalpha()))


#: Words no sentence or heading ends with: a line ending in one was cut by a page break.
_DANGLING = frozenset(
    [
        "a",
        "an",
        "and",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "of",
        "on",
        "or",
        "our",
        "the",
        "their",
        "to",
        "with",
        "its",
        "which",
        "that",
    ]
)


def paragraphs(lines: Iterable[str]) -> list[str]:
    """Lines rejoined where a page break (or dropped furniture) cut a paragraph: the line
    ends without final punctuation and the next starts in lower case, or the line ends
    in a word no sentence ends with."""
    joined: list[str] = []
    for line in lines:
        if joined:
            last = joined[-1].rstrip("\"')\u201d\u2019 ")
            words = last.rsplit(None, 1)
            cut = (
                not last.endswith((".", "?", "!", ":", ";"))
                and _LIST_ITEM.match(line) is None
                and re.search(r"[;,]\s*(?:and|or)$", last) is None
                and (line[:1].islower() or (bool(words) and words[-1].casefold() in _DANGLING))
            )
            if cut:
                joined[-1] = f"{joined[-1]} {line}"
                continue
        joined.append(line)
    return joined


@dataclass(frozen=True, slots=True)
class Item1AText:
    """One filing's Item 1A as the reference sees it."""

    lines: tuple[str, ...]
    """Item 1A's lines, page marks and furniture dropped."""
    furniture: Furniture
    located_by: str
    sentences: tuple[str, ...] = field(init=False)
    """Its sentences (:func:`split_reference_sentences` of the rejoined paragraphs)."""
    text: str = field(init=False)
    """The sentences :func:`normalise`-d and joined by spaces: what claims are sought in."""
    squeezed: str = field(init=False)
    """:attr:`text` without any white space (to tell a spacing artefact from a real miss)."""
    folded: str = field(init=False)
    """:attr:`text` through :func:`fold_trivia`: what is left once trivia are gone."""
    triples: frozenset[tuple[str, ...]] = field(init=False)
    """The word triples of :attr:`text` (to tell how much of a risk stands in it)."""
    starts: frozenset[int] = field(init=False)
    """Offsets in :attr:`text` where a sentence starts."""
    ends: frozenset[int] = field(init=False)
    """Offsets in :attr:`text` where a sentence ends."""

    def __post_init__(self) -> None:
        joined = paragraphs(self.lines)
        pieces: list[str] = []
        starts: set[int] = set()
        ends: set[int] = set()
        offset = 0
        for paragraph in joined:
            folded = normalise(paragraph)
            if not folded:
                continue
            pieces.append(folded)
            starts.add(offset)
            starts.update(offset + m.end() for m in _AFTER_STOP.finditer(folded))
            ends.update(offset + m.end() for m in _STOP.finditer(folded))
            offset += len(folded)
            ends.add(offset)
            offset += 1
        text = " ".join(pieces)
        object.__setattr__(self, "sentences", tuple(split_reference_sentences("\n".join(joined))))
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "squeezed", re.sub(r"\s+", "", text))
        object.__setattr__(self, "folded", fold_trivia(text))
        object.__setattr__(self, "triples", frozenset(_triples(text)))
        object.__setattr__(self, "starts", frozenset(starts))
        object.__setattr__(self, "ends", frozenset(ends))

    def contains(self, fragment: str) -> bool:
        """Whether ``fragment`` (normalised) stands anywhere in this Item 1A."""
        return normalise(fragment) in self.text

    def holds(self, sentence: str) -> bool:
        """Whether ``sentence`` (normalised) stands in this Item 1A as one or more whole
        sentences: from a sentence start to a sentence end, not cut out of one."""
        return self.occurrences(sentence) > 0

    def occurrences(self, sentence: str) -> int:
        """How often ``sentence`` stands in this Item 1A as whole sentences."""
        key = normalise(sentence)
        if not key or (_ends_in_abbreviation(key) and not self.text.endswith(key)):
            return 0
        found = 0
        at = self.text.find(key)
        while at >= 0:
            if at in self.starts and at + len(key) in self.ends:
                found += 1
            at = self.text.find(key, at + 1)
        return found


def _span(lines: Sequence[str], start: int) -> int:
    for k in range(start + 1, len(lines)):
        if _END.match(lines[k]) and len(lines[k]) <= 80:
            return k
    return len(lines)


def locate_item1a(lines: Sequence[str]) -> tuple[int, int, str]:
    """(first, end, how) line indices of the body's Item 1A.

    Candidates are short lines that open with "Item 1A" and run to the next Item 1B /
    1C / 2 / 3 / 7 heading. A document that names its sections by title only has none
    that runs far; its candidates are a "Risk Factors" title line or an ALL-CAPS
    "RISK FACTORS." lead-in, running to the next ALL-CAPS section title that is not a
    risk category. The span with the most text wins, which skips the table of contents
    and a cross-reference index. Raises ``LookupError``.
    """
    items: list[tuple[int, int, int]] = []
    titles: list[tuple[int, int, int]] = []
    for k, line in enumerate(lines):
        if len(line) <= 80 and (_START.match(line) or _START_WITH_TITLE.match(line)):
            end = _span(lines, k)
            items.append((sum(len(x) for x in lines[k:end]), k, end))
        elif (len(line) <= 80 and _TITLE_ONLY.match(line)) or _CAPS_LEAD_IN.match(line):
            end = _next_caps_heading(lines, k)
            titles.append((sum(len(x) for x in lines[k:end]), k, end))
    if items and max(items)[0] >= MIN_SECTION_CHARS:
        _, first, end = max(items)
        return first, end, "item 1a heading"
    if titles:
        _, first, end = max(titles)
        return first, end, "risk factors title"
    if items:
        _, first, end = max(items)
        return first, end, "item 1a heading"
    raise LookupError("no Item 1A / Risk Factors heading line")


#: An "Item 1A" span shorter than this is a table-of-contents or index entry, or a
#: pointer to another document.
MIN_SECTION_CHARS = 2000


_CAPS_LEAD_IN = re.compile(r"^RISK FACTORS\.\s+\S")
_CAPS_TITLE = re.compile(r"^([A-Z][A-Z ,&'\u2019()\-]{3,80})(?:[.:](?:\s|$)|$)")


def _next_caps_heading(lines: Sequence[str], start: int) -> int:
    # A document that names its sections by title only ends Risk Factors at the next
    # ALL-CAPS section title ("LEGAL PROCEEDINGS."), not at a risk category in it
    # ("STRATEGIC RISKS.").
    for k in range(start + 1, len(lines)):
        match = _CAPS_TITLE.match(lines[k])
        if match and len(match.group(1)) > 8 and "RISK" not in match.group(1):
            return k
    return len(lines)


def reference_item1a(content: bytes, *, whole: bool = False) -> Item1AText:
    """A filing's Item 1A, furniture and page marks dropped (``whole``: the file as a
    whole is Item 1A, as in the plain-text extracts)."""
    lines = filing_lines(content)
    furniture = find_furniture(lines)
    if whole:
        first, end, how = 0, len(lines), "whole file"
    else:
        first, end, how = locate_item1a(lines)
    kept = tuple(
        line for line in lines[first:end] if line != PAGE and not furniture.is_furniture(line)
    )
    return Item1AText(kept, furniture, how)


# ---------------------------------------------------------------------------------------
# Sentences, our own way
# ---------------------------------------------------------------------------------------

_LIST_ITEM = re.compile(
    r"^(?:[*\u2022\u00b7\u25aa\u25cf\u25e6\u2023\u2219\uf0b7\uf0a7-]|\(?[a-z0-9]{1,3}\))"
)
_ABBREVIATIONS = frozenset(
    [
        "u.s",
        "u.k",
        "e.u",
        "e.g",
        "i.e",
        "inc",
        "corp",
        "co",
        "ltd",
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
        "dept",
        "fig",
        "sec",
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
        "l.p",
        "n.a",
        "s.a",
        "n.v",
        "u.s.a",
    ]
)
_SENTENCE_END = re.compile(r"[.?!:][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_LAST = re.compile(r"(\S+)$")


def split_reference_sentences(text: str) -> list[str]:
    """Sentences of a text: each line on its own, cut after ``.?!`` (or a colon, which
    ends a lead-in title) before a capital or a digit, except after a listed abbreviation
    or a single letter ("U.S.", "J.")."""
    sentences: list[str] = []
    for line in text.splitlines():
        start = 0
        for match in _SENTENCE_END.finditer(line):
            last = _LAST.search(line[start : match.start() + 1])
            word = last.group(1).strip("(\"'").rstrip(".").casefold() if last else ""
            if line[match.start()] == "." and (
                word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())
            ):
                continue
            piece = line[start : match.end()].strip()
            if piece:
                sentences.append(piece)
            start = match.end()
        tail = line[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


# ---------------------------------------------------------------------------------------
# Claims and their checks
# ---------------------------------------------------------------------------------------

ClaimKind = Literal["added", "removed", "edited", "new risk", "removed risk", "risk"]


@dataclass(frozen=True, slots=True)
class Claim:
    """One thing a result says: a sentence added or removed, an edit, a risk's text."""

    kind: ClaimKind
    risk: str
    text: str
    previous: str | None = None
    """An edit's previous side (``text`` is its current side); a new or removed risk's
    title (``text`` is its body)."""


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """A claim and, when it does not hold, why (``problem``) in a category."""

    claim: Claim
    problem: str | None = None
    category: str | None = None

    @property
    def holds(self) -> bool:
        return self.problem is None

    def describe(self) -> str:
        c = self.claim
        if c.kind == "edited":
            quoted = f"{_clip(c.previous or '')!r} -> {_clip(c.text)!r}"
        elif c.kind in ("new risk", "removed risk"):
            quoted = f"{_clip(c.previous or '')!r}: {_clip(c.text, 80)!r}"
        else:
            quoted = repr(_clip(c.text))
        return f"[{self.category}] {c.kind} in {c.risk!r}: {quoted} ({self.problem})"


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: Claimed sentences with fewer letters than this are fragments, whatever else they are.
MIN_LETTERS = 3


def _risk_name(change: RiskChange) -> str:
    return (change.title_current or change.title_previous or "?")[:60]


def claims_of(result: AnalysisResult) -> Iterator[Claim]:
    """Every claim of a result: each new or removed risk (title, then body), each added,
    removed and edited sentence; edits flagged trivial by the result left out (they do
    not claim a change)."""
    for change in result.risks:
        name = _risk_name(change)
        if change.status == "new":
            yield Claim("new risk", name, change.text_current or "", change.title_current)
        elif change.status == "removed":
            yield Claim("removed risk", name, change.text_previous or "", change.title_previous)
        if change.changes is None:
            continue
        for added in change.changes.added:
            yield Claim("added", name, added.text)
        for removed in change.changes.removed:
            yield Claim("removed", name, removed.text)
        for edit in change.changes.edited:
            if getattr(edit, "trivial", False):
                continue
            yield Claim("edited", name, edit.current, edit.previous)


def _presence_problem(sentence: str, year: Item1AText, label: str) -> tuple[str, str] | None:
    if year.holds(sentence):
        return None
    if year.contains(sentence):
        return f"only part of a sentence of the {label} Item 1A", "cut sentence"
    if re.sub(r"\s+", "", normalise(sentence)) in year.squeezed:
        return f"not in the {label} Item 1A as spaced (spacing artefact)", "artefact"
    glued = year.furniture.glued(sentence)
    if glued is not None:
        return f"not in the {label} Item 1A: furniture {glued!r} glued on", "furniture"
    return f"not in the {label} Item 1A", "not in filing"


def _common(sentence: str, furniture: Furniture) -> tuple[str, str] | None:
    if sum(c.isalpha() for c in sentence) < MIN_LETTERS:
        return "no words", "fragment"
    if furniture.is_furniture(sentence):
        return "page furniture", "furniture"
    return None


#: A new (removed) risk with this share of its body's word triples in the previous
#: (current) year's Item 1A is no new (removed) risk: its text stands in both years.
SAME_RISK_SHARE = 0.8


def _check_risk(claim: Claim, own: Item1AText, other: Item1AText, label: str) -> ClaimCheck:
    title = claim.previous or ""
    if not claim.text.strip():
        return ClaimCheck(claim, "a heading with no body of its own", "empty")
    if own.furniture.is_furniture(title):
        return ClaimCheck(claim, "its title is page furniture", "furniture")
    if not own.contains(title):
        return ClaimCheck(claim, f"its title is not in the {label} Item 1A", "not in filing")
    body = _triples(claim.text)
    shared = len(body & other.triples) / max(len(body), 1)
    if shared >= SAME_RISK_SHARE:
        other_label = "previous" if label == "current" else "current"
        return ClaimCheck(
            claim,
            f"{shared:.0%} of its text stands in the {other_label} Item 1A too",
            "unchanged (moved or repeated)",
        )
    return ClaimCheck(claim)


def check_claim(claim: Claim, current: Item1AText, previous: Item1AText) -> ClaimCheck:
    """Whether one claim holds against the two years' Item 1A (see the module docstring)."""
    if claim.kind == "new risk":
        return _check_risk(claim, current, previous, "current")
    if claim.kind == "removed risk":
        return _check_risk(claim, previous, current, "previous")
    if claim.kind == "edited":
        assert claim.previous is not None
        for side, year, label in (
            (claim.previous, previous, "previous"),
            (claim.text, current, "current"),
        ):
            found = _common(side, year.furniture) or _presence_problem(side, year, label)
            if found:
                return ClaimCheck(claim, f"{label} side: {found[0]}", found[1])
        if fold_trivia(claim.previous) == fold_trivia(claim.text):
            return ClaimCheck(claim, "differs only in trivia", "trivial edit")
        if previous.holds(claim.text):
            return ClaimCheck(
                claim, "the new side already stands in the previous year", "not an edit"
            )
        return ClaimCheck(claim)
    own, other = (current, previous) if claim.kind in ("added", "risk") else (previous, current)
    own_label, other_label = (
        ("current", "previous") if claim.kind in ("added", "risk") else ("previous", "current")
    )
    if claim.kind == "risk":
        # A risk's title may be a lead-in of its first paragraph: any stretch of text will do.
        found = _common(claim.text, own.furniture)
        if found is None and not own.contains(claim.text):
            found = _presence_problem(claim.text, own, own_label)
    else:
        found = _common(claim.text, own.furniture) or _presence_problem(claim.text, own, own_label)
    if found:
        return ClaimCheck(claim, found[0], found[1])
    # A sentence a filer repeats in several risks may lose (gain) one of its copies: a
    # claim holds while the year it is claimed for has more copies than the other.
    if claim.kind != "risk" and other.occurrences(claim.text) >= own.occurrences(claim.text):
        return ClaimCheck(
            claim,
            f"stands as a whole sentence in the {other_label} Item 1A as often",
            "unchanged (moved or repeated)",
        )
    return ClaimCheck(claim)


def check_claims(
    result: AnalysisResult, current: Item1AText, previous: Item1AText
) -> list[ClaimCheck]:
    """Every claim of ``result`` checked against the two reference Item 1As."""
    return [check_claim(c, current, previous) for c in claims_of(result)]


def check_layout(
    titles_and_bodies: Iterable[tuple[str, str]], item: Item1AText
) -> list[ClaimCheck]:
    """A single filing's risks: each risk's title and each line of its body stand in
    Item 1A, none is furniture or empty."""
    checks: list[ClaimCheck] = []
    for title, body in titles_and_bodies:
        name = title[:60]
        if not body.strip():
            checks.append(ClaimCheck(Claim("risk", name, body), "empty body", "empty"))
            continue
        for piece in (title, *[line for line in body.splitlines() if line.strip()]):
            checks.append(check_claim(Claim("risk", name, piece), item, item))
    return checks


# ---------------------------------------------------------------------------------------
# What the result misses
# ---------------------------------------------------------------------------------------

#: Reference sentences shorter than this (characters or words) are fragments, not changes.
MIN_CHANGE_CHARS = 25
MIN_CHANGE_WORDS = 4


@dataclass(frozen=True, slots=True)
class Miss:
    """A sentence the plain diff finds changed that the result reports nowhere.

    ``preamble``: the sentence stands before the first risk the result found (Item 1A's
    introduction, a risk-factor summary); the analysis reports risks, so these are
    counted apart from the misses among the risks.
    """

    kind: Literal["added", "removed"]
    sentence: str
    preamble: bool = False


def risks_start(item: Item1AText, titles: Iterable[str]) -> int:
    """Offset in ``item.text`` where the risks begin: the earliest of the titles' last
    occurrences (a risk-factor summary repeats titles before the risks; 0: none found)."""
    found = [item.text.rfind(normalise(t)[:60]) for t in titles if normalise(t)]
    found = [at for at in found if at >= 0]
    return min(found) if found else 0


def reference_changes(
    current: Item1AText, previous: Item1AText, starts: tuple[int, int] = (0, 0)
) -> list[Miss]:
    """The plain sentence diff: current sentences not in the previous Item 1A's text
    (added) and previous ones not in the current's (removed), both compared without
    trivia (:func:`fold_trivia`: a change of punctuation or spacing is no change),
    fragments and furniture aside; those before ``starts`` (offsets of the first risk in
    each year) are ``preamble``."""
    found: list[Miss] = []
    sides = (("added", current, previous, starts[0]), ("removed", previous, current, starts[1]))
    for kind, own, other, first in sides:
        cursor = 0
        for sentence in own.sentences:
            key = normalise(sentence)
            at = own.text.find(key, cursor)
            if at >= 0:
                cursor = at + len(key)
            if len(sentence) < MIN_CHANGE_CHARS or len(sentence.split()) < MIN_CHANGE_WORDS:
                continue
            if own.furniture.is_furniture(sentence):
                continue
            if fold_trivia(sentence) not in other.folded:  # a change beyond trivia
                found.append(Miss(kind, sentence, 0 <= at < first))  # type: ignore[arg-type]
    return found


def _reported(result: AnalysisResult) -> dict[str, list[str]]:
    """Normalised text the result reports as changed, by the side it belongs to: changed
    sentences, new and removed risks, changed titles and the sections they stand in."""
    sides: dict[str, list[str]] = {"added": [], "removed": []}
    for change in result.risks:
        if change.status == "new":
            sides["added"].append(normalise(f"{change.title_current or ''} {change.text_current}"))
        if change.status == "removed":
            sides["removed"].append(
                normalise(f"{change.title_previous or ''} {change.text_previous}")
            )
        if change.title_current != change.title_previous:
            if change.title_current:
                sides["added"].append(normalise(change.title_current))
            if change.title_previous:
                sides["removed"].append(normalise(change.title_previous))
        if change.section:
            sides["added" if change.title_current else "removed"].append(normalise(change.section))
        if change.changes is None:
            continue
        sides["added"] += [normalise(a.text) for a in change.changes.added]
        sides["removed"] += [normalise(r.text) for r in change.changes.removed]
        for edit in change.changes.edited:
            if getattr(edit, "trivial", False):
                continue  # a trivial edit reports no change: it covers none
            sides["added"].append(normalise(edit.current))
            sides["removed"].append(normalise(edit.previous))
    return sides


#: Share of a changed sentence's word triples the result must report for it to be covered.
COVERED_SHARE = 0.7


def _triples(text: str) -> set[tuple[str, ...]]:
    tokens = re.findall(r"[0-9a-z]+", normalise(text))
    return {tuple(tokens[k : k + 3]) for k in range(max(len(tokens) - 2, 1))}


def _covered(sentence: str, reported: set[tuple[str, ...]]) -> bool:
    # Word triples, not substrings: a reported sentence may be cut, joined or spaced
    # differently from ours, or carry furniture glued on (that claim fails on its own).
    own = _triples(sentence)
    return len(own & reported) >= COVERED_SHARE * len(own)


def missed_changes(
    result: AnalysisResult, current: Item1AText, previous: Item1AText
) -> tuple[list[Miss], list[Miss]]:
    """(the plain diff's changes, those of them the result reports nowhere)."""
    starts = (
        risks_start(current, (r.title_current for r in result.risks if r.title_current)),
        risks_start(previous, (r.title_previous for r in result.risks if r.title_previous)),
    )
    changes = reference_changes(current, previous, starts)
    reported = {
        kind: set().union(*(_triples(t) for t in texts))
        for kind, texts in _reported(result).items()
    }
    return changes, [m for m in changes if not _covered(m.sentence, reported[m.kind])]


# ---------------------------------------------------------------------------------------
# One pair, summed up
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairReport:
    """The checks of one pair (or one single filing: no diff, no misses)."""

    name: str
    checks: list[ClaimCheck]
    changes: list[Miss] = field(default_factory=list)
    """The plain diff's changed sentences (preamble ones included)."""
    misses: list[Miss] = field(default_factory=list)
    """Those of :attr:`changes` the result reports nowhere."""

    @property
    def failures(self) -> list[ClaimCheck]:
        return [c for c in self.checks if not c.holds]

    @property
    def reference_changes(self) -> int:
        """Changed sentences among the risks (the base of the miss rate)."""
        return sum(not m.preamble for m in self.changes)

    @property
    def risk_misses(self) -> list[Miss]:
        return [m for m in self.misses if not m.preamble]

    @property
    def preamble_misses(self) -> list[Miss]:
        return [m for m in self.misses if m.preamble]


@dataclass(frozen=True, slots=True)
class Totals:
    """Figures over several reports."""

    claims: int
    failing: int
    reference_changes: int
    misses: int

    @property
    def holding_share(self) -> float:
        return 1 - self.failing / self.claims if self.claims else 1.0

    @property
    def miss_share(self) -> float:
        return self.misses / self.reference_changes if self.reference_changes else 0.0


def totals(reports: Sequence[PairReport]) -> Totals:
    """Claims, failing claims, changes among the risks and their misses over ``reports``."""
    return Totals(
        sum(len(r.checks) for r in reports),
        sum(len(r.failures) for r in reports),
        sum(r.reference_changes for r in reports),
        sum(len(r.risk_misses) for r in reports),
    )


# ---------------------------------------------------------------------------------------
# The corpus, each pair analysed once per process
# ---------------------------------------------------------------------------------------


@functools.cache
def _lexicon() -> Lexicon:
    return load_lexicon(None)


@functools.cache
def _reference(path: Path, whole: bool) -> Item1AText:
    return reference_item1a(path.read_bytes(), whole=whole)


def _document(path: Path, ticker: str, year: int) -> FilingDocument:
    return FilingDocument(
        ticker=ticker, year=year, content=path.read_bytes(), name=str(path), source="local"
    )


@functools.cache
def pair_report(ticker: str, current: Path, previous: Path, whole: bool) -> PairReport:
    """The claims of the analysis of two filings checked, and its misses counted."""
    years = int(current.name[:4]), int(previous.name[:4])
    result = analyse_documents(
        _document(current, ticker, years[0]), _document(previous, ticker, years[1]), _lexicon()
    )
    ref_current, ref_previous = _reference(current, whole), _reference(previous, whole)
    changes, misses = missed_changes(result, ref_current, ref_previous)
    return PairReport(
        f"{ticker} {years[0]}/{years[1]}",
        check_claims(result, ref_current, ref_previous),
        changes,
        misses,
    )


@functools.cache
def layout_report(path: Path) -> PairReport:
    """A single filing's risks checked against its Item 1A."""
    parsed = parse_filing(path.read_bytes(), str(path))
    checks = check_layout(((r.title, r.body) for r in parsed.risks), _reference(path, False))
    return PairReport(f"{path.parent.name} {path.stem}", checks)


def real10k_pairs(root: Path) -> list[tuple[str, Path, Path]]:
    """(ticker, current, previous) for consecutive years of the HTML corpus (10-K/As aside)."""
    pairs = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        years = sorted(int(p.stem) for p in folder.glob("*.html") if p.stem.isdigit())
        pairs += [
            (folder.name, folder / f"{y}.html", folder / f"{y - 1}.html")
            for y in years
            if y - 1 in years
        ]
    return pairs


def item1a_only_pairs(root: Path) -> list[tuple[str, Path, Path]]:
    """(ticker, current, previous) for consecutive years of the plain-text extracts."""
    pairs = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        years = sorted(int(p.name[:4]) for p in folder.glob("*.item1a.txt"))
        pairs += [
            (folder.name, folder / f"{y}.item1a.txt", folder / f"{y - 1}.item1a.txt")
            for y in years
            if y - 1 in years
        ]
    return pairs


def layout_filings(root: Path) -> list[Path]:
    """Every filing of the layouts corpus."""
    return sorted(root.glob("*/*.html"))
