"""Splitting Item 1A into individual risk factors.

Filers set each risk factor off with a heading that stands out from the body
typographically — a bold, italic, bold-italic or underlined paragraph (Apple,
Tesla, NVIDIA, Texas Instruments) or a styled lead-in at the start of the
paragraph (IBM: ``<i>Title:</i> body``; Union Pacific: ``<i>Title</i> – body``)
— and group them under their own category headings ("Risks Related to Our
Business").

The rules, in order (docs/ANALYSIS.md has the table of layouts):

* page furniture ("Table of Contents", page numbers) is dropped;
* every block is a candidate heading of one *kind* — a heading paragraph in a
  (bold, italic, underline) signature, or a lead-in in its style — and the kind
  that repeats most is the risk heading kind (lead-ins need three and a
  majority);
* a short styled label without closing punctuation is a category heading when
  it reads like one ("... Risks", "Risks Related to ...", all capitals), or
  when its style differs from the risk style and a heading follows; followed by
  body text it is a sub-heading inside the risk;
* risk-style blocks that start lower-case or follow a ``:``/``;`` line inside a
  risk are the points of a list, not risks;
* a "Summary of Risk Factors" and its bullets are skipped up to the first
  category heading it repeats, a "Risk Factors" restart, or a heading sentence;
* plain text (no styles) uses a line heuristic: a short single-sentence line
  with risk language, followed by a longer paragraph; and, when that finds too
  few, the first sentence of each paragraph that names a risk.

:func:`segment` tries the plain-text rules on styled documents too when the
styled split is implausible, and says in :class:`Segmentation` which rule won
and what makes the split less certain.

Pure: :class:`~riskdrift.analysis.sections.Item1A` in, :class:`RiskFactor` list out.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from riskdrift.analysis.document import TextBlock

__all__ = ["RiskFactor", "Segmentation", "segment", "segment_blocks"]

MIN_TITLE_CHARS = 20
#: A shorter block in the risk heading style is a heading only when it is a whole sentence
#: ("Our margins vary.").
MIN_SENTENCE_TITLE_CHARS = 12
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


def _capitals(text: str) -> bool:
    """All capitals ("STRATEGIC RISKS."): a category lead-in, not a risk's."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 4 and all(c.isupper() for c in letters)


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

    @property
    def is_open(self) -> bool:
        return self._title is not None

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


def _segment_text(blocks: list[TextBlock]) -> tuple[list[RiskFactor], str]:
    lines = [b.text for b in blocks if not _FURNITURE.match(b.text)]
    chars = sum(len(line) for line in lines)
    risks = _segment_lines(lines)
    if len(risks) < chars / CHARS_PER_RISK_FLOOR:
        by_paragraph = _segment_paragraphs(lines)
        if len(by_paragraph) > len(risks):
            return by_paragraph, "paragraph first sentence"
    return risks, "plain-text line"


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


Style = tuple[bool, bool, bool]
#: (kind, style): kind "block" is a heading paragraph of its own, "lead" a lead-in.
HeadingKind = tuple[str, Style]

#: Fewer risks than one per this many characters of a styled section: the headings were
#: probably not recognised, so the plain-text strategies are tried as well.
MAX_CHARS_PER_RISK = 20000
_LEAD_TERMINATOR = re.compile(r"^\s*[–—:.-]")


@dataclass(frozen=True, slots=True)
class Segmentation:
    """Risk factors and how they were told apart: the heading style and any doubts."""

    risks: list[RiskFactor]
    heading_style: str
    warnings: tuple[str, ...] = ()


def _stands_out(block: TextBlock) -> bool:
    return any(_signature(block))


def _style_name(style: Style) -> str:
    names = [n for n, on in zip(("bold", "italic", "underline"), style, strict=True) if on]
    return "-".join(names) or "plain"


def _kind_name(kind: HeadingKind) -> str:
    form, style = kind
    return f"{_style_name(style)} lead-in" if form == "lead" else _style_name(style)


def _lead_title(block: TextBlock) -> str | None:
    """The lead-in heading of a block (``<i>Title</i> – body``, ``<b>Title:</b> body``)."""
    lead = block.lead
    if _stands_out(block) or not MIN_TITLE_CHARS <= len(lead) <= MAX_TITLE_CHARS:
        return None
    rest = block.text[len(lead) :]
    if lead.rstrip().endswith((":", ".", "—", "–")) or _LEAD_TERMINATOR.match(rest):
        return lead
    return None


def _heading_kind(block: TextBlock) -> HeadingKind | None:
    """How a block could be a risk heading, if it could be one at all."""
    if _stands_out(block):
        if MIN_TITLE_CHARS <= len(block.text) <= MAX_TITLE_CHARS and not _reads_like_category(
            block.text
        ):
            return ("block", _signature(block))
        return None
    if _lead_title(block) is not None and not _capitals(block.lead):
        return ("lead", block.lead_style)
    return None


