"""Which changes a reader must hear about: every change scored for materiality, with reasons.

Drift says how much text moved; a long boilerplate rewrite drifts far and says
nothing, while one added sentence ("we were subject to a cyberattack in 2024")
can be the news of the year. This module scores each change of a comparison — a
new or removed risk, and every added, removed and edited sentence of a modified
risk — from signals in the text, by the rule book in docs/ANALYSIS.md
("Materiality"):

- *realised*: a hypothetical statement ("may subject") became a past or
  present-perfect one ("has subjected");
- *named entities*, *laws and courts*, *figures* (years, amounts, percentages)
  new this year;
- *event words* (breach, strike, downgrade, acquisition, ruling, tariff, …) new to
  the change;
- new and removed risks of substance;

and scales the result down for boilerplate (few new content words), fragments and
figure-only edits (a fiscal-year roll-over, a page number). The lexicons are of
event nouns and verb forms, the same for every filer; no filer's words are listed.

Pure: the comparison's :class:`~riskdrift.models.RiskChange` rows in,
:class:`~riskdrift.models.MaterialChange` rows out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from riskdrift.analysis.sentences import GENERIC_WORDS, split_sentences
from riskdrift.analysis.similarity import STOPWORDS
from riskdrift.models import ChangeType, MaterialChange, MaterialKind, RiskChange

__all__ = [
    "MAX_CHANGES",
    "MIN_SCORE",
    "clear_caches",
    "material_changes",
    "score_changes",
]

#: Changes scoring below this are not listed on the result.
MIN_SCORE = 0.3
#: At most this many changes are listed on the result (the full scoring is score_changes).
MAX_CHANGES = 25

W_REALISED = 0.6
W_EVENT = 0.3
W_EVENT_DATED = 0.45
W_LAW = 0.45
W_ENTITY = 0.2
W_FIGURE = 0.2
W_DATE = 0.35
W_YEAR = 0.1
W_NEW_RISK = 0.45
W_NEW_RISK_SHORT = 0.3
W_NOVEL_WORD = 0.02
NOVEL_CAP = 0.2
#: A change with fewer new content words than this is boilerplate: its score × BOILERPLATE.
MIN_NOVEL_WORDS = 3
BOILERPLATE = 0.3
#: A sentence with fewer words than this is a fragment or page furniture: its score × FRAGMENT.
MIN_WORDS = 6
FRAGMENT = 0.2
REMOVED_FACTOR = 0.7
SHORT_RISK_WORDS = 40

#: The event lexicon: one name per kind of event (a synonym swap, "breach" → "incident", is
#: not a new event), each with the words and phrases that name it; "(s)"/"(es)" add a plural.
_EVENT_PHRASES: dict[str, str] = {
    "security incident": "cyberattack(s), cyber-attack(s), cyber attack(s), attack(s), attacked, "
    "breach(es), breached, ransomware, security incident(s), cybersecurity incident(s), "
    "cyber incident(s), intrusion(s), cyber-intrusion(s)",
    "strike": "strike(s), work stoppage(s), walkout(s), labor dispute(s), labor union(s), "
    "unionization, unionisation",
    "downgrade": "downgrade(s), downgraded",
    "acquisition": "acquisition(s), acquired, merger(s), merged",
    "spin-off": "spin-off(s), spinoff(s), spun off, spun-off, divestiture(s), divested, "
    "disposition(s)",
    "ruling": "ruling(s), ruled, judgment(s), judgement(s), verdict(s), "
    "found to have violated, court order(s), ordered",
    "settlement": "settlement(s), settled",
    "investigation": "investigation(s), investigating, subpoena(s), inquiry, inquiries, "
    "inquired, formal proceedings, show cause notice",
    "lawsuit": "lawsuit(s), class action(s), filed a suit, filed suit, filed a complaint",
    "penalty": "fined, penalty, penalties",
    "recall": "recall(s), recalled",
    "tariff": "tariff(s)",
    "sanction": "sanction(s), sanctioned",
    "export control": "export control(s), export restriction(s), "
    "export license requirement(s), export licence requirement(s)",
    "enactment": "enacted, became effective, took effect, signed into law",
    "bankruptcy": "bankruptcy, bankruptcies, insolvency, insolvent",
    "impairment": "impairment(s), impaired, write-down(s), writedown(s)",
    "restructuring": "restructuring(s), layoff(s), reduction in force, reductions in force",
    "war": "war, wars, invasion, armed conflict(s), military",
    "outage": "outage(s)",
    "default": "default(s), defaulted",
    "restatement": "restatement(s), material weakness, material weaknesses",
    "pandemic": "pandemic(s), epidemic(s)",
    "natural disaster": "hurricane(s), wildfire(s), earthquake(s), flood(s)",
}
_EVENT_NAMES = list(_EVENT_PHRASES)


def _expand(phrase: str) -> list[str]:
    for suffix in ("(es)", "(s)"):
        if phrase.endswith(suffix):
            stem = phrase[: -len(suffix)]
            return [stem, stem + suffix[1:-1]]
    return [phrase]


def _event_index() -> dict[str, list[tuple[tuple[str, ...], int]]]:
    """First word → (the phrase's words, event number), longest phrase first."""
    index: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for number, phrases in enumerate(_EVENT_PHRASES.values()):
        for phrase in phrases.split(","):
            for form in _expand(phrase.strip()):
                words = tuple(form.split())
                index.setdefault(words[0], []).append((words, number))
    for entries in index.values():
        entries.sort(key=lambda e: -len(e[0]))
    return index


_EVENT_INDEX = _event_index()
_EVENT_FIRST = frozenset(_EVENT_INDEX)
_TOKEN = re.compile(r"[a-z0-9]+(?:[-’'][a-z0-9]+)*")

_MODALS = r"may|might|could|can|would|will"
_MODAL = re.compile(
    rf"\b(?P<modal>{_MODALS})\s+(?:not\s+)?(?:(?:also|be|become|potentially|further|"
    r"again|in\s+the\s+future|continue\s+to)\s+)*(?P<verb>[a-z]+)",
    re.I,
)
_PERFECT = re.compile(
    r"\b(?P<aux>has|have|had|was|were|has\s+been|have\s+been|had\s+been)\s+"
    r"(?:(?:also|recently|previously|already|in\s+the\s+past|from\s+time\s+to\s+time|"
    r"\w+ly),?\s+)*(?P<verb>[a-z]+)",
    re.I,
)
_PAST = re.compile(
    r"\b(?:we|company|it|they)\s+(?:\w+ly\s+)?(?P<verb>experienced|suffered|incurred|"
    r"received|became|faced|identified|detected|entered|completed|announced|recorded|"
    r"acquired|agreed|filed|paid)\b",
    re.I,
)
#: Irregular past participles (and "subject", as in "was subject to") a realised statement uses.
_PARTICIPLES = frozenset(
    [
        "been", "had", "made", "paid", "become", "begun", "brought", "held", "hit", "led", "lost",
        "met", "seen", "set", "sold", "taken", "won", "found", "done", "subject", "given", "gone",
        "grown", "known", "shown", "cut",
    ]
)  # fmt: skip
_CAP = r"[A-Z][\w&’'\-]*(?:\.[A-Za-z0-9]+)*\.?"
_CONNECT = r"(?:of|and|for|on|the|de|du|in|to|&)"
_CONNECTORS = frozenset(["of", "and", "for", "on", "the", "de", "du", "in", "to", "&"])
_ENTITY = re.compile(rf"\b{_CAP}(?:\s+(?:{_CONNECT}\s+)*{_CAP})+")
_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9&]{1,6}s?\b")
#: A single capitalised word of four letters or more after a lower-case word (so not a
#: sentence opener).
_NAME = re.compile(r"(?<=[a-z,] )([A-Z][a-z]{3,}(?:[A-Z][a-z]+)*)\b")
_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)"
)
#: A dated statement: "On August 5, 2024", "in March 2024", "in fiscal 2025", "during fiscal
#: year 2024", "in the second quarter of 2025" — but not a reporting date ("As of …").
_DATE = re.compile(
    rf"(?<!as of )(?<!As of )\b(?:{_MONTH}\s+(?:\d{{1,2}},\s+)?|(?:in|during|since|"
    r"beginning in|throughout)\s+(?:the\s+\w+\s+(?:quarter|half)\s+of\s+)?(?:fiscal\s+)?"
    r"(?:year\s+)?)(?P<year>(?:19|20)\d{2})\b"
)
_AMOUNT = re.compile(
    r"[$€£¥]\s?\d[\d,]*(?:\.\d+)?(?:\s?(?:million|billion|trillion|thousand))?"
    r"|\b\d[\d,]*(?:\.\d+)?\s?(?:million|billion|trillion)\b",
    re.I,
)
_PERCENT = re.compile(r"\b\d+(?:\.\d+)?\s?(?:%|percent\b)", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z’'\-]*")
_WORD_FOLDED = re.compile(r"[a-z][a-z’'\-]*")
_PAGE_NUMBER = re.compile(r"\s\d{1,3}\s*$")

#: Capitalised words that open a sentence or a clause without being part of a name.
_OPENERS = frozenset(
    [
        "the", "a", "an", "in", "on", "for", "our", "we", "this", "these", "those", "that", "any",
        "if", "as", "such", "certain", "additionally", "however", "moreover", "furthermore",
        "accordingly", "also", "while", "when", "because", "although", "since", "there", "it",
        "its", "they", "their", "some", "many", "other", "each", "all", "both", "recent", "new",
        "further", "for", "example",
    ]
)  # fmt: skip
#: Words of a law, regulation, court or regulator's name.
_LEGAL_NOUNS = frozenset(
    [
        "act", "acts", "law", "laws", "regulation", "regulations", "directive", "directives",
        "rule", "rules", "order", "orders", "code", "court", "courts", "commission", "tribunal",
        "agency", "authority", "authorities", "department", "treaty", "tariffs", "program",
        "programme", "framework", "bill", "ordinance", "statute", "convention", "bureau", "ifr",
    ]
)  # fmt: skip
_CALENDAR = frozenset(
    [
        "january", "february", "march", "april", "may", "june", "july", "august", "september",
        "october", "november", "december", "fiscal", "form", "quarter", "item", "part", "annual",
        "report",
    ]
)  # fmt: skip
_HEDGES = frozenset(
    [
        "may", "might", "could", "can", "would", "will", "should", "must", "also", "not", "no",
        "assurance", "able", "unable",
    ]
)  # fmt: skip
_NOT_CONTENT = STOPWORDS | GENERIC_WORDS | _HEDGES


@dataclass(slots=True)
class _Evidence:
    """The weighted reasons found for one change; ``strong`` once a signal beyond new names
    and new words is found (such a change is not boilerplate, however few its new words)."""

    weights: list[float] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    kind: MaterialKind | None = None
    strong: bool = False
    marks: list[str] = field(default_factory=list)  # the words of the sentence it rests on

    def add(
        self,
        weight: float,
        reason: str,
        kind: MaterialKind | None = None,
        *,
        strong: bool = False,
        marks: Iterable[str] = (),
    ) -> None:
        self.weights.append(weight)
        self.reasons.append(reason)
        self.marks.extend(marks)
        self.strong = self.strong or strong
        if kind is not None and (self.kind is None or _PRIORITY[kind] < _PRIORITY[self.kind]):
            self.kind = kind

    def score(self) -> float:
        missing = 1.0
        for w in self.weights:
            missing *= 1.0 - w
        return 1.0 - missing


_PRIORITY: dict[MaterialKind, int] = {
    "realised": 0,
    "new_law_regulation": 1,
    "new_event": 2,
    "new_risk": 3,
    "removed_risk": 4,
    "removed_exposure": 5,
    "new_exposure": 6,
}


def _clip(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _stem(word: str) -> str:
    word = word.casefold()
    if word in ("had", "has"):
        return "have"
    for suffix in ("ing", "ied", "ed", "es", "en", "d", "s", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:6]


def _participle(word: str) -> bool:
    word = word.casefold()
    return word in _PARTICIPLES or (len(word) > 3 and word.endswith(("ed", "en", "wn")))


def _content_words(text: str) -> set[str]:
    words = set(_WORD_FOLDED.findall(text.casefold()))  # distinct words first: bodies repeat
    return {w for w in words if len(w) > 2} - _NOT_CONTENT


def _word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _entities(text: str) -> list[str]:
    """Capitalised multi-word names and acronyms, leading openers stripped."""
    found: list[str] = []
    for match in _ENTITY.finditer(text):
        parts = match.group(0).split()
        while parts and (
            parts[0].casefold().rstrip(",") in _OPENERS or parts[0].casefold() in _CONNECTORS
        ):
            parts.pop(0)
        while parts and parts[-1].casefold() in _CONNECTORS:
            parts.pop()
        if not parts:
            continue
        if len(parts) < 2 and parts[0].casefold().rstrip(".") not in _LEGAL_NOUNS:
            continue
        if all(p.casefold().strip(".,") in _CALENDAR or p[:1].isdigit() for p in parts):
            continue
        found.append(" ".join(parts).rstrip(".,"))
    for match in _ACRONYM.finditer(text):
        word = match.group(0)
        if any(word in e for e in found):
            continue
        found.append(word)
    for match in _NAME.finditer(text):
        word = match.group(1)
        if not any(word in e for e in found) and word.casefold() not in _CALENDAR:
            found.append(word)  # a place or product named inside a sentence: "in Israel"
    return list(dict.fromkeys(found))


def _is_legal(entity: str) -> bool:
    words = entity.split()
    return len(words) >= 2 and any(w.casefold().strip(".,’'s") in _LEGAL_NOUNS for w in words)


def _events(text: str) -> list[tuple[str, str]]:
    """(event name, the words that name it) for each kind of event in ``text``, in the
    lexicon's order."""
    return _events_in(_TOKEN.findall(text.casefold()))


def _events_in(tokens: list[str]) -> list[tuple[str, str]]:
    # A set intersection first: most sentences name no event, and this runs on all of them.
    starts = _EVENT_FIRST.intersection(tokens)
    if not starts:
        return []
    found: dict[int, str] = {}
    for i, token in enumerate(tokens):
        if token not in starts:
            continue
        for words, number in _EVENT_INDEX[token]:
            if tuple(tokens[i : i + len(words)]) == words:
                found.setdefault(number, " ".join(words))
                break
    return [(_EVENT_NAMES[n], found[n]) for n in sorted(found)]


@dataclass(frozen=True, slots=True)
class _Profile:
    """What the scorer reads from one text (a risk body or a sentence), computed once."""

    folded: str
    words: frozenset[str]
    events: frozenset[str]


def clear_caches() -> None:
    """Forget the per-text caches (benchmarks measure each filing as met the first time)."""
    _profile.cache_clear()
    _hypothetical.cache_clear()


@functools.lru_cache(maxsize=512)
def _profile(text: str) -> _Profile:
    # Each risk body is the counterpart of all its sentence changes: read it once.
    folded = _fold(text)
    tokens = _TOKEN.findall(folded)
    words = {t for t in set(tokens) if len(t) > 2 and t[0].isalpha()} - _NOT_CONTENT
    return _Profile(folded, frozenset(words), frozenset(name for name, _ in _events_in(tokens)))


@functools.lru_cache(maxsize=128)
def _hypothetical(body: str) -> frozenset[str]:
    """Events ``body`` names only in hedged sentences ("could be subject to cyberattacks")."""
    events: set[str] = set()
    stated: set[str] = set()
    for sentence in split_sentences(body):
        names = {name for name, _ in _events(sentence)}
        events |= names
        if names and not _MODAL.search(sentence):
            stated |= names
    return frozenset(events - stated)


def _realised(old: str, new: str) -> tuple[str, str] | None:
    """The hypothetical phrase of ``old`` that ``new`` states as having happened."""
    modal_verbs = {_stem(m.group("verb")): m.group(0) for m in _MODAL.finditer(old)}
    if not modal_verbs:
        return None
    still_modal = {_stem(m.group("verb")) for m in _MODAL.finditer(new)}
    for rx in (_PERFECT, _PAST):
        for m in rx.finditer(new):
            if rx is _PERFECT and not _participle(m.group("verb")):
                continue
            stem = _stem(m.group("verb"))
            if stem in modal_verbs and stem not in still_modal:
                return modal_verbs[stem], m.group(0)
    return None


def _stated_as_fact(text: str) -> str | None:
    """A past or present-perfect statement in ``text`` that no modal hedges ("have
    experienced, and may continue to experience" is a hedge, not a report)."""
    for rx in (_PAST, _PERFECT):
        for m in rx.finditer(text):
            if rx is _PERFECT and not _participle(m.group("verb")):
                continue
            window = text[max(0, m.start() - 40) : m.end() + 40]
            if _MODAL.search(window):
                continue
            return m.group(0)
    return None


@dataclass(frozen=True, slots=True)
class _Context:
    index: int
    risk: RiskChange
    current_year: str
    previous_year: str
    #: The earliest calendar year a dated statement must name to be news (the previous
    #: fiscal year's label); None when the years are unknown.
    recent: int | None

    def make(
        self,
        evidence: _Evidence,
        score: float,
        change: ChangeType,
        default: MaterialKind,
        current: str | None = None,
        previous: str | None = None,
    ) -> MaterialChange:
        r = self.risk
        reasons = [x for x in evidence.reasons if not x.endswith("new content words")] or (
            evidence.reasons[:1]
        )
        quoted = current or previous or ""
        marks = [m for m in dict.fromkeys(evidence.marks) if m and m in quoted]
        # "enacted" inside "have enacted" is one highlight, not two.
        highlights = [m for m in marks if not any(m != o and m in o for o in marks)]
        return MaterialChange(
            score=round(min(max(score, 0.0), 1.0), 4),
            kind=evidence.kind if evidence.kind is not None else default,
            change=change,
            reasons=reasons,
            risk=self.index,
            risk_title=r.title_current or r.title_previous or "",
            risk_status=r.status,
            category=r.category,
            current=current,
            previous=previous,
            highlights=highlights,
        )


def _verbatim(sentence: str, words: str) -> str:
    """``words`` (case-folded) as ``sentence`` spells them, or "" when it does not."""
    m = re.search(r"\s+".join(re.escape(w) for w in words.split()), sentence, re.I)
    return m.group(0) if m else ""


def _signals(
    ctx: _Context,
    new: str,
    counterpart: str,
    other_year: str,
    evidence: _Evidence,
    *,
    prefix: str = "new",
) -> None:
    """The entity, law, date, figure and event signals of ``new`` against what it replaced."""
    side = _profile(counterpart)
    counterpart_folded = side.folded
    entities = [
        e
        for e in _entities(new)
        if e.casefold() not in counterpart_folded and e.casefold() not in other_year
    ]
    laws = [e for e in entities if _is_legal(e)]
    for law in laws[:2]:
        reason = f"{prefix} law or regulator: {law}"
        evidence.add(W_LAW, reason, "new_law_regulation", strong=True, marks=[law])
    for entity in [e for e in entities if e not in laws][:2]:
        evidence.add(W_ENTITY, f"{prefix} name: {entity}", marks=[entity])
    dated = False
    for m in _DATE.finditer(new):
        if m.group(0).casefold() in counterpart_folded:
            continue
        if ctx.recent is not None and int(m.group("year")) < ctx.recent:
            continue
        evidence.add(
            W_DATE, f"{prefix} date: {m.group(0)}", "new_event", strong=True, marks=[m.group(0)]
        )
        dated = True
        break
    figures = [("amount", m.group(0).strip()) for m in _AMOUNT.finditer(new)]
    figures += [("percentage", m.group(0).strip()) for m in _PERCENT.finditer(new)]
    for kind, value in [(k, v) for k, v in figures if v.casefold() not in counterpart_folded][:2]:
        evidence.add(W_FIGURE, f"{prefix} {kind}: {value}", strong=True, marks=[value])
    if not dated:
        amounts = " ".join(v for _, v in figures)
        years = [
            y
            for y in dict.fromkeys(m.group(0) for m in _YEAR.finditer(new))
            if y not in counterpart_folded and y not in amounts
        ]
        for year in [y for y in years if ctx.recent is None or int(y) >= ctx.recent][:1]:
            evidence.add(W_YEAR, f"{prefix} year: {year}", marks=[year])
    fact = _stated_as_fact(new)
    for name, surface in _events(new):
        if name in side.events:
            continue
        evidence.add(
            W_EVENT_DATED if (fact or dated) else W_EVENT,
            f"{prefix} event: {surface}" + (f" ('{fact}')" if fact else ""),
            "new_event",
            strong=True,
            marks=[_verbatim(new, surface), fact or ""],
        )
        break


def _substance(new: str, counterpart_words: frozenset[str], evidence: _Evidence) -> float:
    """The evidence's score, scaled down for fragments and for boilerplate."""
    score = evidence.score()
    if _word_count(new) < MIN_WORDS:
        return score * FRAGMENT
    if not evidence.strong and len(_profile(new).words - counterpart_words) < MIN_NOVEL_WORDS:
        return score * BOILERPLATE
    return score


def _novelty(new: str, counterpart_words: frozenset[str], evidence: _Evidence) -> None:
    novel = _profile(new).words - counterpart_words
    if novel:
        evidence.add(min(NOVEL_CAP, W_NOVEL_WORD * len(novel)), f"{len(novel)} new content words")


def _masked(text: str) -> str:
    """The sentence with its years, page number, punctuation and spacing masked."""
    text = _PAGE_NUMBER.sub("", " ".join(text.split()))
    return re.sub(r"[^a-z0-9]", "", _YEAR.sub("", text).casefold())


def _added(
    ctx: _Context, sentence: str, old_body: str, old_words: frozenset[str]
) -> MaterialChange:
    evidence = _Evidence()
    fact = _stated_as_fact(sentence)
    if fact is not None:
        hypothetical = _hypothetical(old_body)
        for name, surface in _events(sentence):
            if name in hypothetical:
                evidence.add(
                    W_REALISED,
                    f"realised: {surface} now stated as fact ('{fact}')",
                    "realised",
                    strong=True,
                    marks=[fact, _verbatim(sentence, surface)],
                )
                break
    _signals(ctx, sentence, old_body, ctx.previous_year, evidence)
    _novelty(sentence, old_words, evidence)
    score = _substance(sentence, old_words, evidence)
    return ctx.make(evidence, score, "added", "new_exposure", current=sentence)


def _removed(
    ctx: _Context, sentence: str, new_body: str, new_words: frozenset[str]
) -> MaterialChange:
    evidence = _Evidence()
    _signals(ctx, sentence, new_body, ctx.current_year, evidence, prefix="dropped")
    _novelty(sentence, new_words, evidence)
    evidence.kind = "removed_exposure"  # whatever it names, the filer stopped saying it
    score = _substance(sentence, new_words, evidence) * REMOVED_FACTOR
    return ctx.make(evidence, score, "removed", "removed_exposure", previous=sentence)


def _edited(ctx: _Context, previous: str, current: str, trivial: bool) -> MaterialChange:
    evidence = _Evidence()
    if trivial or _masked(previous) == _masked(current):
        evidence.reasons.append("only years, page numbers, punctuation or spacing changed")
        return ctx.make(evidence, 0.0, "edited", "new_exposure", current, previous)
    realised = _realised(previous, current)
    if realised is not None:
        evidence.add(
            W_REALISED,
            f"realised: '{realised[0]}' → '{realised[1]}'",
            "realised",
            strong=True,
            marks=[realised[1]],
        )
    _signals(ctx, current, previous, ctx.previous_year, evidence)
    old_words = _profile(previous).words
    _novelty(current, old_words, evidence)
    score = _substance(current, old_words, evidence)
    return ctx.make(evidence, score, "edited", "new_exposure", current, previous)


def _whole_risk(ctx: _Context, new: bool) -> MaterialChange:
    r = ctx.risk
    body = (r.text_current if new else r.text_previous) or ""
    title = (r.title_current if new else r.title_previous) or ""
    other_year = ctx.previous_year if new else ctx.current_year
    short = _word_count(body) < SHORT_RISK_WORDS
    best: tuple[float, str, _Evidence] | None = None
    for sentence in split_sentences(body):
        if _word_count(sentence) < MIN_WORDS:
            continue
        found = _Evidence()
        _signals(ctx, sentence, "", other_year, found, prefix="new" if new else "dropped")
        if found.weights and (best is None or found.score() > best[0]):
            best = (found.score(), sentence, found)
    evidence = _Evidence()
    label = "new risk" if new else "removed risk"
    evidence.add(
        W_NEW_RISK_SHORT if short else W_NEW_RISK,
        f"{label}: '{_clip(title)}'" + (" (short)" if short else ""),
    )
    quote = title
    if best is not None:
        quote = best[1]
        for weight, reason in zip(best[2].weights, best[2].reasons, strict=True):
            evidence.add(weight, reason)
        evidence.marks.extend(best[2].marks)
    evidence.kind = "new_risk" if new else "removed_risk"
    if new:
        return ctx.make(evidence, evidence.score(), "new_risk", "new_risk", current=quote)
    return ctx.make(evidence, evidence.score(), "removed_risk", "removed_risk", previous=quote)


def _year_text(risks: Iterable[RiskChange], current: bool) -> str:
    parts = []
    for r in risks:
        parts.append((r.title_current if current else r.title_previous) or "")
        parts.append((r.text_current if current else r.text_previous) or "")
    return _fold(" ".join(parts))


def score_changes(
    risks: Sequence[RiskChange], years: tuple[int, int] | None = None
) -> list[MaterialChange]:
    """Every change of the comparison scored, most material first (ties: reading order).

    ``years`` are the (current, previous) fiscal years: a dated statement is news only
    when it names the previous fiscal year or later ("in September 2023" in a fiscal 2025
    filing is history).
    """
    current_year, previous_year = _year_text(risks, True), _year_text(risks, False)
    recent = years[1] if years is not None else None
    scored: list[MaterialChange] = []
    for index, risk in enumerate(risks):
        ctx = _Context(index, risk, current_year, previous_year, recent)
        if risk.status == "new":
            scored.append(_whole_risk(ctx, new=True))
            continue
        if risk.status == "removed":
            scored.append(_whole_risk(ctx, new=False))
            continue
        changes = risk.changes
        if changes is None:
            continue
        old_body, new_body = risk.text_previous or "", risk.text_current or ""
        if changes.added:  # a body is read only when a sentence was added to or cut from it
            old_words = _profile(old_body).words | _profile(risk.title_previous or "").words
            for s in changes.added:
                scored.append(_added(ctx, s.text, old_body, old_words))
        if changes.removed:
            new_words = _profile(new_body).words | _profile(risk.title_current or "").words
            for s in changes.removed:
                scored.append(_removed(ctx, s.text, new_body, new_words))
        for e in changes.edited:
            scored.append(_edited(ctx, e.previous, e.current, bool(getattr(e, "trivial", False))))
    order = sorted(range(len(scored)), key=lambda k: (-scored[k].score, k))
    return [scored[k] for k in order]


def material_changes(
    risks: Sequence[RiskChange], years: tuple[int, int] | None = None
) -> list[MaterialChange]:
    """The changes worth a reader's attention: score ≥ :data:`MIN_SCORE`, at most
    :data:`MAX_CHANGES`, most material first."""
    return [c for c in score_changes(risks, years) if c.score >= MIN_SCORE][:MAX_CHANGES]
