"""A filing as a flat list of text blocks: the shape every later analysis step reads.

A 10-K primary document is inline-XBRL HTML (or, for old filings, plain text).
Both become a list of :class:`TextBlock` — one per paragraph, heading or table
row — carrying how much of the block is bold, italic or underlined, because risk
factor headings are told apart from body text by their styling, not by tags.

Table rows become one block each, so a heading split across cells
("Item 1A." | "Risk Factors") reads as one line. Hidden content (the
``ix:header`` with its XBRL contexts) is skipped, but its ``dei:`` tags are
read into :class:`DocumentMetadata`.

Pure: bytes in, dataclasses out; no I/O.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from dataclasses import dataclass, field

import numpy as np
from selectolax.lexbor import LexborHTMLParser, LexborNode

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
_SPACE = re.compile(r"\s+")
_HTML_SNIFF = re.compile(rb"<\s*(?:html|body|div|p|table|span|font|br|xbrl)\b", re.IGNORECASE)

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
    return _SPACE.sub(" ", text.replace("\xa0", " ").replace("\u200b", "")).strip()


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


class _BlockBuilder:
    """Accumulates styled runs of text until the block they belong to changes."""

    def __init__(self) -> None:
        self.blocks: list[TextBlock] = []
        self._key: int | None = None
        self._runs: list[tuple[str, bool, bool, bool]] = []

    def add(self, key: int, text: str, bold: bool, italic: bool, underline: bool) -> None:
        if key != self._key:
            self.flush()
            self._key = key
        self._runs.append((text, bold, italic, underline))

    def flush(self) -> None:
        runs, self._runs = self._runs, []
        if not runs:
            return
        text = _clean(" ".join(r[0] for r in runs))
        if not text:
            return
        total = bold = italic = underline = 0
        for chunk, is_bold, is_italic, is_under in runs:
            n = len(chunk) - chunk.count(" ")
            total += n
            bold += n if is_bold else 0
            italic += n if is_italic else 0
            underline += n if is_under else 0
        lead_parts: list[str] = []
        lead_style = [True, True, True]
        for chunk, *flags in runs:
            if not chunk.strip():
                lead_parts.append(chunk)
            elif any(flags):
                lead_parts.append(chunk)
                lead_style = [a and b for a, b in zip(lead_style, flags, strict=True)]
            else:
                break
        lead = _clean(" ".join(lead_parts))
        style = (lead_style[0], lead_style[1], lead_style[2]) if lead else (False, False, False)
        total = max(total, 1)
        self.blocks.append(
            TextBlock(text, bold / total, italic / total, underline / total, lead, style)
        )


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


@dataclass(frozen=True, slots=True)
class _Context:
    """What a text node directly inside an element inherits from it and its ancestors:
    the result of walking up from the element until a block boundary (``table``,
    ``tr``, ``body``, ``html``) or something hidden."""

    hidden: bool
    style: tuple[bool, bool, bool]  # bold, italic, underline
    key: int | None  # the nearest block element (mem_id)
    row: int | None  # the table row, when the walk reached one
    depth: int  # the element's nesting depth from the document's root


_ROOT = _Context(False, (False, False, False), None, None, 0)


def _context(
    element: LexborNode | None,
    contexts: dict[int, _Context],
    styles: dict[int, tuple[bool, bool, bool, bool]],
    limits: DocumentLimits,
) -> _Context:
    """The context of ``element``, from its parent's (memoised by ``mem_id``).

    Walking up to ``<body>`` again for every text node was quadratic in the nesting
    depth (100,000 nested ``<div>``s with text: depth 8k took 12 s, 16k 50 s); each
    element's context is computed once here, from its parent's, which gives the same
    answer as that walk, so the work is linear.
    """
    chain: list[LexborNode] = []
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
    for node in reversed(chain):
        above = _step(node, above, styles)
        if above.depth > limits.max_depth:
            raise FilingTooComplex.over("nesting depth", limits.max_depth)
        contexts[node.mem_id] = above
    return above


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


def _step(
    node: LexborNode, above: _Context, styles: dict[int, tuple[bool, bool, bool, bool]]
) -> _Context:
    """The context of ``node`` given its parent's: one step of the old upward walk."""
    tag = node.tag or ""
    mem = node.mem_id
    depth = above.depth + 1
    if tag in SKIP_TAGS:
        return _Context(True, (False, False, False), None, None, depth)
    flags = styles.get(mem)
    if flags is None:
        flags = _own_style(tag, node.attributes.get("style") or "")
        styles[mem] = flags
    if flags[0]:
        return _Context(True, (False, False, False), None, None, depth)
    if tag == "tr":  # the walk stopped at the row
        return _Context(False, flags[1:], mem, mem, depth)
    if tag in ("table", "body", "html"):  # ... or at the table, or the body
        return _Context(False, flags[1:], mem, None, depth)
    if above.hidden:
        return _Context(True, (False, False, False), None, None, depth)
    style = (flags[1] or above.style[0], flags[2] or above.style[1], flags[3] or above.style[2])
    key = mem if tag in BLOCK_TAGS else above.key
    return _Context(False, style, key, above.row, depth)


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


def html_blocks(html: str, limits: DocumentLimits = UNLIMITED) -> FilingText:
    """Turn an HTML (or inline-XBRL) document into blocks and ``dei:`` metadata.

    Linear in the size of the tree however deep it nests: each element's context is
    worked out once (:func:`_context`). Raises :class:`FilingTooComplex` as soon as
    the document goes over one of ``limits``.
    """
    _check_markup(html, limits)
    tree = LexborHTMLParser(html)
    root = tree.body if tree.body is not None else tree.root
    builder = _BlockBuilder()
    dei: dict[str, str] = {}
    styles: dict[int, tuple[bool, bool, bool, bool]] = {}
    contexts: dict[int, _Context] = {}
    elements = chars = 0
    if root is None:
        return FilingText([], DocumentMetadata(), True)
    for node in root.traverse(include_text=True):
        tag = node.tag
        if tag != "-text":
            elements += 1
            if elements > limits.max_elements:
                raise FilingTooComplex.over("elements", limits.max_elements)
            if tag is not None and tag.startswith("ix:"):
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
            continue
        context = _context(node.parent, contexts, styles, limits)
        if context.hidden:
            continue
        builder.add(context.row or context.key or 0, raw, *context.style)
    builder.flush()
    return FilingText(builder.blocks, _metadata(dei), True)


def text_blocks(text: str) -> FilingText:
    """Turn a plain-text document into blocks: one per non-empty line, unstyled."""
    blocks = [TextBlock(line) for raw in text.splitlines() if (line := _clean(raw))]
    return FilingText(blocks, DocumentMetadata(), False)


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
