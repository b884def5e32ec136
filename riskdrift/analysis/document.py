"""A filing as a flat list of text blocks: the shape every later analysis step reads.

A 10-K primary document is inline-XBRL HTML (or, for old filings, plain text).
Both become a list of :class:`TextBlock` — one per paragraph, heading or table
row — carrying how much of the block is bold, italic or underlined, because risk
factor headings are told apart from body text by their styling, not by tags.

Table rows become one block each, so a heading split across cells
("Item 1A." | "Risk Factors") reads as one line. Hidden content (the
``ix:header`` with its XBRL contexts) is skipped, but its ``dei:`` tags are
read into :class:`DocumentMetadata`.

The text is what the filer wrote, not what the printed page adds (issue 22;
docs/ANALYSIS.md "Building the text"):

* a block's text nodes are joined with their own whitespace only, so styled
  letters and punctuation in spans of their own ("F" + "or", "reputation" + ".")
  never gain a space; ``<br>``, table cells and padded inline elements do;
* page breaks (``<hr>``, CSS page breaks, form feeds, page-number blocks) are
  found, the page furniture next to them is dropped by layout — page labels,
  "Table of Contents" back-links, and text that recurs at page breaks once digits
  are normalised — and a paragraph cut by a break is joined again
  (:func:`remove_furniture`);
* preformatted text (``<pre>``, bare text in ``<body>``, a text document with a few
  inline tags) is split into paragraphs at blank lines, emphasised lines and
  item headings standing on their own.

Pure: bytes in, dataclasses out; no I/O.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from selectolax.lexbor import LexborHTMLParser
from selectolax.lexbor import LexborNode as Node

from riskdrift.errors import FilingParseError, FilingTooComplex

__all__ = [
    "UNLIMITED",
    "DocumentLimits",
    "DocumentMetadata",
    "FilingText",
    "TextBlock",
    "decode_filing",
    "html_blocks",
    "parse_document",
    "remove_furniture",
    "text_blocks",
]

#: Elements that start a new block. ``tr`` groups its cells into one block.
BLOCK_TAGS = frozenset(
    {
        "div", "p", "li", "td", "th", "tr", "table", "tbody", "thead", "ul", "ol",
        "h1", "h2", "h3", "h4", "h5", "h6", "body", "html", "section", "article",
        "blockquote", "center", "pre", "dl", "dt", "dd", "form", "hr", "header", "footer",
    }
)  # fmt: skip
SKIP_TAGS = frozenset({"script", "style", "head", "title", "noscript", "template"})
BOLD_TAGS = frozenset({"b", "strong"})
ITALIC_TAGS = frozenset({"i", "em", "cite"})
UNDERLINE_TAGS = frozenset({"u"})

_BOLD_STYLE = re.compile(r"font-weight:\s*(?:bold|bolder|[6-9]00)")
_ITALIC_STYLE = re.compile(r"font-style:\s*(?:italic|oblique)")
_UNDERLINE_STYLE = re.compile(r"text-decoration:[^;]*underline")
_HIDDEN_STYLE = re.compile(r"display:\s*none")
_HTML_SNIFF = re.compile(rb"<\s*(?:html|body|div|p|pre|table|span|font|br|xbrl)\b", re.IGNORECASE)

#: Share of bytes that may be control characters before a document counts as binary.
MAX_CONTROL_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class TextBlock:
    """One paragraph-like unit of a document and the share of its text in each style.

    ``lead`` is the text of the block's leading run of bold, italic or
    underlined text (a "lead-in" heading such as ``<b>Competition.</b> We face
    ...``), empty when the block does not start with styled text;
    ``lead_style`` is which of (bold, italic, underline) the whole lead carries.
    """

    text: str
    bold: float = 0.0
    italic: float = 0.0
    underline: float = 0.0
    lead: str = ""
    lead_style: tuple[bool, bool, bool] = (False, False, False)

    @property
    def emphasised(self) -> float:
        """Share of the text that is bold or italic, whichever is larger."""
        return max(self.bold, self.italic)


@dataclass(frozen=True, slots=True)
class DocumentMetadata:
    """What a document says about itself in its inline-XBRL ``dei:`` tags."""

    company: str | None = None
    cik: str | None = None
    fiscal_year: int | None = None
    period_end: dt.date | None = None
    document_type: str | None = None


@dataclass(frozen=True, slots=True)
class FilingText:
    """A parsed document: its blocks, its metadata, and whether it was HTML."""

    blocks: list[TextBlock]
    metadata: DocumentMetadata = field(default_factory=DocumentMetadata)
    is_html: bool = True


def decode_filing(content: bytes, name: str) -> tuple[str, bool]:
    """Decode a filing's bytes; return the text and whether it looks like HTML.

    Raises :class:`FilingParseError` for empty documents and binary data.
    """
    if not content or not content.strip():
        raise FilingParseError("the document is empty", filing=name)
    sample = content[:65536]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13))
    if controls > MAX_CONTROL_SHARE * len(sample):
        raise FilingParseError(
            "the document is binary data, not an HTML or text filing", filing=name
        )
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = content.decode("cp1252", errors="replace")
    return text, bool(_HTML_SNIFF.search(sample))


def _clean(text: str) -> str:
    # str.split() splits at what the regex ``\s+`` matches (no-break spaces included): the
    # same text as re.sub(r"\s+", " ", ...).strip(), several times faster.
    return " ".join(text.replace("\u200b", "").split())


@dataclass(slots=True)
class _Style:
    hidden: bool
    bold: bool
    italic: bool
    underline: bool


def _own_style(tag: str, style: str) -> tuple[bool, bool, bool, bool]:
    style = style.lower()
    return (
        bool(style) and _HIDDEN_STYLE.search(style) is not None,
        tag in BOLD_TAGS or (bool(style) and _BOLD_STYLE.search(style) is not None),
        tag in ITALIC_TAGS or (bool(style) and _ITALIC_STYLE.search(style) is not None),
        tag in UNDERLINE_TAGS or (bool(style) and _UNDERLINE_STYLE.search(style) is not None),
    )


_HIDDEN, _BOLD, _ITALIC, _UNDERLINE, _LINK, _GAP = 1, 2, 4, 8, 16, 32


def _element_flags(tag: str, element: Node) -> int:
    """What an element does to the text inside it, as bits: hidden, bold, italic,
    underlined, an in-document link, or an inline element set off by a left padding or
    margin ("&#8226;" then a padded span) or displayed as a box of its own: a word
    boundary, though no space is in the text."""
    attributes = element.attributes
    flags = _style_flags(tag, attributes.get("style") or "")
    if tag == "a" and (attributes.get("href") or "").startswith("#"):
        flags |= _LINK
    return flags


@functools.lru_cache(maxsize=8192)
def _style_flags(tag: str, style: str) -> int:
    """The bits of :func:`_element_flags` that come from the tag and its CSS: a filing
    repeats a few dozen distinct style strings over tens of thousands of elements, so
    each is read once."""
    hidden, bold, italic, underline = _own_style(tag, style)
    flags = (
        (_HIDDEN if hidden else 0)
        | (_BOLD if bold else 0)
        | (_ITALIC if italic else 0)
        | (_UNDERLINE if underline else 0)
    )
    if tag not in BLOCK_TAGS and (
        ("-left" in style and _LEFT_GAP.search(style) is not None)
        or ("display" in style and _BOXED.search(style) is not None)
    ):
        flags |= _GAP
    return flags


#: A styled run of text: (text, bold, italic, underline, internal link).
_Run = tuple[str, bool, bool, bool, bool]

#: How the text of a block is laid out: HTML flow (whitespace collapses), preformatted
#: (``<pre>``: line breaks are real), loose (text straight in ``<body>``, as in a plain-text
#: 10-K wrapped in ``<html>``: blank lines part paragraphs), plain (a text document).
FLOW, PRE, LOOSE, PLAIN = 0, 1, 2, 3


def _block(runs: Sequence[_Run]) -> tuple[TextBlock, bool] | None:
    """A block from its styled runs, and whether all its text is an in-document link
    ("Table of Contents"). The runs carry their own whitespace: inline elements are
    joined as they are, so "F" + "or" stays "For" and "reputation" + "." has no gap."""
    if len(runs) == 1:  # half the blocks of a filing: one text node
        return _one_run_block(runs[0])
    text = _clean("".join([r[0] for r in runs]))
    if not text:
        return None
    total = bold = italic = underline = 0
    link_only = True
    for chunk, is_bold, is_italic, is_under, is_link in runs:
        n = len(chunk) - chunk.count(" ")
        total += n
        if is_bold:
            bold += n
        if is_italic:
            italic += n
        if is_under:
            underline += n
        if not is_link and n and not chunk.isspace():
            link_only = False
    lead_parts: list[str] = []
    lead_bold = lead_italic = lead_under = True
    for chunk, is_bold, is_italic, is_under, _ in runs:
        if chunk.isspace():
            lead_parts.append(chunk)
        elif is_bold or is_italic or is_under:
            lead_parts.append(chunk)
            lead_bold, lead_italic, lead_under = (
                lead_bold and is_bold,
                lead_italic and is_italic,
                lead_under and is_under,
            )
        else:
            break
    lead = _clean("".join(lead_parts)) if lead_parts else ""
    style = (lead_bold, lead_italic, lead_under) if lead else (False, False, False)
    total = max(total, 1)
    block = TextBlock(text, bold / total, italic / total, underline / total, lead, style)
    return block, link_only


def _one_run_block(run: _Run) -> tuple[TextBlock, bool] | None:
    """:func:`_block` of a single run: all its text in the run's style, its lead the
    whole text when styled."""
    chunk, is_bold, is_italic, is_under, is_link = run
    text = _clean(chunk)
    if not text:
        return None
    # Text is left, so the run has a character that is neither white space nor U+200B:
    # each style's share is 1.0 or 0.0, and the block is a link exactly when the run is.
    styled = is_bold or is_italic or is_under
    block = TextBlock(
        text,
        1.0 if is_bold else 0.0,
        1.0 if is_italic else 0.0,
        1.0 if is_under else 0.0,
        text if styled else "",
        (is_bold, is_italic, is_under) if styled else (False, False, False),
    )
    return block, is_link


#: An emphasised run in preformatted text that opens an item ("Item 1A. Risk Factors."):
#: the only way such a document marks its headings, so it becomes a block of its own.
_ITEM_START = re.compile(r"^\s*(?:part\s+[ivx]+\W{0,3}\s*)?item\s+\d", re.IGNORECASE)
_BLANK_LINE = re.compile(r"\n[ \t\r\xa0]*\n")


class _BlockBuilder:
    """Accumulates styled runs of text until the block they belong to changes.

    Besides the blocks it records what :func:`remove_furniture` needs: where the page
    breaks fall (``breaks``: the index of the first block after each), which blocks are
    table rows and which are nothing but an in-document link.
    """

    def __init__(self) -> None:
        self.blocks: list[TextBlock] = []
        self.rows: list[bool] = []
        self.links: list[bool] = []
        self.breaks: set[int] = set()
        self._key: int | None = None
        self._inner: int | None = None
        self._row = False
        self._layout = FLOW
        self._runs: list[_Run] = []
        self._breaks = 0  # <br> elements since the last run
        self._space = ""  # whitespace-only text since the last run

    def add(
        self,
        key: int,
        text: str,
        style: tuple[bool, bool, bool, bool],
        *,
        inner: int | None = None,
        row: bool = False,
        layout: int = FLOW,
    ) -> None:
        """Add a text node's run. ``inner`` is the nearest block element: within a table
        row, a new cell is a word boundary even when the cells' text has no space."""
        if key != self._key:
            self.flush()
            self._key, self._row, self._layout = key, row, layout
        elif self._runs:
            separator = self._space
            if self._breaks:
                # "<br>" then a newline in the source is one line break; "<br><br>" is two.
                stripped = text.lstrip(" \t\r\xa0\n")
                newlines = max(
                    self._breaks,
                    self._space.count("\n") + text[: len(text) - len(stripped)].count("\n"),
                )
                separator, text = "\n" * newlines, stripped
            elif inner != self._inner and not separator:
                separator = " "
            if separator:
                self._runs.append((separator, False, False, False, False))
        self._breaks, self._space = 0, ""
        self._inner = inner
        self._runs.append((text, *style))

    def line_break(self) -> None:
        """A ``<br>``: a word boundary in flowing text, a line break in preformatted text."""
        if self._runs:
            self._breaks += 1

    def whitespace(self, text: str) -> None:
        """Whitespace between inline elements: kept, so "<b>A</b> <i>B</i>" reads "A B"."""
        if self._runs:
            self._space += text

    def page_break(self) -> None:
        """A page break: it ends the block being built and is remembered."""
        self.flush()
        self._key = None
        self.breaks.add(len(self.blocks))

    def _emit(self, runs: Sequence[_Run], row: bool = False) -> None:
        made = _block(runs)
        if made is not None:
            self.blocks.append(made[0])
            self.rows.append(row)
            self.links.append(made[1])

    def flush(self) -> None:
        runs, self._runs = self._runs, []
        self._breaks, self._space = 0, ""
        if not runs:
            return
        if self._layout == FLOW:
            self._emit(runs, self._row)
        else:
            self._preformatted(runs, self._layout)

    def _preformatted(self, runs: Sequence[_Run], layout: int) -> bool:
        """Blocks of preformatted text: paragraphs between blank lines (each line, when the
        text has no blank line at all), a page break at each form feed; a fully emphasised
        line, and an emphasised run that opens an item, stand as blocks of their own.
        Returns whether each line was made a block."""
        whole = "".join(r[0] for r in runs)
        by_line = layout != LOOSE and _BLANK_LINE.search(whole) is None
        if layout == PLAIN:
            by_line = by_line or not _hard_wrapped(whole)
        lines: list[list[_Run]] = [[]]
        for text, *flags in runs:
            parts = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for n, part in enumerate(parts):
                if n:
                    lines.append([])
                for k, page in enumerate(part.split("\f")):
                    if k:
                        lines.append([("\f", False, False, False, False)])
                        lines.append([])
                    if page:
                        lines[-1].append((page, *flags))  # type: ignore[arg-type]
        paragraph: list[_Run] = []
        heading = False

        def close() -> None:
            nonlocal paragraph
            if paragraph:
                self._emit(paragraph)
            paragraph = []

        for line in lines:
            if line and line[0][0] == "\f":
                close()
                self.breaks.add(len(self.blocks))
                continue
            visible = [r for r in line if r[0].strip()]
            if not visible:
                close()
                continue
            emphasised = all(any(r[1:4]) for r in visible)
            if emphasised and paragraph and not heading and not _sentence_closed(paragraph):
                emphasised = False  # "We face\n<b>significant</b>\ncompetition": mid-sentence
            opens_item = emphasised and _ITEM_START.match(visible[0][0]) is not None
            # "     Second paragraph." after a closed sentence: an indented first line
            # starts a paragraph even without a blank line before it.
            indented = (
                layout != LOOSE
                and bool(paragraph)
                and line[0][0][:2].isspace()
                and _sentence_closed(paragraph)
            )
            if by_line or emphasised != heading or opens_item or indented:
                close()
            heading = emphasised
            if paragraph:
                paragraph.append((" ", False, False, False, False))
            for run in line:
                if not emphasised and any(run[1:4]) and _ITEM_START.match(run[0]):
                    # "... as follows. <b>Item 1A. Risk Factors.</b> The ...": a heading
                    # inside running text, the only way this layout marks one.
                    close()
                    self._emit([run])
                    continue
                paragraph.append(run)
            if opens_item:
                close()
        close()
        return by_line


