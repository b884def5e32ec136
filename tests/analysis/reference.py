"""The independent reading of a filing's Item 1A, for the claim check of issue #22.

Nothing here touches riskdrift's extraction or sentence splitter:

- :func:`filing_lines` turns a filing into lines of text its own way (block tags and
  table rows end a line, cells are spaced, ``<hr>`` and CSS page breaks become page
  marks; a plain-text filing is read line by line, form feeds as page marks);
- :func:`find_furniture` finds page furniture independently: bare page numbers,
  "Table of Contents" back-links, and short lines that recur three or more times in
  the filing once digits are folded (running headers and footers);
- :func:`locate_item1a` finds the body's Item 1A by its heading line and the next
  Item 1B / 1C / 2 heading, taking the longest span so the table of contents is
  skipped (a document that names its sections by title only: its "Risk Factors"
  title to the next ALL-CAPS section title);
- :func:`split_reference_sentences` is a small regex splitter with a short list of
  abbreviations;
- :class:`Item1AText` holds the result, normalised (:func:`normalise`: white space,
  quotes, dashes, soft hyphens, bullets, case), and says whether a sentence stands in
  it whole, only as a piece, or not at all.

``tests/analysis/claims.py`` checks a result's claims against it.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "PAGE",
    "Furniture",
    "Item1AText",
    "filing_lines",
    "find_furniture",
    "fold_trivia",
    "locate_item1a",
    "normalise",
    "paragraphs",
    "reference_item1a",
    "split_reference_sentences",
    "word_triples",
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
    in a word no sentence ends with. A line ending in a hyphen after a letter is joined
    without a space: the break cut a hyphenated word ("longer-" / "term")."""
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
                # A word hyphenated across the break ("longer-" / "term") is one word again.
                glue = "" if re.search(r"[^\W\d_]-$", joined[-1]) else " "
                joined[-1] = f"{joined[-1]}{glue}{line}"
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
        object.__setattr__(self, "triples", frozenset(word_triples(text)))
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


def word_triples(text: str) -> set[tuple[str, ...]]:
    """The triples of consecutive words of a text (normalised, letters and digits only)."""
    tokens = re.findall(r"[0-9a-z]+", normalise(text))
    return {tuple(tokens[k : k + 3]) for k in range(max(len(tokens) - 2, 1))}
