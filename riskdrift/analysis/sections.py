"""Finding Item 1A (Risk Factors) in a parsed filing, in whichever layout the filer chose.

A 10-K names Item 1A three ways: in the table of contents, in cross-references
("see Item 1A. Risk Factors") and once as the heading of the section itself.
The strategies, tried in order (``Item1A.located_by`` records which one won):

``item_heading`` / ``plain_text``
    Only a short block that *starts* with "Item 1A" counts as a heading; of
    those, the one whose section — up to the next item heading (1B, 1C, 2,
    ...) — is the longest is the body's heading: a table-of-contents row is
    followed within a line or two by the row of Item 1B. ``plain_text`` is the
    same rule on a plain-text (pre-HTML) document.
``item1a_extract``
    A document that holds Item 1A alone and opens with "Risk Factors".
``section_title`` / ``cross_reference_index``
    "Annual report" 10-Ks title their sections without item numbers
    ("RISK FACTORS." as a heading block or a bold lead-in) and map the items
    to them in a Form 10-K cross-reference index at the back. When no
    item-numbered body section exists, the titled section is found: a
    heading-like "Risk Factors" block outside the table of contents, followed
    by a long body, ending at the next heading of the same style whose title
    is one of the document's own section titles (its table of contents) or a
    standard 10-K item title. Its sub-headings ("STRATEGIC RISKS.") look the
    same but are in neither list. ``cross_reference_index`` means the index
    maps Item 1A to the title that was found. The title is read from every
    "Item 1A" row of the contents and the index: the filer's own title in a
    column of its own ("Item 1A. Risk Factors | Principal Risks | 27-36"), a
    quoted one, or the standard "Risk Factors"; a block that is nothing but
    that title is the heading even when only its size or colour sets it off,
    and its section then ends at a block that is nothing but a section title.

``risk_factors_heading``
    Before fiscal 2005 Form 10-K had no Item 1A; filers that listed risks did so
    under a "RISK FACTORS" (or "Factors That May Affect Future Results")
    heading inside another item, most often Item 7 (MD&A) or Item 1. When the
    document has item headings but none for 1A, such a heading inside an item
    opens the section, and the next heading of the *same level* closes it: the
    same emphasis, the same capitals pattern and the same final punctuation
    ("RISK FACTORS" … "CRITICAL ACCOUNTING POLICIES"), or the next item heading.
    Sub-headings that name a group of risks ("RISKS RELATED TO OUR BUSINESS")
    do not close it. When nothing marks the heading's level (an unstyled
    "Risk factors" line) or the section closes before it holds any risks,
    :class:`~riskdrift.errors.Item1AEndNotFound` says so rather than running on
    to the end of the item. The section carries a warning that the filing
    predates Item 1A.

Before a short item-numbered section is given up as a table-of-contents entry,
its words are read: "Not applicable" / "not required for smaller reporting
companies" raises :class:`~riskdrift.errors.Item1AOmitted`; a pointer to the
Annual Report to Shareholders raises
:class:`~riskdrift.errors.Item1AIncorporatedByReference`, naming the section
and the exhibit (EX-13) that hold the risks (:func:`incorporation_target`).

Pure: blocks in, :class:`Item1A` out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from riskdrift.analysis.document import (
    UNLIMITED,
    DocumentLimits,
    DocumentMetadata,
    FilingText,
    TextBlock,
    parse_document,
)
from riskdrift.errors import (
    Item1AEndNotFound,
    Item1AIncorporatedByReference,
    Item1ANotFound,
    Item1AOmitted,
)

__all__ = [
    "ITEM_HEADING",
    "LOCATED_BY",
    "Item1A",
    "extract_item1a",
    "find_item1a",
    "incorporation_target",
    "item_label",
]

#: The values of :attr:`Item1A.located_by` (module docstring).
LOCATED_BY = (
    "item_heading",
    "section_title",
    "cross_reference_index",
    "plain_text",
    "item1a_extract",
    "risk_factors_heading",
)

#: A block that starts with an item heading: "Item 1A.", "PART I, ITEM 2 —", "Item 1A Risk Factors".
ITEM_HEADING = re.compile(
    r"^(?:part\s+i{1,3}\s*[,.:\-–—]?\s*)?item\s*(\d{1,2}\s*[a-d]?)(?![\w])\s*[.:\-–—]?\s*(.*)$",
    re.IGNORECASE,
)
RISK_FACTORS = re.compile(r"^[\"“”']?\s*risk\s+factors\b", re.IGNORECASE)
#: Longer blocks are prose that happens to start with "Item ...", not a heading.
MAX_HEADING_CHARS = 160

#: A titled section's heading: "Risk Factors", "RISK FACTORS.", "Risk Factors:" and nothing else.
_TITLE_ONLY = re.compile(r"^risk\s+factors\s*[.:\-–—]?$", re.IGNORECASE)
#: A titled section shorter than this is a stub or a cross-reference, not the risk factors.
MIN_TITLED_CHARS = 2_000
#: An item-numbered section this short is read for "not applicable" or a pointer elsewhere.
MAX_POINTER_CHARS = 1_500
#: Words that risk factor prose cannot do without; a titled section must use them.
_RISK_WORDS = re.compile(r"\b(?:risks?|adversely|could|may)\b", re.IGNORECASE)
MIN_RISK_WORDS = 20

_OMITTED = re.compile(
    r"\bnot\s+applicable\b|\bnot\s+required\b|\bomitted\b|\bsmaller\s+reporting\s+compan",
    re.IGNORECASE,
)
_INCORPORATED = re.compile(r"\bincorporated\b[^.]{0,80}\bby\s+reference\b", re.IGNORECASE)
_ANNUAL_REPORT = re.compile(
    r"\bannual\s+report\s+to\s+(?:share|stock)holders\b|\bexhibit\s+13\b|\bex-13\b", re.IGNORECASE
)
_EXHIBIT = re.compile(r"\b(?:exhibit|ex-)\s*(13(?:\.\d+)?)\b", re.IGNORECASE)
_QUOTED = re.compile(r"[\"“]([^\"“”]{3,120}?)[.,]?[\"”]")

#: The titles Form 10-K gives its items: an annual-report layout ends its Risk Factors at
#: whichever of these (or of its own table-of-contents titles) comes next.
ITEM_TITLES = (
    "business",
    "unresolved staff comments",
    "cybersecurity",
    "properties",
    "legal proceedings",
    "mine safety disclosures",
    "market for registrant's common equity",
    "market for the registrant's common equity",
    "selected financial data",
    "management's discussion and analysis",
    "quantitative and qualitative disclosures about market risk",
    "financial statements and supplementary data",
    "changes in and disagreements with accountants",
    "controls and procedures",
    "other information",
    "directors, executive officers and corporate governance",
    "executive compensation",
    "exhibits and financial statement schedules",
    "forward-looking statements",
    "signatures",
)
#: A table-of-contents row: a title followed by a page number (or a page range).
_TOC_ROW = re.compile(r"^(.{3,120}?)\s+(\d{1,3}(?:\s*[-–]\s*\d{1,3})?(?:\s*,\s*\d{1,3})*)$")
_PAGE_RANGE = r"\d{1,3}(?:\s*[-–]\s*\d{1,3})?"
_PAGES = re.compile(rf"[\s,]*{_PAGE_RANGE}(?:\s*,\s*{_PAGE_RANGE})*$")
_TITLE_END = re.compile(r"[\s.:\-–—]+$")
MAX_TITLE_CHARS = 100
_DASHED = re.compile(r"\s[-–—]\s")
_PAGE_WORD = re.compile(r"\s*\bpages?(?:\s*\(s\))?\s*$", re.IGNORECASE)
_ITEM_NAME = re.compile(r"^risk\s+factors\b[\s.:\-–—|]*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Item1A:
    """The Risk Factors section: its body blocks and where it sat in the filing."""

    blocks: list[TextBlock]
    heading: str
    ended_by: str | None  # the heading that closed the section, None at end of document
    start: int  # index of the heading block in the document
    end: int  # index of the closing heading block (or the number of blocks)
    metadata: DocumentMetadata
    located_by: str = "item_heading"  # one of LOCATED_BY (ExtractionRecord.strategy)
    is_html: bool = True
    warnings: tuple[str, ...] = ()  # what makes the location less certain (ExtractionRecord)

    @property
    def text(self) -> str:
        """The section's body as plain text, one block per line."""
        return "\n".join(b.text for b in self.blocks)


