"""Finding Item 1A (Risk Factors) in a parsed filing.

A 10-K names Item 1A three ways: in the table of contents, in cross-references
("see Item 1A. Risk Factors") and once as the heading of the section itself.
Only a short block that *starts* with "Item 1A" counts as a heading; of those,
the one whose section — up to the next item heading (1B, 1C, 2, ...) — is the
longest is the body's heading: a table-of-contents row is followed within a
line or two by the row of Item 1B.

Pure: blocks in, :class:`Item1A` out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from riskdrift.analysis.document import DocumentMetadata, FilingText, TextBlock, parse_document
from riskdrift.errors import Item1ANotFound

__all__ = ["ITEM_HEADING", "Item1A", "extract_item1a", "find_item1a", "item_label"]

#: A block that starts with an item heading: "Item 1A.", "PART I, ITEM 2 —", "Item 1A Risk Factors".
ITEM_HEADING = re.compile(
    r"^(?:part\s+i{1,3}\s*[,.:\-–—]?\s*)?item\s*(\d{1,2}\s*[a-d]?)(?![\w])\s*[.:\-–—]?\s*(.*)$",
    re.IGNORECASE,
)
RISK_FACTORS = re.compile(r"^[\"“”']?\s*risk\s+factors\b", re.IGNORECASE)
#: Longer blocks are prose that happens to start with "Item ...", not a heading.
MAX_HEADING_CHARS = 160


@dataclass(frozen=True, slots=True)
class Item1A:
    """The Risk Factors section: its body blocks and where it sat in the filing."""

    blocks: list[TextBlock]
    heading: str
    ended_by: str | None  # the heading that closed the section, None at end of document
    start: int  # index of the heading block in the document
    end: int  # index of the closing heading block (or the number of blocks)
    metadata: DocumentMetadata
    located_by: str = "item_heading"  # how the section was found (ExtractionRecord.strategy)
    is_html: bool = True

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


def find_item1a(parsed: FilingText, name: str) -> Item1A:
    """Locate Item 1A among a document's blocks.

    Raises :class:`Item1ANotFound` when the document has no Item 1A heading, or
    only table-of-contents entries of it.
    """
    blocks = parsed.blocks
    labels = [item_label(b) for b in blocks]
    starts = [i for i, label in enumerate(labels) if label == "1a"]
    if not starts:
        # Item 1A-only extracts and some old filings open with "Risk Factors" alone.
        starts = [i for i, b in enumerate(blocks[:3]) if RISK_FACTORS.match(b.text)]
        if not starts:
            raise Item1ANotFound("the filing has no Item 1A (Risk Factors) section", filing=name)
    best: tuple[int, int, int, bool] | None = None  # (chars, start, end, closed)
    for start in starts:
        end = next(
            (j for j in range(start + 1, len(blocks)) if labels[j] not in (None, "1a")),
            len(blocks),
        )
        closed = end < len(blocks)
        chars = sum(len(b.text) for b in blocks[start + 1 : end])
        key = (closed or not parsed.is_html, chars)
        if best is None or key > (best[3] or not parsed.is_html, best[0]):
            best = (chars, start, end, closed)
    assert best is not None
    chars, start, end, closed = best
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
    return Item1A(
        blocks=body,
        heading=heading,
        ended_by=blocks[end].text if closed else None,
        start=start,
        end=end,
        metadata=parsed.metadata,
        is_html=parsed.is_html,
    )


def extract_item1a(content: bytes, name: str) -> Item1A:
    """Parse a filing (HTML, inline XBRL or plain text) and return its Item 1A.

    Raises :class:`~riskdrift.errors.FilingParseError` for unreadable documents
    and :class:`~riskdrift.errors.Item1ANotFound` when there is no Item 1A.
    """
    return find_item1a(parse_document(content, name), name)