def _sentence_closed(runs: Sequence[_Run]) -> bool:
    """Whether the text so far ends a sentence (or a heading's colon)."""
    for run in reversed(runs):
        text = run[0].rstrip()
        if text:
            return text[-1] in '.!?:;"”’)'
    return True


def _hard_wrapped(text: str) -> bool:
    """Whether a plain-text document wraps its paragraphs over short lines (blank lines
    between paragraphs) rather than writing one paragraph per line."""
    lengths = sorted(len(line) for line in text.splitlines() if line.strip())
    return bool(lengths) and lengths[len(lengths) // 2] <= 100


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """How much of a document the parser takes on before it gives up (a hostile filing).

    The real 10-Ks of the corpus stay far below the defaults of the service
    (``Settings.analysis_max_*``): 45,000 elements, 0.5 M characters of text, depth 14.
    """

    max_text_chars: int
    max_elements: int
    max_depth: int


UNLIMITED = DocumentLimits(sys.maxsize, sys.maxsize, sys.maxsize)


#: What a text node directly inside an element inherits from it and its ancestors: the
#: result of walking up from the element until a block boundary (``table``, ``tr``,
#: ``body``, ``html``) or something hidden. A plain tuple (a NamedTuple's constructor is
#: a Python call, and a filing makes one per element), read by unpacking:
#: (hidden, bits: the _BOLD | _ITALIC | _UNDERLINE | _LINK of the elements walked through,
#: key: the nearest block element's mem_id, key_tag: its tag, row: the table row when the
#: walk reached one, gaps: the inline elements set off by a gap (_GAP) on the way up,
#: depth: the element's nesting depth from the document's root).
_Context = tuple[bool, int, int | None, str, int | None, tuple[int, ...], int]

_ROOT: _Context = (False, 0, None, "", None, (), 0)


def _context(
    element: Node | None, contexts: dict[int, _Context], limits: DocumentLimits
) -> _Context:
    """The context of ``element``, from its parent's (memoised by ``mem_id``).

    Walking up to ``<body>`` again for every text node was quadratic in the nesting
    depth (100,000 nested ``<div>``s with text: depth 8k took 12 s, 16k 50 s); each
    element's context is computed once here, from its parent's, which gives the same
    answer as that walk, so the work is linear.
    """
    chain: list[Node] = []
    above = _ROOT
    while element is not None:
        known = contexts.get(element.mem_id)
        if known is not None:
            above = known
            break
        chain.append(element)
        if len(chain) > limits.max_depth:
            raise FilingTooComplex.over("nesting depth", limits.max_depth)
        element = element.parent
    max_depth = limits.max_depth
    for node in reversed(chain):
        above = _step(node, above)
        if above[6] > max_depth:
            raise FilingTooComplex.over("nesting depth", max_depth)
        contexts[node.mem_id] = above
    return above


def _step(node: Node, above: _Context) -> _Context:
    """The context of ``node`` given its parent's: one step of the old upward walk."""
    tag = node.tag or ""
    depth = above[6] + 1
    if tag in SKIP_TAGS:
        return (True, 0, None, "", None, (), depth)
    flags = _element_flags(tag, node)
    if flags & _HIDDEN:
        return (True, 0, None, "", None, (), depth)
    mem = node.mem_id
    gaps: tuple[int, ...] = (mem,) if flags & _GAP else ()
    if tag == "tr":  # the walk stopped at the row
        return (False, flags, mem, tag, mem, gaps, depth)
    if tag in ("table", "body", "html"):  # ... or at the table, or the body
        return (False, flags, mem, tag, None, gaps, depth)
    hidden, bits, key, key_tag, row, above_gaps, _ = above
    if hidden:
        return (True, 0, None, "", None, (), depth)
    if tag in BLOCK_TAGS:
        key, key_tag = mem, tag
    return (
        False,
        flags | bits,
        key,
        key_tag,
        row,
        above_gaps + gaps if gaps else above_gaps,
        depth,
    )


#: Start tags that make an HTML5 parser look for an open ``<p>`` ("in button scope"): a
#: scan of its stack of open elements, so a deep nest of them parses in quadratic time
#: (lexbor: 16,000 nested ``<div>``s 1.1 s, 32,000 5.6 s; ``<span>``s 0.01 s).
_P_CLOSING = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "details", "dialog", "dir",
        "div", "dl", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "main",
        "menu", "nav", "ol", "section", "summary", "ul", "h1", "h2", "h3", "h4", "h5", "h6",
        "pre", "listing", "form", "table",
    }
)  # fmt: skip
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)")