def item_label(block: TextBlock) -> str | None:
    """The item a heading block opens ("1a", "2", ...), or ``None`` if it is not one."""
    if len(block.text) > MAX_HEADING_CHARS:
        return None
    match = ITEM_HEADING.match(block.text)
    if match is None:
        return None
    rest = match.group(2)
    # "Item 7 of this report discusses ..." is a sentence, not a heading.
    if rest and rest[0].islower() and not RISK_FACTORS.match(rest):
        return None
    return match.group(1).replace(" ", "").lower()


# --- pointers: omitted or incorporated by reference ------------------------------------------


@dataclass(frozen=True, slots=True)
class IncorporationTarget:
    """Where an incorporated Item 1A says its risks are."""

    exhibit: str  # "EX-13"
    section: str  # "Financial Review – Risk Factors"


def incorporation_target(text: str) -> IncorporationTarget | None:
    """Where a short Item 1A text points, if it incorporates the risks by reference from the
    Annual Report to Shareholders (Exhibit 13); ``None`` if it does not."""
    if not (_INCORPORATED.search(text) and _ANNUAL_REPORT.search(text)):
        return None
    exhibit = _EXHIBIT.search(text)
    quoted = [q.strip() for q in _QUOTED.findall(text) if "risk" in q.lower()]
    return IncorporationTarget(
        exhibit=f"EX-{exhibit.group(1)}" if exhibit else "EX-13",
        section=quoted[0] if quoted else "Risk Factors",
    )


