"""Splitting Item 1A into individual risk factors.

Filers set each risk factor off with an emphasised heading sentence — a bold,
italic or bold-italic paragraph (Apple, Tesla, NVIDIA, Meta) or a bold/italic
lead-in at the start of the paragraph (IBM: ``<i>Title:</i> body``) — and group
them under their own category headings ("Risks Related to Our Business").

The rules, in order:

* page furniture ("Table of Contents", page numbers) is dropped;
* the *risk heading style* is the most common style signature (bold, italic,
  underline) among emphasised blocks of heading length; blocks in that style
  are risk headings;
* a short emphasised or underlined block without closing punctuation is a
  category heading when its style differs from the risk style, or — when
  filers use one style for both — when its text reads like one ("... Risks",
  "Risks Related to ...", all capitals);
* a "Summary of Risk Factors" and its bullets are skipped up to the first
  category heading it repeats, a "Risk Factors" restart, or a heading sentence;
* when most headings are lead-ins, a lead-in ending in ``:`` or ``.`` opens a risk;
* plain text (no styles) uses a line heuristic: a short single-sentence line
  with risk language, followed by a longer paragraph.

Pure: :class:`~riskdrift.analysis.sections.Item1A` in, :class:`RiskFactor` list out.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from riskdrift.analysis.document import TextBlock

__all__ = ["RiskFactor", "segment_blocks"]

MIN_TITLE_CHARS = 20
MAX_TITLE_CHARS = 650
MAX_CATEGORY_CHARS = 120
#: Share of a block's characters in a style above which the block "is" that style.
FULL_STYLE = 0.8

_FURNITURE = re.compile(
    r"^(?:table of contents|index|page \d+|\d{1,3}|[ivx]{1,5}|-\s*\d+\s*-)$", re.I
)
_SUMMARY = re.compile(r"^(?:summary\s+(?:of\s+)?risk\s+factors?|risk\s+factors?\s+summary)\b", re.I)
_RISK_FACTORS_RESTART = re.compile(r"^risk factors\.?$", re.I)
_CATEGORY_TEXT = re.compile(
    r"^(?:risks?\b|general\b.*\brisks?$)|\brisks$|\brisks\s+(?:related|relating|associated|"
    r"regarding|concerning|specific|pertaining)\b|\brisk factors\b",
    re.I,
)
_PERSONAL = re.compile(r"^(?:we|our|the company|if|any|there)\b", re.I)
_RISK_LANGUAGE = re.compile(
    r"\b(?:may|could|might|can|will|would|adverse\w*|risks?|depend\w*|subject|fail\w*|"
    r"unable|harm\w*|loss\w*|declin\w*|uncertain\w*|volatil\w*|no assurance|fluctuat\w*|"
    r"impair\w*|affect\w*|disrupt\w*|reduc\w*|increas\w*|competition|competitive|"
    r"litigation|regulat\w*)\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class RiskFactor:
    """One risk factor: its heading, body text, and the filer's category heading."""

    title: str
    body: str
    section: str | None
    position: int  # 0-based order in the filing

    @property
    def text(self) -> str:
        """Heading and body together, as compared and scored."""
        return f"{self.title}\n{self.body}" if self.body else self.title


def _signature(block: TextBlock) -> tuple[bool, bool, bool]:
    return (block.bold >= FULL_STYLE, block.italic >= FULL_STYLE, block.underline >= FULL_STYLE)


_ABBREVIATION_END = re.compile(r"\b(?:Inc|Corp|Co|Ltd|L\.P|N\.V|S\.A|plc|U\.S)\.$")


def _ends_sentence(text: str) -> bool:
    text = text.rstrip("”\"’' )")
    return text.endswith((".", "?", "!")) and _ABBREVIATION_END.search(text) is None


def _reads_like_category(text: str) -> bool:
    if _PERSONAL.match(text):
        return False
    letters = [c for c in text if c.isalpha()]
    all_caps = bool(letters) and all(c.isupper() for c in letters) and len(text.split()) <= 12
    return all_caps or _CATEGORY_TEXT.search(text) is not None


def _clean_title(text: str) -> str:
    return text.strip().rstrip(":—–-").strip()


class _Segmenter:
    def __init__(self) -> None:
        self.risks: list[RiskFactor] = []
        self.section: str | None = None
        self._title: str | None = None
        self._section_of_title: str | None = None
        self._body: list[str] = []

    def open(self, title: str, first_body: str = "") -> None:
        self.close()
        self._title = _clean_title(title)
        self._section_of_title = self.section
        self._body = [first_body] if first_body else []

    def add_body(self, text: str) -> None:
        if self._title is not None:
            self._body.append(text)

    def set_section(self, heading: str) -> None:
        self.close()
        self.section = _clean_title(heading)

    def close(self) -> None:
        if self._title is not None:
            self.risks.append(
                RiskFactor(
                    title=self._title,
                    body="\n".join(self._body),
                    section=self._section_of_title,
                    position=len(self.risks),
                )
            )
        self._title = None
        self._body = []


def _is_text_heading(line: str, following: str | None) -> bool:
    if not MIN_TITLE_CHARS <= len(line) <= 350 or following is None:
        return False
    first = line.lstrip("“\"'(")[:1]
    if not first.isupper() or line.endswith((";", ":", ",")):
        return False
    if len(following) < len(line) * 1.2:
        return False
    sentences = sum(line.count(p) for p in (". ", "? ", "! "))
    return sentences <= 1 and _RISK_LANGUAGE.search(line) is not None