def _risk_kind(body: list[TextBlock]) -> HeadingKind | None:
    """The heading style that repeats most through the section: the filer's risk headings.

    Heading paragraphs win ties; lead-ins need at least three and to outnumber them.
    """
    counts = Counter(k for b in body if (k := _heading_kind(b)) is not None)
    blocks = [(n, k) for k, n in counts.items() if k[0] == "block"]
    leads = [(n, k) for k, n in counts.items() if k[0] == "lead"]
    best_block = max(blocks, default=None)
    lead_total = sum(n for n, _ in leads)
    if leads and lead_total >= 3 and lead_total > (best_block[0] if best_block else 0):
        return max(leads)[1]
    return best_block[1] if best_block else None


def _next_heading(body: list[TextBlock], i: int) -> bool:
    """Whether the block after ``i`` is a heading of any kind (not body text)."""
    following = body[i + 1] if i + 1 < len(body) else None
    return following is not None and (_stands_out(following) or _lead_title(following) is not None)


def _segment_styled(body: list[TextBlock]) -> tuple[list[RiskFactor], str]:
    kind = _risk_kind(body)
    lead_mode = kind is not None and kind[0] == "lead"
    risk_style = kind[1] if kind is not None and not lead_mode else None

    seg = _Segmenter()
    in_summary = False
    summary_seen: set[str] = set()
    previous = ""
    for i, block in enumerate(body):
        text = block.text
        sig = _signature(block)
        emphatic = _stands_out(block)
        short_label = emphatic and len(text) <= MAX_CATEGORY_CHARS and not _ends_sentence(text)
        if lead_mode:
            is_category = short_label
        else:
            # Category headings are a style one level up; a short label in another style
            # that is followed by body text is a sub-heading inside a risk.
            is_category = short_label and (
                _reads_like_category(text) or (sig != risk_style and _next_heading(body, i))
            )
        is_risk = (
            not is_category
            and not lead_mode
            and risk_style is not None
            and sig == risk_style
            and len(text) <= MAX_TITLE_CHARS
            and (
                len(text) >= MIN_TITLE_CHARS
                or (len(text) >= MIN_SENTENCE_TITLE_CHARS and _ends_sentence(text))
            )
        )
        if is_risk and (
            text.lstrip("“\"'(•·-–— ")[:1].islower()
            or (seg.is_open and previous.endswith((":", ";")))
        ):
            is_risk = False  # a point of a list the risk's text introduces, not a risk
        previous = text
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
        lead = _lead_title(block) if lead_mode else None
        if is_category:
            seg.set_section(text)
        elif is_risk:
            seg.open(text)
        elif lead is not None and _capitals(lead):
            seg.set_section(lead)  # "STRATEGIC RISKS. The risks that …": a category lead-in
        elif lead is not None and block.lead_style == kind[1]:  # type: ignore[index]
            seg.open(lead, text[len(lead) :].strip().lstrip("–—-:").strip())
        elif _RISK_FACTORS_RESTART.match(text) and emphatic:
            continue
        else:
            seg.add_body(text)
    seg.close()
    return seg.risks, _kind_name(kind) if kind is not None else "none"


def _plausible(risks: list[RiskFactor], chars: int) -> bool:
    return bool(risks) and chars / len(risks) <= MAX_CHARS_PER_RISK


def segment(blocks: list[TextBlock], *, styled: bool = True, html: bool = False) -> Segmentation:
    """Split Item 1A body blocks into risk factors and say how far to trust the split.

    Styled documents are split by their repeating heading style; when that finds
    nothing plausible (no heading stands out, or one "risk" per 20,000+
    characters), the plain-text strategies are tried and the one with more risks
    wins, with a warning. ``styled`` is False when no block carries any style;
    ``html`` says the document was HTML, where unstyled headings are unusual.
    """
    body = [b for b in blocks if not _FURNITURE.match(b.text)]
    chars = sum(len(b.text) for b in body)
    warnings: list[str] = []
    if styled and any(_stands_out(b) or b.lead for b in body):
        risks, style = _segment_styled(body)
        if _plausible(risks, chars):
            return Segmentation(risks, style)
        text_risks, text_style = _segment_text(body)
        if len(text_risks) > len(risks):
            warnings.append(
                f"no repeating heading style told the risks apart ({style}: {len(risks)} "
                f"in {chars:,} characters); the headings were found by the {text_style} "
                "rule, which is less certain"
            )
            risks, style = text_risks, text_style
    else:
        risks, style = _segment_text(body)
        if styled or html:
            warnings.append(
                "no heading in Item 1A is bold, italic or underlined; the headings were "
                f"found by the {style} rule, which is less certain"
            )
        elif style == "paragraph first sentence":
            warnings.append(
                "the headings run into their paragraphs; each risk was taken to start at a "
                "paragraph whose first sentence names a risk, which is less certain"
            )
    if risks and not _plausible(risks, chars):
        warnings.append(
            f"only {len(risks)} risk heading(s) in {chars:,} characters of Item 1A; "
            "some headings may not have been recognised"
        )
    return Segmentation(risks, style, tuple(warnings))


def segment_blocks(blocks: list[TextBlock], *, styled: bool = True) -> list[RiskFactor]:
    """Split Item 1A body blocks into risk factors, keeping the filer's category headings."""
    return segment(blocks, styled=styled).risks