def _check_pointer(heading: str, body: str, name: str) -> None:
    """Raise when a short Item 1A omits the risks or points to another document."""
    after_title = RISK_FACTORS.sub("", ITEM_HEADING.sub(r"\2", heading)).strip(" .:-–—")
    words = f"{after_title} {body}"
    target = incorporation_target(words)
    if target is not None:
        raise Item1AIncorporatedByReference(
            f"Item 1A is incorporated by reference from the '{target.section}' section of the "
            f"Annual Report to Shareholders (Exhibit 13, {target.exhibit}); the risks are not in "
            f"this document: analyse the {target.exhibit} document of the same filing",
            filing=name,
            exhibit=target.exhibit,
            section=target.section,
        )
    if _OMITTED.search(words):
        raise Item1AOmitted(
            "the filer omitted Item 1A risk factors (it says "
            f"{_excerpt(words)!r}), as a smaller reporting company may",
            filing=name,
        )


def _excerpt(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


# --- titled sections ("annual report" layout) ------------------------------------------------


def _normalise_title(text: str) -> str:
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"\s+", " ", text)
    return _TITLE_END.sub("", text).strip()


def _heading_title(block: TextBlock) -> str | None:
    """The title a block opens with if it reads as a heading: a short emphasised or
    upper-case block of its own, or an emphasised lead-in (``<b>RISK FACTORS.</b> The ...``)."""
    text = block.text
    if len(text) <= MAX_TITLE_CHARS and (
        block.emphasised > 0.5 or block.underline > 0.5 or text.isupper()
    ):
        return text
    lead = block.lead
    if lead and len(lead) <= MAX_TITLE_CHARS and lead != text:
        return lead
    return None


def _toc_titles(blocks: Sequence[TextBlock], before: int) -> set[str]:
    """Section titles named by table-of-contents rows ("Legal Proceedings 36") before ``before``."""
    titles: set[str] = set()
    for block in blocks[:before]:
        if len(block.text) > MAX_HEADING_CHARS:
            continue
        match = _TOC_ROW.match(block.text)
        if match is not None:
            title = _normalise_title(ITEM_HEADING.sub(r"\2", match.group(1)))
            if title and not _TITLE_ONLY.match(title):
                titles.add(title)
    return titles


def _is_section_title(title: str, known: set[str]) -> bool:
    """Whether a heading names a section: one of the document's own titles, or a Form 10-K
    item title. Short item titles must match whole ("Business", not "Business portfolio -
    Our success depends ..."); long ones may run on ("Management's discussion and analysis
    of financial condition ..."), unless a dash turns the rest into a risk's sentence."""
    norm = _normalise_title(title)
    if norm in known or norm in ITEM_TITLES:
        return True
    if _DASHED.search(norm):
        return False
    return any(norm.startswith(t) and len(t.split()) >= 3 for t in ITEM_TITLES)