_CONNECTIVE = re.compile(
    r"^(?:in addition|additionally|also|furthermore|moreover|however|these|this|those|such|"
    r"for example|for instance|as a result|accordingly|similarly|in particular|further|"
    r"although|while|because|since|some|other|many|certain|any of)\b",
    re.I,
)
_FIRST_SENTENCE = re.compile(r"^(.{30,300}?[.?!])\s+(?=[A-Z“\"])")
_MODAL = re.compile(r"\b(?:may|could|might|can|will|would|cannot)\b", re.I)
#: Plain text with fewer risks than one per this many characters has its headings
#: glued to their paragraphs (the extractor lost the line breaks): split on first sentences.
CHARS_PER_RISK_FLOOR = 6000


def _segment_paragraphs(lines: list[str]) -> list[RiskFactor]:
    seg = _Segmenter()
    previous = ""
    for line in lines:
        match = _FIRST_SENTENCE.match(line)
        if (
            match is not None
            and len(line) >= 200
            and not previous.endswith(":")
            and _CONNECTIVE.match(line) is None
            and _MODAL.search(match.group(1)) is not None
        ):
            seg.open(match.group(1), line[match.end() :])
        elif (
            len(line) <= MAX_CATEGORY_CHARS
            and not _ends_sentence(line)
            and _reads_like_category(line)
        ):
            seg.set_section(line)
        else:
            seg.add_body(line)
        previous = line
    seg.close()
    return seg.risks


def _segment_text(blocks: list[TextBlock]) -> list[RiskFactor]:
    lines = [b.text for b in blocks if not _FURNITURE.match(b.text)]
    chars = sum(len(line) for line in lines)
    risks = _segment_lines(lines)
    if len(risks) < chars / CHARS_PER_RISK_FLOOR:
        by_paragraph = _segment_paragraphs(lines)
        if len(by_paragraph) > len(risks):
            return by_paragraph
    return risks


def _segment_lines(lines: list[str]) -> list[RiskFactor]:
    seg = _Segmenter()
    in_summary = False
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else None
        if _SUMMARY.match(line):
            in_summary = True
            continue
        if (
            len(line) <= MAX_CATEGORY_CHARS
            and not _ends_sentence(line)
            and _reads_like_category(line)
        ):
            in_summary = False
            seg.set_section(line)
        elif not in_summary and _is_text_heading(line, following):
            seg.open(line)
        elif not in_summary:
            seg.add_body(line)
    seg.close()
    return seg.risks


def segment_blocks(blocks: list[TextBlock], *, styled: bool = True) -> list[RiskFactor]:
    """Split Item 1A body blocks into risk factors, keeping the filer's category headings.

    ``styled`` is False for plain-text filings, where a line heuristic replaces
    the style rules.
    """
    if not styled or not any(b.emphasised >= FULL_STYLE or b.lead for b in blocks):
        return _segment_text(blocks)
    body = [b for b in blocks if not _FURNITURE.match(b.text)]
    headingish = [
        _signature(b)
        for b in body
        if (b.emphasised >= FULL_STYLE)
        and MIN_TITLE_CHARS <= len(b.text) <= MAX_TITLE_CHARS
        and not _reads_like_category(b.text)
    ]
    risk_style = Counter(headingish).most_common(1)[0][0] if headingish else None
    full_headings = sum(1 for b in body if risk_style and _signature(b) == risk_style)
    lead_ins = [
        b
        for b in body
        if b.emphasised < FULL_STYLE
        and len(b.lead) >= MIN_TITLE_CHARS
        and b.lead.rstrip().endswith((":", ".", "—", "–"))
    ]
    lead_mode = len(lead_ins) >= 3 and len(lead_ins) > full_headings
    lead_ids = {id(b) for b in lead_ins}

    seg = _Segmenter()
    in_summary = False
    summary_seen: set[str] = set()
    for block in body:
        text = block.text
        sig = _signature(block)
        emphatic = block.emphasised >= FULL_STYLE or block.underline >= FULL_STYLE
        short_label = emphatic and len(text) <= MAX_CATEGORY_CHARS and not _ends_sentence(text)
        is_category = short_label and (
            (
                sig != risk_style
                and (block.emphasised >= FULL_STYLE or block.underline >= FULL_STYLE)
            )
            or _reads_like_category(text)
        )
        if lead_mode and sig == risk_style and not _reads_like_category(text):
            is_category = short_label
        is_risk = (
            not is_category
            and not lead_mode
            and sig == risk_style
            and MIN_TITLE_CHARS <= len(text) <= MAX_TITLE_CHARS
        )
        if _SUMMARY.match(text) and emphatic:
            seg.close()
            in_summary = True
            summary_seen = set()
            continue
        if in_summary:
            key = text.casefold()
            if _RISK_FACTORS_RESTART.match(text):
                in_summary = False
                continue
            if is_category and key not in summary_seen:
                summary_seen.add(key)
                continue
            if is_category or (is_risk and _ends_sentence(text)):
                in_summary = False
            else:
                continue
        if is_category:
            seg.set_section(text)
        elif is_risk:
            seg.open(text)
        elif lead_mode and id(block) in lead_ids:
            seg.open(block.lead, text[len(block.lead) :].strip())
        elif _RISK_FACTORS_RESTART.match(text) and emphatic:
            continue
        else:
            seg.add_body(text)
    seg.close()
    return seg.risks