def _check_markup(html: str, limits: DocumentLimits) -> None:
    """Refuse, before parsing, a document with more start tags than ``limits.max_elements``
    (what the parser's tree would hold) or nested deeper than ``limits.max_depth``.

    Depth: a cheap bound first (numpy over the bytes: every ``<`` opens, every ``</`` closes,
    never below zero), which the XHTML of inline-XBRL filings stays far under; only a
    document over it (unclosed ``<p>``/``<br>`` of old HTML filings inflate it) is
    scanned by name, counting the tags that make parsing quadratic (:data:`_P_CLOSING`),
    a close only when its name is open. The exact depth is checked again while
    building the blocks (:func:`_context`), and so are the elements.
    """
    if min(limits.max_depth, limits.max_elements) >= len(html) // 3:  # no room for the tags
        return
    raw = np.frombuffer(html.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    lt = np.flatnonzero(raw[:-1] == 60)  # "<"
    after = raw[lt + 1]
    is_letter = ((after | 32) >= 97) & ((after | 32) <= 122)
    if int(is_letter.sum()) > limits.max_elements:
        raise FilingTooComplex.over("elements", limits.max_elements)
    slash = np.flatnonzero(raw[:-1] == 47)  # "/>" closes a self-closing tag
    self_closed = slash[raw[slash + 1] == 62]
    where = np.concatenate((lt[is_letter], lt[after == 47], self_closed))
    step = np.concatenate(
        (
            np.ones(int(is_letter.sum()), dtype=np.int64),
            -np.ones(int((after == 47).sum()) + self_closed.size, dtype=np.int64),
        )
    )
    if not where.size:
        return
    walk = np.cumsum(step[np.argsort(where, kind="stable")])
    if int((walk - np.minimum.accumulate(np.minimum(walk, 0))).max()) <= limits.max_depth:
        return
    depth = 0
    open_by_name: dict[str, int] = {}
    for close, name in _TAG.findall(html):
        name = name.lower()
        if name not in _P_CLOSING:
            continue
        count = open_by_name.get(name, 0)
        if close:
            if count:
                open_by_name[name] = count - 1
                depth -= 1
        else:
            open_by_name[name] = count + 1
            depth += 1
            if depth > limits.max_depth:
                raise FilingTooComplex.over("nesting depth", limits.max_depth)


def _parse_date(value: str) -> dt.date | None:
    value = _clean(value).replace(" ,", ",")
    for fmt in ("%B %d, %Y", "%b %d, %Y", "%Y-%m-%d", "%m/%d/%Y", "%d %B %Y", "%B %d %Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    return None


def _metadata(dei: dict[str, str]) -> DocumentMetadata:
    year_text = dei.get("DocumentFiscalYearFocus", "")
    cik = dei.get("EntityCentralIndexKey")
    return DocumentMetadata(
        company=dei.get("EntityRegistrantName") or None,
        cik=cik.zfill(10) if cik and cik.isdigit() else cik or None,
        fiscal_year=int(year_text) if year_text.isdigit() else None,
        period_end=_parse_date(dei.get("DocumentPeriodEndDate", "")),
        document_type=dei.get("DocumentType") or None,
    )


#: CSS that starts a new page before or after the element.
_BREAK_BEFORE = re.compile(r"(?:page-)?break-before\s*:\s*(?:always|page|left|right)", re.I)
#: An inline element laid out as a box of its own: its text is a separate word.
_BOXED = re.compile(r"display\s*:\s*(?:block|inline-block|table-cell|list-item|flex)", re.I)
_LEFT_GAP = re.compile(r"(?:padding|margin)-left\s*:\s*(?!0*\.?0*(?:[a-z]+|%)?\s*(?:;|$))", re.I)
_BREAK_AFTER = re.compile(r"(?:page-)?break-after\s*:\s*(?:always|page|left|right)", re.I)


def _following(node: Node) -> Node | None:
    """The node that comes right after ``node`` and all its descendants, in document order."""
    while node is not None:
        if node.next is not None:
            return node.next
        parent = node.parent
        if parent is None:
            return None
        node = parent
    return None


def html_blocks(html: str, limits: DocumentLimits = UNLIMITED) -> FilingText:
    """Turn an HTML (or inline-XBRL) document into blocks and ``dei:`` metadata.

    Page breaks (``<hr>``, CSS ``page-break-before/after`` and ``break-before/after:
    page``) are recorded, and the page furniture around them removed
    (:func:`remove_furniture`). Linear in the size of the tree however deep it nests:
    each element's context is worked out once (:func:`_context`). Raises
    :class:`FilingTooComplex` as soon as the document goes over one of ``limits``.
    """
    _check_markup(html, limits)
    tree = LexborHTMLParser(html)
    root = tree.body if tree.body is not None else tree.root
    builder = _BlockBuilder()
    dei: dict[str, str] = {}
    contexts: dict[int, _Context] = {}  # element (mem_id) -> its context
    elements = chars = 0
    if root is None:
        return FilingText([], DocumentMetadata(), True)
    # Elements that break the page, found by the parser's selector engine (in C), so
    # the walk below looks a node up only when its tag is one of theirs.
    page_breaks: set[int] = set()  # a page break falls right before these nodes
    break_tags: set[str] = set()
    for element in root.css('[style*="break" i]'):
        style = element.attributes.get("style") or ""
        target = None
        if _BREAK_BEFORE.search(style) or (_BREAK_AFTER.search(style) and element.child is None):
            target = element
        elif _BREAK_AFTER.search(style):
            target = _following(element)
        if target is not None:
            page_breaks.add(target.mem_id)
            break_tags.add(target.tag or "")
    opened: set[int] = set()  # inline elements with a left gap whose first text was seen
    for node in root.traverse(include_text=True):
        tag = node.tag
        if tag in break_tags and node.mem_id in page_breaks:
            builder.page_break()
        if tag != "-text":
            elements += 1
            if elements > limits.max_elements:
                raise FilingTooComplex.over("elements", limits.max_elements)
            if tag == "br":
                builder.line_break()
            elif tag == "hr":
                builder.page_break()
            elif tag is not None and tag.startswith("ix:"):
                name = node.attributes.get("name") or ""
                if name.startswith("dei:") and name[4:] not in dei:
                    dei[name[4:]] = _clean(node.text(deep=True))
            continue
        raw = node.text_content
        if not raw:
            continue
        chars += len(raw)
        if chars > limits.max_text_chars:
            raise FilingTooComplex.over("characters of text", limits.max_text_chars)
        if not raw.strip():
            builder.whitespace(raw)
            continue
        hidden, bits, key, key_tag, row, gaps, _ = _context(node.parent, contexts, limits)
        if hidden:
            continue
        gap = False
        for mem in gaps:
            if mem not in opened:
                opened.add(mem)
                gap = True
        layout = PRE if key_tag == "pre" else LOOSE if key_tag in ("body", "html", "") else FLOW
        if gap:
            builder.whitespace(" ")
        builder.add(
            row or key or 0,
            raw,
            (bool(bits & _BOLD), bool(bits & _ITALIC), bool(bits & _UNDERLINE), bool(bits & _LINK)),
            inner=key,
            row=row is not None,
            layout=layout,
        )
    builder.flush()
    blocks = remove_furniture(builder.blocks, builder.breaks, builder.rows, builder.links)
    return FilingText(blocks, _metadata(dei), True)


_SGML_PAGE = re.compile(r"</?PAGE>", re.IGNORECASE)
_SGML_LAYOUT = re.compile(r"</?(?:TABLE|CAPTION|S|C|FN)>", re.IGNORECASE)
_INLINE_TAG = re.compile(r"<\s*(/?)\s*(b|strong|i|em|u)\s*>", re.IGNORECASE)


def _inline_runs(text: str) -> list[_Run]:
    """Runs of a plain-text document that uses a few inline tags (``<b>Item 1A.</b>``):
    the tags become emphasis, the rest stays text."""
    runs: list[_Run] = []
    depth = {"b": 0, "i": 0, "u": 0}
    position = 0
    for match in _INLINE_TAG.finditer(text):
        if match.start() > position:
            runs.append((text[position : match.start()], depth["b"] > 0, depth["i"] > 0,
                         depth["u"] > 0, False))  # fmt: skip
        name = {"strong": "b", "em": "i"}.get(match.group(2).lower(), match.group(2).lower())
        depth[name] = max(0, depth[name] + (-1 if match.group(1) else 1))
        position = match.end()
    if position < len(text):
        runs.append((text[position:], depth["b"] > 0, depth["i"] > 0, depth["u"] > 0, False))
    return runs


def text_blocks(text: str) -> FilingText:
    """Turn a plain-text document into blocks, unstyled unless it carries inline tags.

    A hard-wrapped document (short lines, blank lines between paragraphs) gives one
    block per paragraph; one that writes a paragraph per line gives one per line. Form
    feeds are page breaks, and the page furniture around them is removed.
    """
    # EDGAR's SGML layout markers, when a text document still carries them: <PAGE> is
    # a page break, the table markers are not text.
    text = _SGML_LAYOUT.sub("", _SGML_PAGE.sub("\f", text))
    builder = _BlockBuilder()
    by_line = builder._preformatted(_inline_runs(text), PLAIN)
    blocks = remove_furniture(
        builder.blocks, builder.breaks, builder.rows, builder.links, mend_lines=by_line
    )
    return FilingText(blocks, DocumentMetadata(), False)


# --- page furniture ------------------------------------------------------------------------

#: A block that is only a page number: "12", "- 12 -", "Page 12", "12.", "(12)".
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[-–—(\[]?\s*\d{1,3}\s*[-–—)\]]?\.?$", re.I)
#: Next to a page break, also "F-12", "A-3", "ii", "Page 12 of 140".
_PAGE_LABEL = re.compile(
    r"^(?:page\s+)?[-–—(\[]?\s*(?:[a-z]{1,2}\s*-\s*)?(?:\d{1,4}|[ivxl]{1,6})\s*[-–—)\]]?\.?"
    r"(?:\s+of\s+\d{1,4})?$",
    re.I,
)
#: Blocks this near a page break (each side) are looked at as furniture.
FURNITURE_WINDOW = 4
#: Longer blocks are never furniture.
MAX_FURNITURE_CHARS = 120
#: A navigation link ("Table of Contents", "Back to index") is at most this long.
MAX_LINK_CHARS = 40
#: Furniture text recurs next to at least this many page breaks (and one in
#: FURNITURE_SHARE of them), once its digits are normalised.
MIN_FURNITURE_REPEATS = 3
FURNITURE_SHARE = 20
_DIGITS = re.compile(r"\d+")
_WORDY = re.compile(r"\w")
#: Item headings are the document's structure, even when a filer repeats one as a running
#: header; sentences are body text ("Not applicable.").
_STRUCTURE = re.compile(r"^(?:part\s+[ivx]+\W{0,3}\s*)?item\s+\d", re.I)
_SENTENCE_END = re.compile(r"(?:^|\s)[a-z][\w'’-]*[.!?][\"”’')]*$")  # "... applicable." not "Inc."
_TERMINAL = re.compile(r"[.!?:;][\"”’')\]]*$")
_BULLET = re.compile(r"^[•·▪◦●○■□‣⁃►➢*o–—-]$")
_CONTINUATION = re.compile(r"^[\"“‘'(\[]?[a-z]")


def _furniture_key(text: str) -> str:
    return _DIGITS.sub("#", text.casefold())


def _signature(block: TextBlock) -> tuple[bool, bool, bool]:
    return (block.bold >= 0.8, block.italic >= 0.8, block.underline >= 0.8)


def _continues(before: TextBlock, after: TextBlock) -> bool:
    """Whether ``after`` carries on the paragraph that a page break cut after ``before``:
    no closing punctuation before the break, a lower-case continuation after it, and the
    same typography on both sides."""
    return (
        _TERMINAL.search(before.text) is None
        and _CONTINUATION.match(after.text) is not None
        and _WORDY.search(before.text) is not None  # not a bullet glyph on its own line
        and _signature(before) == _signature(after)
    )


def _joined(before: TextBlock, after: TextBlock) -> TextBlock:
    hyphenated = len(before.text) > 1 and before.text[-1] == "-" and before.text[-2].isalpha()
    text = before.text + ("" if hyphenated else " ") + after.text
    a, b = len(before.text), len(after.text)

    def share(x: float, y: float) -> float:
        return (x * a + y * b) / (a + b)

    return TextBlock(
        text,
        share(before.bold, after.bold),
        share(before.italic, after.italic),
        share(before.underline, after.underline),
        before.lead,
        before.lead_style,
    )


def remove_furniture(
    blocks: Sequence[TextBlock],
    breaks: set[int] | frozenset[int] = frozenset(),
    rows: Sequence[bool] = (),
    links: Sequence[bool] = (),
    *,
    mend_lines: bool = False,
) -> list[TextBlock]:
    """Drop the page furniture of a document and mend the paragraphs its page breaks cut.

    ``breaks`` holds, for each page break, the index of the first block after it. A
    block that is only a page number (outside a table) is a page break too. Next to a
    break (up to :data:`FURNITURE_WINDOW` blocks each side, walking out from the break
    and stopping at the first block that is not furniture), a short block is furniture
    when it is a page label, an in-document link on its own ("Table of Contents"), or a
    text that recurs next to page breaks throughout the document once digits are
    normalised ("Apple Inc. | 2025 Form 10-K | 18"). Item headings and sentences are
    never furniture. Two blocks that a break (and its furniture) separated are joined
    when the first does not end its sentence and the second continues it in lower case;
    a bullet glyph alone in a block joins the item after it. ``mend_lines`` (a text
    written a paragraph per line, whose extractor dropped the page breaks) joins such
    a cut wherever it falls.
    """
    n = len(blocks)
    rows = rows or [False] * n
    links = links or [False] * n
    gaps = set(breaks)
    numbers = [
        not rows[i] and len(b.text) <= 12 and _PAGE_NUMBER.match(b.text) is not None
        for i, b in enumerate(blocks)
    ]
    for i, is_number in enumerate(numbers):
        if is_number:
            gaps.update((i, i + 1))
    ordered = sorted(g for g in gaps if 0 <= g <= n)
    pages = sum(1 for k, g in enumerate(ordered) if k == 0 or g - ordered[k - 1] > 1)
    repeats = max(MIN_FURNITURE_REPEATS, -(-pages // FURNITURE_SHARE))

    def near(g: int) -> range:
        return range(max(0, g - FURNITURE_WINDOW), min(n, g + FURNITURE_WINDOW))

    seen: dict[str, set[int]] = {}
    for g in ordered:
        for i in near(g):
            text = blocks[i].text
            if len(text) <= MAX_FURNITURE_CHARS and not numbers[i]:
                seen.setdefault(_furniture_key(text), set()).add(i)
    recurring = {key for key, where in seen.items() if len(where) >= repeats}

    def furniture(i: int) -> bool:
        text = blocks[i].text
        if numbers[i]:
            return True
        if len(text) > MAX_FURNITURE_CHARS or _STRUCTURE.match(text) or not _WORDY.search(text):
            return False  # an item heading, a paragraph, or a bullet glyph on its own line
        if _PAGE_LABEL.match(text) and not rows[i]:
            return True
        if links[i] and len(text) <= MAX_LINK_CHARS:
            return True
        return _furniture_key(text) in recurring and _SENTENCE_END.search(text) is None

    drop = [False] * n
    for g in ordered:
        for i in range(g - 1, max(-1, g - 1 - FURNITURE_WINDOW), -1):
            if not furniture(i):
                break
            drop[i] = True
        for i in range(g, min(n, g + FURNITURE_WINDOW)):
            if not furniture(i):
                break
            drop[i] = True

    cut = [False] * (n + 1)  # cut[i]: a page break falls somewhere before block i
    for g in ordered:
        cut[g] = True
    kept: list[TextBlock] = []
    kept_rows: list[bool] = []
    broken = False
    for i, block in enumerate(blocks):
        broken = broken or cut[i] or mend_lines
        if drop[i]:
            continue
        mendable = bool(kept) and not kept_rows[-1] and not rows[i]
        if mendable and broken and _continues(kept[-1], block):
            kept[-1] = _joined(kept[-1], block)
        elif mendable and _BULLET.match(kept[-1].text):
            # A bullet glyph on a line of its own (text extracts write "•\nitem"): the
            # item's first character, not a block or a sentence of its own.
            kept[-1] = TextBlock(
                f"{kept[-1].text} {block.text}", block.bold, block.italic, block.underline
            )
        else:
            kept.append(block)
            kept_rows.append(rows[i])
        broken = False
    return kept


def parse_document(content: bytes, name: str, limits: DocumentLimits = UNLIMITED) -> FilingText:
    """Decode and parse a filing, HTML or plain text, into blocks.

    Raises :class:`FilingParseError` when the bytes are empty, binary or hold no text,
    :class:`FilingTooComplex` when the document goes over ``limits``.
    """
    text, is_html = decode_filing(content, name)
    try:
        if is_html:
            parsed = html_blocks(text, limits)
        elif len(text) > limits.max_text_chars:
            raise FilingTooComplex.over("characters of text", limits.max_text_chars)
        else:
            parsed = text_blocks(text)
    except FilingTooComplex as exc:
        raise exc.of(name) from None
    except (ValueError, RuntimeError) as exc:  # selectolax reports broken input this way
        raise FilingParseError(f"the document could not be parsed: {exc}", filing=name) from exc
    if not parsed.blocks:
        raise FilingParseError("the document contains no readable text", filing=name)
    return parsed