def _index_titles(blocks: Sequence[TextBlock], labels: Sequence[str | None]) -> list[str]:
    """The section titles that table-of-contents and Form 10-K cross-reference index rows
    map Item 1A to ("Item 1A. Risk Factors 27-36" → "Risk Factors"; "Item 1A. Risk Factors
    | Principal Risks | 27-36" → "Principal Risks"; "Item 1A. Risk Factors | See “Risk
    Management”" → "Risk Management"), in document order; empty without such rows."""
    titles: list[str] = []
    for block, label in zip(blocks, labels, strict=True):
        if label != "1a":
            continue
        rest = ITEM_HEADING.sub(r"\2", block.text)
        quoted = [str(q).strip() for q in _QUOTED.findall(rest)]
        if quoted:
            titles += quoted
        elif _PAGES.search(rest):
            title = _PAGE_WORD.sub("", _PAGES.sub("", rest)).strip()
            # The item's own name, then the filer's title for the section, if it has one.
            named = _ITEM_NAME.sub("", title).strip()
            titles.append(named or title)
    return [t for t in titles if t]


def _titled_section(parsed: FilingText, labels: Sequence[str | None], name: str) -> Item1A | None:
    """The "Risk Factors" section of a layout without item numbers, or ``None``."""
    blocks = parsed.blocks
    index_titles = _index_titles(blocks, labels)
    wanted = {"risk factors", *(_normalise_title(t) for t in index_titles)}
    starts = [
        i
        for i, block in enumerate(blocks)
        if labels[i] is None
        and (
            (
                (title := _heading_title(block)) is not None
                and (_TITLE_ONLY.match(title) or _normalise_title(title) in wanted)
            )
            # Headings set off by size or colour alone (which the blocks do not record):
            # a block that is nothing but the title the index names.
            or (bool(index_titles) and _normalise_title(block.text) in wanted)
        )
    ]
    best: Item1A | None = None
    best_chars = 0
    for start in starts:
        known = _toc_titles(blocks, start)
        first = blocks[start]
        unmarked = _heading_title(first) is None
        lead_only = not unmarked and _heading_title(first) != first.text  # "RISK FACTORS. The …"
        end = len(blocks)
        for j in range(start + 1, len(blocks)):
            if labels[j] is not None:
                end = j
                break
            title = _heading_title(blocks[j])
            if title is None and unmarked:
                # Its sections' headings are unmarked too: a block that is a section's title.
                norm = _normalise_title(blocks[j].text)
                title = blocks[j].text if norm in known or norm in ITEM_TITLES else None
            if title is not None and _is_section_title(title, known):
                end = j
                break
        body = list(blocks[start + 1 : end])
        heading = first.text
        if lead_only:
            heading = first.lead
            rest = first.text[len(first.lead) :].strip()
            body.insert(0, TextBlock(rest, 0.0, 0.0, 0.0, ""))
        text = "\n".join(b.text for b in body)
        if len(text) < MIN_TITLED_CHARS or len(_RISK_WORDS.findall(text)) < MIN_RISK_WORDS:
            continue
        if len(text) > best_chars:
            best_chars = len(text)
            confirmed = bool(index_titles) and _normalise_title(heading) in wanted
            best = Item1A(
                blocks=body,
                heading=heading,
                ended_by=blocks[end].text if end < len(blocks) else None,
                start=start,
                end=end,
                metadata=parsed.metadata,
                located_by="cross_reference_index" if confirmed else "section_title",
            )
    return best


# --- before Item 1A: a "Risk Factors" heading inside another item ------------------------------

#: The headings pre-2005 filers gave their risk factors inside another item.
_SUBSECTION_TITLE = re.compile(
    r"^(?:(?:certain|important|additional|other)\s+)?"
    r"(?:(?:cautionary|forward[-\s]looking)\s+statements?\s+and\s+)?"
    r"(?:risk\s+factors(?:\s+and\s+(?:cautionary|forward[-\s]looking)\s+statements?)?"
    r"|(?:risk\s+)?factors\s+that\s+(?:may|could|might)\s+affect\b[^.]{0,60})\s*[.:\-–—]?$",
    re.IGNORECASE,
)
#: A heading that names risks ("RISKS RELATED TO OUR BUSINESS") groups the risk factors.
_NAMES_RISKS = re.compile(r"\brisks?\b", re.IGNORECASE)
#: (bold, italic, underline, all capitals, ends with a full stop): what makes two headings
#: the same level.
Level = tuple[bool, bool, bool, bool, bool]


