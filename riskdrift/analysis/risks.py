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
* all-capital heading paragraphs followed by body text are a kind of their own:
  when it repeats most (bold ALL-CAPS risk headings), capitals no longer make a
  label a category — only its words ("RISKS RELATED TO …") or a missing body do;
* a heading whose body is empty or holds only further headings is never a risk:
  a label becomes the category of the risks under it (a sub-category such as
  "Payments Industry Regulation"), anything else is dropped; banners ("RISK
  FACTORS", "Risk Highlights") are never a risk's category;
* list glyphs ("•", "●", "▪", U+F0B7, "o ") are stripped from titles, and a glyph in
  a cell or paragraph of its own is dropped;
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
from dataclasses import dataclass, replace

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
    # At most 12 words first: a paragraph of body text is never read letter by letter.
    if len(text.split(None, 12)) <= 12:
        letters = [c for c in text if c.isalpha()]
        if letters and all(c.isupper() for c in letters):
            return True
    return _CATEGORY_TEXT.search(text) is not None


def _capitals(text: str) -> bool:
    """All capitals ("STRATEGIC RISKS."): a category lead-in, not a risk's."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 4 and all(c.isupper() for c in letters)


#: A list glyph at the start of a block: a bullet ("•", "●", "▪", "◦", the Symbol font's
#: private-use "\uf0b7", ...) with or without a space, or "-", "*", "o" followed by one.
_GLYPH = re.compile(
    "^(?:[\u2022\u25cf\u25aa\u25a0\u25e6\u25cb\u25a1\u2023\u2043\u2219\u00b7\u27a2\u25ba"
    "\u25b8\u2666\u2756\u2713\u2714\uf0b7\uf0a7\uf076\uf0d8\uf0fc]\\s*|[-–—*o]\\s+)+"
)
#: A heading that only names the section as a whole ("RISK FACTORS", "Risk Highlights"): a
#: banner over the categories, never a risk's category.
_BANNER = re.compile(
    r"^(?:item\s*1a\.?\s*)?(?:risk\s+factors|risk\s+highlights|risks)"
    r"(?:\s*[-–—(]?\s*continued\)?)?\s*[.:]?$",
    re.I,
)


def _strip_glyph(text: str) -> str:
    """The text of a list item without its bullet ("• Declining demand …" → "Declining …")."""
    return _GLYPH.sub("", text, count=1)


def _glyph_only(text: str) -> bool:
    """A block that is nothing but a bullet (the glyph in its own cell or paragraph)."""
    return bool(text) and not _strip_glyph(text + " ").strip()


def _clean_title(text: str) -> str:
    return _strip_glyph(text.strip()).strip().rstrip(":—–-").strip()


#: A sentence that points back at what came before ("Any of the foregoing could …",
#: "Negative consequences relating to these risks …") closes a risk; it never opens one.
_REFERS_BACK = re.compile(r"^(?:\S+\s+){0,5}?(?:these|those|the foregoing|such)\b", re.I)


def _names(text: str) -> bool:
    """Whether a short label could name a group ("Competition"), not continue a list
    ("cells and modules;")."""
    return _strip_glyph(text)[:1].isupper() and not text.endswith((";", ","))


def _is_label(text: str) -> bool:
    """A short heading without closing punctuation: a category's name, not a risk's sentence."""
    return len(text) <= MAX_CATEGORY_CHARS and not _ends_sentence(text)


class _Segmenter:
    """Collects risks as headings and body text arrive, with the category each sits under.

    A heading whose body is empty, or holds only further headings, is never a risk
    (docs/ANALYSIS.md rule 8): when the next heading arrives first, a label ("Payments
    Industry Regulation") becomes the category of the risks after it, and anything else
    is dropped — or, for plain text (``plain``), the next "heading" line is taken as the
    body it is, since a line rule cannot tell a heading from a short first paragraph.
    """

    def __init__(self, *, plain: bool = False) -> None:
        self.risks: list[RiskFactor] = []
        self.section: str | None = None
        self._plain = plain
        self._title: str | None = None
        self._section_of_title: str | None = None
        self._body: list[str] = []

    def open(self, title: str, first_body: str = "") -> None:
        if self._title is not None and not self._has_body():
            pending = self._title
            if _is_label(pending):
                self._title = None
                self._set(pending)  # a sub-category: its only body is this heading
            elif self._plain and _REFERS_BACK.match(pending):
                # "Any of the foregoing could …": the last line of the risk before.
                self._title = None
                if self.risks:
                    last = self.risks[-1]
                    self.risks[-1] = replace(last, body=f"{last.body}\n{pending}".strip())
            elif self._plain:
                self._body.append(f"{title} {first_body}".strip())
                return
            else:
                self._title = None  # a heading sentence with no body of its own
        self.close()
        self._title = _clean_title(title)
        self._section_of_title = self.section
        self._body = [first_body] if first_body else []

    @property
    def is_open(self) -> bool:
        return self._title is not None

    def _has_body(self) -> bool:
        return any(part.strip() for part in self._body)

    @property
    def awaits_body(self) -> bool:
        """A heading is open and no body text has come yet."""
        return self._title is not None and not self._has_body()

    def extend_title(self, text: str) -> None:
        """Add the next line of a heading split over two paragraphs."""
        if self._title is not None:
            self._title = f"{self._title} {_clean_title(text)}"

    def add_body(self, text: str) -> None:
        if self._title is not None:
            self._body.append(text)

    def set_section(self, heading: str) -> None:
        if _BANNER.match(_clean_title(heading)):
            return  # "Risk Factors (continued)" atop a page: no category, and no end of a risk
        if self._title is not None and not self._has_body():
            self._title = None  # a heading over this category, not a risk
        self.close()
        self._set(heading)

    def _set(self, heading: str) -> None:
        name = _clean_title(heading)
        if not _ABBREVIATION_END.search(name):
            name = name.rstrip(".").strip()  # "STRATEGIC RISKS." names "STRATEGIC RISKS"
        if name and not _BANNER.match(name):
            self.section = name

    def close(self) -> None:
        if self._title is not None and self._has_body():
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
    seg = _Segmenter(plain=True)
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


def _join_glyphs(lines: list[str]) -> list[str]:
    """Put a bullet that stands on its own line back in front of its item: in plain text
    a bulleted line is a point of a list (body), and the line before it is not followed
    by a one-character "paragraph"."""
    joined: list[str] = []
    glyph = ""
    for line in lines:
        if _glyph_only(line):
            glyph = line
            continue
        joined.append(f"{glyph} {line}" if glyph else line)
        glyph = ""
    return joined


def _segment_text(blocks: list[TextBlock]) -> tuple[list[RiskFactor], str]:
    lines = _join_glyphs([b.text for b in blocks if not _FURNITURE.match(b.text)])
    chars = sum(len(line) for line in lines)
    risks = _segment_lines(lines)
    if len(risks) < chars / CHARS_PER_RISK_FLOOR:
        by_paragraph = _segment_paragraphs(lines)
        if len(by_paragraph) > len(risks):
            return by_paragraph, "paragraph first sentence"
    return risks, "plain-text line"


#: Plain text with at least this many all-capital lines followed by a body paragraph sets
#: its risk headings in capitals (rule 4's all-caps kind, without the styles).
MIN_CAPS_HEADINGS = 3


def _caps_heading(lines: list[str], i: int) -> bool:
    """An all-capitals line that does not name risks, followed by a body paragraph."""
    line = lines[i]
    following = lines[i + 1] if i + 1 < len(lines) else None
    after = lines[i + 2] if i + 2 < len(lines) else None
    return (
        MIN_TITLE_CHARS <= len(line) <= MAX_TITLE_CHARS
        and _capitals(line)
        and _CATEGORY_TEXT.search(line) is None
        and following is not None
        and not _capitals(following)
        and len(following) >= 1.2 * len(line)
        and not _is_text_heading(following, after)
    )


def _segment_lines(lines: list[str]) -> list[RiskFactor]:
    seg = _Segmenter(plain=True)
    in_summary = False
    caps_mode = sum(_caps_heading(lines, i) for i in range(len(lines))) >= MIN_CAPS_HEADINGS
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else None
        if _SUMMARY.match(line):
            in_summary = True
            continue
        if caps_mode and not in_summary and _caps_heading(lines, i):
            seg.open(line)
        elif (
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
#: (kind, style, all capitals): kind "block" is a heading paragraph of its own, "lead" a
#: lead-in; all-capital heading paragraphs are a kind of their own, so that a filer's
#: "STRATEGIC RISKS" categories and its bold ALL-CAPS risk headings are told apart.
HeadingKind = tuple[str, Style, bool]

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
    form, style, caps = kind
    if form == "lead":
        return f"{_style_name(style)} lead-in"
    return f"{_style_name(style)} all-caps" if caps else _style_name(style)


def _lead_title(block: TextBlock) -> str | None:
    """The lead-in heading of a block (``<i>Title</i> – body``, ``<b>Title:</b> body``)."""
    lead = block.lead
    if _stands_out(block) or not MIN_TITLE_CHARS <= len(lead) <= MAX_TITLE_CHARS:
        return None
    rest = block.text[len(lead) :]
    if lead.rstrip().endswith((":", ".", "—", "–")) or _LEAD_TERMINATOR.match(rest):
        return lead
    return None


def _heading_kind(body: list[TextBlock], i: int) -> HeadingKind | None:
    """How block ``i`` could be a risk heading, if it could be one at all.

    An all-capitals paragraph counts only when body text follows it: a category heading
    in capitals ("STRATEGIC RISKS") is followed by the first risk's heading instead.
    """
    block = body[i]
    text = block.text
    if _stands_out(block):
        if not MIN_TITLE_CHARS <= len(text) <= MAX_TITLE_CHARS:
            return None
        if _capitals(text):
            if _CATEGORY_TEXT.search(text) is None and not _next_heading(body, i):
                return ("block", _signature(block), True)
            return None
        if not _reads_like_category(text):
            return ("block", _signature(block), False)
        return None
    if _lead_title(block) is not None and not _capitals(block.lead):
        return ("lead", block.lead_style, False)
    return None


def _risk_kind(body: list[TextBlock]) -> HeadingKind | None:
    """The heading style that repeats most through the section: the filer's risk headings.

    Heading paragraphs win ties; lead-ins need at least three and to outnumber them.
    """
    counts = Counter(k for i in range(len(body)) if (k := _heading_kind(body, i)) is not None)
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


def _caps_lead(block: TextBlock) -> str | None:
    """A category lead-in in capitals ("STRATEGIC RISKS. Strategic risk relates to …")."""
    lead = block.lead
    if _stands_out(block) or not lead or len(lead) > MAX_CATEGORY_CHARS or not _capitals(lead):
        return None
    rest = block.text[len(lead) :]
    if lead.rstrip().endswith((":", ".", "—", "–")) or _LEAD_TERMINATOR.match(rest):
        return lead
    return None


def _segment_styled(blocks: list[TextBlock]) -> tuple[list[RiskFactor], str]:
    # A bullet in its own cell or paragraph is not part of the text before or after it.
    body = [b for b in blocks if not _glyph_only(b.text)]
    kind = _risk_kind(body)
    lead_mode = kind is not None and kind[0] == "lead"
    risk_style = kind[1] if kind is not None and not lead_mode else None
    risk_caps = kind is not None and kind[2]

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
            # that is followed by body text is a sub-heading inside a risk. When the risk
            # headings themselves are in capitals, capitals say nothing: only the words do.
            # (Read only for a short label: body paragraphs are most of the blocks.)
            if not short_label:
                reads = False
            elif risk_caps and sig == risk_style and _capitals(text):
                reads = _CATEGORY_TEXT.search(text) is not None
            else:
                reads = _reads_like_category(text)
            # A label followed straight by another heading has no body: a category, in
            # another style, or in the risk style when too short to be a risk's heading
            # (longer ones are left to the segmenter's empty-body rule).
            is_category = short_label and (
                reads
                or (
                    (sig != risk_style or (len(text) < MIN_TITLE_CHARS and _names(text)))
                    and _next_heading(body, i)
                )
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
        # A heading split over two paragraphs: the first line ends without punctuation and
        # the second goes on in lower case, or the first is the start of a sentence
        # ("We May Not Be Able to" | "Compete Effectively."), never a category's name.
        continues = (
            risk_style is not None
            and sig == risk_style
            and seg.awaits_body
            and not _ends_sentence(previous)
            and not previous.endswith((":", ";", ","))
            and _CATEGORY_TEXT.search(text) is None
            and (
                _strip_glyph(text)[:1].islower()
                or _PERSONAL.match(_strip_glyph(previous)) is not None
            )
        )
        if is_risk and (
            _strip_glyph(text).lstrip("“\"'(•·-–— ")[:1].islower()
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
        caps_lead = _caps_lead(block) if lead_mode else None
        if continues:
            seg.extend_title(text)
        elif is_category:
            seg.set_section(text)
        elif caps_lead is not None:
            # "STRATEGIC RISKS. Strategic risk relates to …": a category lead-in; its
            # one-sentence definition belongs to no risk.
            seg.set_section(caps_lead)
        elif is_risk:
            seg.open(text)
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