def _level(block: TextBlock, title: str) -> Level:
    if title == block.text:
        style = (block.bold > 0.5, block.italic > 0.5, block.underline > 0.5)
    else:  # a lead-in ("RISK FACTORS. The following …")
        style = block.lead_style
    letters = [c for c in title if c.isalpha()]
    caps = bool(letters) and all(c.isupper() for c in letters)
    return (*style, caps, title.rstrip().endswith("."))


def _same_level(block: TextBlock, level: Level, known: set[str]) -> bool:
    """Whether a block is a section heading of the given level (not a group of risks)."""
    title = _heading_title(block)
    return (
        title is not None
        and len(title) <= MAX_TITLE_CHARS
        and _level(block, title) == level
        and (not _NAMES_RISKS.search(title) or _is_section_title(title, known))
    )


def _enclosing_item(
    blocks: Sequence[TextBlock], labels: Sequence[str | None], index: int
) -> int | None:
    """The index of the item heading a block sits under, or ``None`` before any item."""
    return next((k for k in range(index - 1, -1, -1) if labels[k] is not None), None)


def _risk_factors_subsection(
    parsed: FilingText, labels: Sequence[str | None], name: str
) -> Item1A | None:
    """The risk factors of a filing from before Item 1A existed (module docstring), ``None``
    when no "Risk Factors" heading sits inside an item; raises :class:`Item1AEndNotFound`
    when one does but its end cannot be told."""
    blocks = parsed.blocks
    starts = [
        (i, title, item)
        for i, block in enumerate(blocks)
        if labels[i] is None
        # A line that is nothing but the title is a heading, styled or not.
        and (title := _heading_title(block) or block.text) is not None
        and _SUBSECTION_TITLE.match(title)
        and (item := _enclosing_item(blocks, labels, i)) is not None
    ]
    best: Item1A | None = None
    doubts: list[str] = []
    for start, title, item in starts:
        level = _level(blocks[start], title)
        item_text = _excerpt(blocks[item].text, 80)
        if not any(level[:4]):
            doubts.append(
                f"the {title!r} heading inside {item_text!r} is neither bold, italic, underlined "
                "nor in capitals, so no heading of its level can end it"
            )
            continue
        known = _toc_titles(blocks, start)
        end = len(blocks)
        by_level = False  # closed by a heading of its level, not by the next item
        for j in range(start + 1, len(blocks)):
            if labels[j] is not None:
                end = j
                break
            if _same_level(blocks[j], level, known):
                end, by_level = j, True
                break
        first = blocks[start]
        body = list(blocks[start + 1 : end])
        if title != first.text:  # a lead-in: the rest of its paragraph is the section's
            body.insert(0, TextBlock(first.text[len(title) :].strip()))
        text = "\n".join(b.text for b in body)
        ended_by = blocks[end].text if end < len(blocks) else None
        if len(text) < MIN_TITLED_CHARS or len(_RISK_WORDS.findall(text)) < MIN_RISK_WORDS:
            doubts.append(
                f"the {title!r} heading inside {item_text!r} is followed after only "
                f"{len(text):,} characters by {_excerpt(ended_by or 'the end', 80)!r}, a heading "
                "of the same style: the section is a stub, or its risk headings look like "
                "the item's own headings"
            )
            continue
        if best is None or len(text) > len(best.text):
            warning = (
                "the filing has no Item 1A (Form 10-K requires it from fiscal years ending on "
                "or after 1 December 2005); its risk factors were taken from the "
                f"{title!r} heading inside {item_text!r}"
                + (f", up to {_excerpt(ended_by, 80)!r}" if ended_by else "")
            )
            if not by_level and not any(
                _same_level(blocks[k], level, known) for k in range(item + 1, start)
            ):
                # Nothing in the item shares the heading's style: the section may end
                # earlier, at a heading in another style.
                warning += (
                    "; no other heading of the item shares its style, so it was taken to run "
                    "to the end of the item"
                )
            best = Item1A(
                blocks=body,
                heading=title,
                ended_by=ended_by,
                start=start,
                end=end,
                metadata=parsed.metadata,
                located_by="risk_factors_heading",
                is_html=parsed.is_html,
                warnings=(warning,),
            )
    if best is None and doubts:
        raise Item1AEndNotFound(
            "the filing has no Item 1A and where its risk factors end cannot be told: "
            + "; ".join(doubts),
            filing=name,
        )
    return best


# --- the entry points ----------------------------------------------------------------------


def find_item1a(parsed: FilingText, name: str) -> Item1A:
    """Locate Item 1A among a document's blocks (strategies in the module docstring).

    Raises :class:`Item1ANotFound` when the document has no Item 1A heading, or
    only table-of-contents entries of it; :class:`Item1AOmitted` and
    :class:`Item1AIncorporatedByReference` (both ``Item1ANotFound``) when the
    section says the risks are omitted or elsewhere; :class:`Item1AEndNotFound`
    when a filing from before Item 1A has a "Risk Factors" heading whose end
    cannot be told.
    """
    blocks = parsed.blocks
    labels = [item_label(b) for b in blocks]
    starts = [i for i, label in enumerate(labels) if label == "1a"]
    if not starts:
        # Item 1A-only extracts and some old filings open with "Risk Factors" alone.
        starts = [i for i, b in enumerate(blocks[:3]) if RISK_FACTORS.match(b.text)]
        if starts:
            return _item_section(parsed, labels, starts, name, extract=True)
        inside = _risk_factors_subsection(parsed, labels, name)
        if inside is not None:
            return inside
        titled = _titled_section(parsed, labels, name) if parsed.is_html else None
        if titled is not None:
            return titled
        raise Item1ANotFound("the filing has no Item 1A (Risk Factors) section", filing=name)
    return _item_section(parsed, labels, starts, name, extract=False)


def _item_section(
    parsed: FilingText,
    labels: Sequence[str | None],
    starts: Sequence[int],
    name: str,
    *,
    extract: bool,
) -> Item1A:
    blocks = parsed.blocks
    best: tuple[int, int, int, bool] | None = None  # (chars, start, end, closed)
    short: list[tuple[str, str]] = []  # (heading, body) of every short candidate
    for start in starts:
        end = next(
            (j for j in range(start + 1, len(blocks)) if labels[j] not in (None, "1a")),
            len(blocks),
        )
        closed = end < len(blocks)
        chars = sum(len(b.text) for b in blocks[start + 1 : end])
        if chars <= MAX_POINTER_CHARS:
            short.append((blocks[start].text, " ".join(b.text for b in blocks[start + 1 : end])))
        key = (closed or not parsed.is_html, chars)
        if best is None or key > (best[3] or not parsed.is_html, best[0]):
            best = (chars, start, end, closed)
    assert best is not None
    chars, start, end, closed = best
    if chars <= MAX_POINTER_CHARS and not extract:
        # No long Item 1A: the section may say the risks are omitted or elsewhere, or the
        # filing may title its sections without item numbers.
        for heading_text, body_text in short:
            _check_pointer(heading_text, body_text, name)
        titled = _titled_section(parsed, labels, name) if parsed.is_html else None
        if titled is not None:
            return titled
    body_start = start + 1
    heading = blocks[start].text
    if (
        body_start < end
        and RISK_FACTORS.match(blocks[body_start].text)
        and len(blocks[body_start].text) < 40
    ):
        heading = f"{heading} {blocks[body_start].text}"
        body_start += 1
    body = blocks[body_start:end]
    if sum(len(b.text) for b in body) < 40 and parsed.is_html:
        raise Item1ANotFound(
            "Item 1A appears only in the table of contents; the section itself is missing",
            filing=name,
        )
    located_by = "item_heading" if parsed.is_html else "plain_text"
    if extract:
        located_by = "item1a_extract"
    return Item1A(
        blocks=body,
        heading=heading,
        ended_by=blocks[end].text if closed else None,
        start=start,
        end=end,
        metadata=parsed.metadata,
        located_by=located_by,
        is_html=parsed.is_html,
    )


def extract_item1a(content: bytes, name: str, limits: DocumentLimits = UNLIMITED) -> Item1A:
    """Parse a filing (HTML, inline XBRL or plain text) and return its Item 1A.

    Raises :class:`~riskdrift.errors.FilingParseError` for unreadable documents
    and :class:`~riskdrift.errors.Item1ANotFound` when there is no Item 1A.
    """
    return find_item1a(parse_document(content, name, limits), name)
