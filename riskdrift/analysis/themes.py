"""Emerging and fading themes: the terms whose use rose or fell most between two years.

A *term* is a run of one to three words inside one sentence, case-folded, that holds
no stop word and no figure, and is not made only of generic risk-factor vocabulary
("adversely affect", "results of operations"). Before counting, the spellings of one
term are folded into one (:class:`TermFolding`, built from both years' text):

* **inflections, lightly**: a possessive ("Walmex's") and a regular plural
  ("tariffs", "policies", "taxes") fold to the singular, and nothing else does. A
  stemmer (Porter2, used until #22) merged different words — "biologics" and
  "biological", "provider" and "provision", "operator" and "operations" — so themes
  named words the filing did not use;
* **hyphenation and compounds**: a hyphenated word is its parts ("third-party" is
  "third party"), and two words written solid elsewhere in either year's text are
  that word ("cyber attacks", "cyber-attacks" and "cyberattacks" are one term);
* **acronyms the filing defines**: "expansion (ACRONYM)" in either year's text
  ("environmental, social and governance (ESG)", "Inflation Reduction Act (IRA)")
  makes every later use of the expansion a use of the acronym; the definition itself
  counts once.

Each year's count is the number of times the term occurs in that year's whole Item 1A
text; the risks it occurs in are recorded as indexes into the result's ``risks`` rows.

* **emerging**: used at least :data:`MIN_USES` times this year and at most
  :data:`NEAR_ABSENT` of that last year (absent or near-absent);
* **fading**: the same with the years swapped.

Terms are ranked by the rise (or fall) of their count; a term whose count is
(almost) all inside a longer listed term ("export" inside "export controls")
is dropped in favour of the longer one. A term used in only one risk is listed only
if no higher-ranked term comes from that risk alone, so one reworded risk cannot
fill the list. The surface form shown is the most frequent case-folded spelling of
the term in the text it rose (or fell) in; ``forms`` lists every spelling counted.

Pure and reproducible: the counts are plain occurrence counts in the section
text, so a reader searching the filing for the term's forms (and their plurals)
finds them.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from riskdrift.analysis.sentences import GENERIC_WORDS, split_sentences
from riskdrift.analysis.similarity import STOPWORDS
from riskdrift.models import Themes, ThemeTerm

__all__ = [
    "MAX_FORMS",
    "MIN_USES",
    "NEAR_ABSENT",
    "TermCounts",
    "TermFolding",
    "clear_caches",
    "count_terms",
    "find_themes",
    "fold_word",
]

MIN_USES = 3
#: Last year's count may be at most this share of this year's for a term to be emerging.
NEAR_ABSENT = 0.2
MAX_WORDS = 3  # (:func:`_runs` is written for 3)
TOP = 15
#: A listed longer term holding at least this share of a shorter term's uses replaces it.
SUBSUMED = 0.8

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*[A-Za-z0-9]|[A-Za-z0-9]")
#: Words too common in risk factors to name a theme on their own or at a term's edge.
_EDGE_STOP = (
    STOPWORDS
    | GENERIC_WORDS
    | frozenset(
        [
            "able",
            "addition",
            "additional",
            "already",
            "approximately",
            "currently",
            "fiscal",
            "inc",
            "recent",
            "recently",
            "select",
            "several",
            "significant",
            "significantly",
            "substantial",
            "substantially",
            "certain",
            "continue",
            "continued",
            "due",
            "example",
            "fail",
            "failure",
            "increase",
            "increased",
            "increases",
            "increasing",
            "including",
            "level",
            "levels",
            "new",
            "other",
            "others",
            "part",
            "potential",
            "related",
            "relating",
            "respect",
            "similar",
            "various",
            "way",
            "ways",
            "well",
            "whether",
            "within",
            "years",
            "year",
            "time",
            "times",
            "number",
            "many",
            "much",
            "one",
            "two",
            "three",
        ]
    )
)
#: Clause breaks inside a sentence: a term never spans one.
_TOKEN_OR_BREAK = re.compile(_TOKEN.pattern + r"|[,;:()\[\]–—]|\s-\s")
#: At most this many spellings of a term are listed in its ``forms``.
MAX_FORMS = 8

#: Words an acronym's expansion may hold without giving the acronym a letter.
_MINOR = frozenset(["and", "&", "of", "the", "for", "on", "in", "to", "a", "an", "with", "by"])
_QUOTE = r"[“”\"'‘’]?"
_DEFINITION = re.compile(
    rf"\(\s*(?:the\s+)?{_QUOTE}([A-Z][A-Za-z0-9&]{{0,8}}[A-Z0-9])s?{_QUOTE}\s*\)"
)
_EXPANSION_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’]*|&")
#: Where an expansion cannot reach back past.
_EXPANSION_STOP = re.compile(r"[.;:()\[\]\n\"“”]")
_SOLID_WORD = re.compile(r"[a-z0-9][a-z0-9'’]*")
_PLURAL_KEEP = ("ss", "us", "is")  # business, status, analysis are not plurals
_SEPARATOR = r"(?:\s*[,\-–—/]\s*|\s+)"


@functools.lru_cache(maxsize=65536)
def fold_word(word: str) -> str:
    """A case-folded word without its possessive or regular plural ending.

    "Tariffs" → "tariff", "policies" → "policy", "taxes" → "tax", "Walmex's" →
    "walmex"; "business", "status", "analysis" are left alone. Nothing else is
    removed, so different words ("biologics", "biological") stay apart.
    """
    w = word.casefold().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    w = w.rstrip("'")
    if len(w) <= 3 or not w.endswith("s") or w.endswith(_PLURAL_KEEP):
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith(("sses", "xes", "ches", "shes")):
        return w[:-2]
    return w[:-1]


#: One word of a folded segment: its term key, the text it came from, the separator
#: (" " or "-") that joined it to the word before, and whether it stands for a defined
#: acronym (never merged into a compound).
_Word = tuple[str, str, str, bool]
#: A term and one of its spellings.
_Run = tuple[tuple[str, ...], str]


@dataclass
class TermFolding:
    """How the spellings of a term fold into one, from both years' text.

    ``compounds`` maps two words to the word they make when written solid somewhere in
    the text (("cyber", "attack") → "cyberattack"), so "cyber attack(s)" and
    "cyber-attack(s)" fold into it; ``acronyms`` maps each
    acronym the filing defines to its expansion's words. Build it with :meth:`of`;
    it memoises what it folded, so one folding serves one comparison.
    """

    compounds: dict[tuple[str, str], str] = field(default_factory=dict)
    acronyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _patterns: dict[str, re.Pattern[str]] = field(default_factory=dict)
    _placeholders: dict[str, tuple[str, str]] = field(default_factory=dict)
    _variants: dict[tuple[str, str], str] = field(default_factory=dict)
    _rewritten: dict[str, str] = field(default_factory=dict)
    _triggers: dict[str, str] = field(default_factory=dict)
    _acronym_words: frozenset[str] = frozenset()
    _plain: dict[str, str] = field(default_factory=dict)
    _words: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    _token_keys: dict[str, str] = field(default_factory=dict)
    _keys: dict[tuple[str, ...], str] = field(default_factory=dict)
    _terms: dict[tuple[str, ...], _Run] = field(default_factory=dict)
    _sentence_runs: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    _sentence_keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, *texts: str) -> TermFolding:
        """The folding for a comparison of ``texts`` (both years' Item 1A)."""
        tokens: set[str] = set()
        acronyms: dict[str, tuple[str, ...]] = {}
        for text in texts:
            tokens.update(_SOLID_WORD.findall(text.casefold()))
            for acronym, words in _definitions(text):
                acronyms.setdefault(acronym, words)
        return cls(
            compounds=_compounds(tokens),
            acronyms=acronyms,
            _triggers={a: _trigger(words) for a, words in acronyms.items()},
            _acronym_words=frozenset(a.casefold() for a in acronyms),
        )

    def rewrite(self, sentence: str) -> str:
        """``sentence`` with each use of a defined expansion replaced by one word that
        stands for its acronym (and remembers the filer's spelling)."""
        if not self.acronyms:
            return sentence
        done = self._rewritten.get(sentence)
        if done is not None:
            return done
        done = sentence
        low = sentence.casefold()
        # Substring tests, one per acronym, are far cheaper than one regex alternation.
        if not any(trigger in low for trigger in self._triggers.values()):
            self._rewritten[sentence] = done
            return done
        for acronym, trigger in self._triggers.items():
            if trigger in low:
                done = self._pattern(acronym).sub(
                    functools.partial(self._placeholder, acronym), done
                )
        self._rewritten[sentence] = done
        return done

    def _pattern(self, acronym: str) -> re.Pattern[str]:
        pattern = self._patterns.get(acronym)
        if pattern is None:
            expansion = _SEPARATOR.join(
                r"(?:and|&)" if w.casefold() in ("and", "&") else re.escape(w.strip(","))
                for w in self.acronyms[acronym]
            )
            pattern = self._patterns[acronym] = re.compile(
                rf"\b(?P<e>{expansion})\b"
                rf"(?:\s*\(\s*(?:the\s+)?{_QUOTE}{re.escape(acronym)}s?{_QUOTE}\s*\))?",
                re.IGNORECASE,
            )
        return pattern

    def _placeholder(self, acronym: str, match: re.Match[str]) -> str:
        surface = " ".join(match.group("e").split()).casefold()
        name = self._variants.get((acronym, surface))
        if name is None:
            name = self._variants[(acronym, surface)] = f"zqacr{len(self._variants)}q"
            self._placeholders[name] = (fold_word(acronym), surface)
        return name

    def words(self, segment: tuple[str, ...]) -> tuple[str, ...]:
        """The segment as the words terms are made of: as written where each word folds
        on its own (most segments), else folded ("cyber attacks" one word, "third-party"
        two: "third", "-party"), so no term is a part of a folded word."""
        words = self._words.get(segment)
        if words is None:
            if self._plain_keys(segment) is not None:
                words = segment
            else:
                tokens = []
                for key, surface, sep, _ in self._fold(segment):
                    token = surface if sep == " " else sep + surface
                    self._token_keys[token] = key
                    tokens.append(token)
                words = tuple(tokens)
            self._words[segment] = words
        return words

    def term(self, words: tuple[str, ...]) -> _Run:
        """A run of :meth:`words` as a term, and the filer's spelling of it."""
        done = self._terms.get(words)
        if done is None:
            done = self._terms[words] = self._term(words)
        return done

    def _term(self, words: tuple[str, ...]) -> _Run:
        token_keys = self._token_keys
        keys = []
        for w in words:
            key = token_keys.get(w)
            if key is None:
                key = token_keys[w] = fold_word(w)
            keys.append(key)
        if len(words) == 1:
            return tuple(keys), words[0].lstrip("-")
        spelled = words[0].lstrip("-") + "".join(
            w if w.startswith("-") else " " + w for w in words[1:]
        )
        return tuple(keys), spelled

    def _plain_keys(self, words: Sequence[str]) -> tuple[str, ...] | None:
        """The words' keys when each folds on its own (most runs), else None."""
        plain = self._plain
        keys = []
        for w in words:
            key = plain.get(w)
            if key is None:
                key = plain[w] = self._plain_key(w)
            if not key:
                return None
            keys.append(key)
        compounds = self.compounds
        for i in range(len(words) - 1):
            if (words[i], keys[i + 1]) in compounds:
                return None
        return tuple(keys)

    def _plain_key(self, word: str) -> str:
        """The word's key, or "" when it needs :meth:`_fold` (a hyphen, an acronym)."""
        if "-" in word or word in self._placeholders or word in self._acronym_words:
            return ""
        return fold_word(word)

    def sentence_runs(self, sentence: str) -> list[tuple[str, ...]]:
        """Every 1-3 word run of :meth:`words` in ``sentence``. Memoised: the two years'
        sections share most of their sentences, so the second year reads few anew."""
        runs = self._sentence_runs.get(sentence)
        if runs is None:
            runs = _runs(map(self.words, _segments(self.rewrite(sentence))))
            self._sentence_runs[sentence] = runs
        return runs

    def sentence_keys(self, sentence: str) -> str:
        """The sentence's segments as :meth:`keys`, ``" | "``-separated and padded with a
        space each side (what :meth:`TermCounts.risks_of` searches). Memoised."""
        keys = self._sentence_keys.get(sentence)
        if keys is None:
            joined = " | ".join(self.keys(s) for s in _segments(self.rewrite(sentence)))
            keys = self._sentence_keys[sentence] = f" {joined} "
        return keys

    def keys(self, segment: tuple[str, ...]) -> str:
        """A segment's folded words, space-separated (what :meth:`TermCounts.risks_of`
        searches)."""
        keys = self._keys.get(segment)
        if keys is None:
            keys = self._keys[segment] = " ".join(self.term(self.words(segment))[0])
        return keys

    def _fold(self, segment: Sequence[str]) -> list[_Word]:
        """Placeholders to acronyms, hyphenated words to their parts, two words written
        solid elsewhere to that word, each word to :func:`fold_word`."""
        parts: list[_Word] = []
        for raw in segment:
            placeholder = self._placeholders.get(raw)
            if placeholder is not None:
                parts.append((placeholder[0], placeholder[1], " ", True))
            elif "-" not in raw:
                parts.append((fold_word(raw), raw, " ", raw in self._acronym_words))
            else:
                pieces = raw.split("-")
                if all(_usable(p) is not None for p in pieces):
                    parts.extend(
                        (fold_word(p), p, " " if n == 0 else "-", False)
                        for n, p in enumerate(pieces)
                    )
                else:  # "e-commerce", "covid-19": one word
                    parts.append((fold_word(raw.replace("-", "")), raw, " ", False))
        if len(parts) < 2 or not self.compounds:
            return parts
        merged = [parts[0]]
        for word in parts[1:]:
            last = merged[-1]
            solid = self.compounds.get((last[1], word[0]))
            if solid is not None and not (last[3] or word[3]):
                merged[-1] = (solid, f"{last[1]}{word[2]}{word[1]}", last[2], False)
            else:
                merged.append(word)
        return merged

    def forms_of(self, key: tuple[str, ...]) -> list[str]:
        """The term with each defined acronym in it spelled out as the filer defined it
        ("esg" → "environmental, social and governance")."""
        out = []
        for acronym, words in self.acronyms.items():
            folded = fold_word(acronym)
            if folded in key:
                expansion = " ".join(words).casefold()
                out.append(" ".join(expansion if k == folded else k for k in key))
        return out


def _compounds(tokens: set[str]) -> dict[tuple[str, str], str]:
    """Each word of ``tokens`` that is two others written solid ("cyberattacks" is
    "cyber" + "attacks"), keyed by the first as written and the second folded."""
    compounds: dict[tuple[str, str], str] = {}
    for token in tokens:
        for k in range(3, len(token) - 2):
            head, tail = token[:k], token[k:]
            if head in tokens and tail in tokens and _usable(head) and _usable(tail):
                compounds[(head, fold_word(tail))] = fold_word(token)
    return compounds


def _trigger(words: Sequence[str]) -> str:
    """The expansion's longest word, case-folded: a sentence without it cannot hold it."""
    return max((w.strip(",").casefold() for w in words), key=len)


def _definitions(text: str) -> Iterable[tuple[str, tuple[str, ...]]]:
    """Each "expansion (ACRONYM)" in ``text``: the acronym and its expansion's words.

    The expansion is the shortest run of words just before the parenthesis whose
    initials spell the acronym, minor words ("and", "of", "the") optional; hyphenated
    words give an initial per part ("Know-Your-Customer (KYC)").
    """
    for match in _DEFINITION.finditer(text):
        acronym = match.group(1)
        letters = [c.casefold() for c in acronym if c.isalnum()]
        if sum(c.isupper() for c in acronym) < 2 or _usable(acronym) is None:
            continue
        before = text[max(0, match.start() - 300) : match.start()]
        cut = max((m.end() for m in _EXPANSION_STOP.finditer(before)), default=0)
        spans = list(_EXPANSION_WORD.finditer(before, cut))
        words = [m.group() for m in spans]
        for k in range(2, min(len(words), len(letters) + 4) + 1):
            candidate = words[-k:]
            if candidate[0].casefold() in _MINOR or not _spells(candidate, letters):
                continue
            if sum(w.casefold() not in _MINOR for w in candidate) >= 2:
                expansion = before[spans[-k].start() :].strip().rstrip(",")
                yield acronym, tuple(re.split(r"(?<=,)\s*|\s+", expansion))
            break


def _spells(words: Sequence[str], letters: Sequence[str]) -> bool:
    """Whether the words' initials spell ``letters``, minor words optional."""

    @functools.cache
    def go(i: int, j: int) -> bool:
        if i == len(words):
            return j == len(letters)
        word = words[i].casefold()
        takes = j < len(letters) and word[:1] == letters[j] and go(i + 1, j + 1)
        return takes or (word in _MINOR and go(i + 1, j))

    return go(0, 0)


@dataclass
class TermCounts:
    """Occurrences of every term in one year's text, its spellings, and its sentences.

    ``sentences`` holds, for each sentence of each risk, the risk's row and the
    sentence's term words (segments separated by ``|``).
    """

    counts: Counter[tuple[str, ...]] = field(default_factory=Counter)
    #: every spelling (case-folded word run) of each term and how often it was used
    spellings: dict[tuple[str, ...], dict[str, int]] = field(default_factory=dict)
    sentences: list[tuple[frozenset[int], str]] = field(default_factory=list)
    folding: TermFolding | None = None

    def risks_of(self, term: tuple[str, ...]) -> list[int]:
        """The risk rows whose text uses ``term``."""
        needle = " " + " ".join(term) + " "
        rows: set[int] = set()
        for sentence_rows, keys in self.sentences:
            if needle in keys:
                rows |= sentence_rows
        return sorted(rows)

    def spelling(self, term: tuple[str, ...]) -> str:
        """The term's most frequent spelling in this text."""
        forms = self.spellings[term]
        return max(forms, key=lambda s: (forms[s], s))


def clear_caches() -> None:
    """Forget the per-sentence caches (benchmarks measure each filing as met the first time;
    the word-level caches stay warm, as in a worker after its first job)."""
    _segments.cache_clear()


@functools.lru_cache(maxsize=16384)
def _segments(sentence: str) -> tuple[tuple[str, ...], ...]:
    """The sentence's maximal runs of words that may be part of a term, case-folded.

    A run ends at a clause break, a stop word, a bare figure or a short word (two-letter
    acronyms such as "AI" excepted), so no term ever spans one. Cached: the section and
    its risks hold the same sentences, and most recur in the other year.
    """
    segments: list[tuple[str, ...]] = []
    run: list[str] = []
    for raw in _TOKEN_OR_BREAK.findall(sentence):
        word = _usable(raw)
        if word is None:
            if run:
                segments.append(tuple(run))
                run = []
        else:
            run.append(word)
    if run:
        segments.append(tuple(run))
    return tuple(segments)


@functools.lru_cache(maxsize=65536)
def _usable(raw: str) -> str | None:
    """The filer's spelling, case-folded (apostrophe kept), of a word a term may hold."""
    if not any(c.isalpha() for c in raw):
        return None  # a clause break or a figure
    word = raw.casefold()
    if word.replace("’", "'") in _EDGE_STOP:
        return None
    return word if len(word) >= 3 or (len(raw) == 2 and raw.isupper()) else None


def _runs(segments: Iterable[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Every 1-3 word run inside the segments."""
    grams: list[tuple[str, ...]] = []
    extend = grams.extend
    for words in segments:
        # All runs of one length at a time (zip, in C; MAX_WORDS is 3); the order of the
        # runs is never read.
        extend(zip(words))
        if len(words) > 1:
            rest = words[1:]
            extend(zip(words, rest, strict=False))
            if len(words) > 2:
                extend(zip(words, rest, words[2:], strict=False))
    return grams


def count_terms(
    section: str, risk_texts: Sequence[tuple[int, str]], folding: TermFolding | None = None
) -> TermCounts:
    """Count every term in ``section`` and note which risks (row index, text) use it.

    ``folding`` should be built from both years' text (:meth:`TermFolding.of`), so
    a spelling or acronym one year defines folds the same way in the other; without
    it, this text alone is used. Each risk sentence is kept as its folded words, so the
    risks of the few terms reported are found by substring search afterwards.
    """
    folding = folding or TermFolding.of(section)
    runs: Counter[tuple[str, ...]] = Counter()
    for sentence in split_sentences(section):
        runs.update(folding.sentence_runs(sentence))
    found = TermCounts(folding=folding)
    counts, spellings = found.counts, found.spellings
    for words, n in runs.items():
        term, surface = folding.term(words)
        counts[term] += n
        forms = spellings.get(term)
        if forms is None:
            spellings[term] = {surface: n}
        else:
            forms[surface] = forms.get(surface, 0) + n
    for row, text in risk_texts:
        rows = frozenset({row})
        for sentence in split_sentences(text):
            found.sentences.append((rows, folding.sentence_keys(sentence)))
    return found


def _rising(this: TermCounts, other: TermCounts, *, current: bool) -> list[ThemeTerm]:
    candidates = [
        (n - other.counts.get(t, 0), n, t)
        for t, n in this.counts.items()
        if n >= MIN_USES and other.counts.get(t, 0) <= NEAR_ABSENT * n
    ]
    candidates.sort(key=lambda c: (-c[0], -len(c[2]), c[2]))
    chosen: list[tuple[str, ...]] = []
    for _, n, term in candidates:
        # Prefer the longest phrase: skip a term mostly used inside one already chosen, and
        # replace chosen terms that are mostly used inside this one.
        if any(_inside(term, longer) and this.counts[longer] >= SUBSUMED * n for longer in chosen):
            continue
        chosen = [c for c in chosen if not (_inside(c, term) and n >= SUBSUMED * this.counts[c])]
        chosen.append(term)
    chosen.sort(key=lambda t: (-(this.counts[t] - other.counts.get(t, 0)), t))
    out: list[ThemeTerm] = []
    alone: set[int] = set()  # risks that already gave a term used nowhere else
    for term in chosen:
        if len(out) == TOP:
            break
        mine = this.risks_of(term)
        if len(mine) == 1:
            if mine[0] in alone:
                continue  # one reworded risk may not fill the list
            alone.add(mine[0])
        theirs = other.risks_of(term)
        out.append(
            ThemeTerm(
                term=this.spelling(term),
                count_current=this.counts[term] if current else other.counts.get(term, 0),
                count_previous=other.counts.get(term, 0) if current else this.counts[term],
                risks_current=mine if current else theirs,
                risks_previous=theirs if current else mine,
                forms=_forms(term, this, other),
            )
        )
    return out


def _forms(term: tuple[str, ...], this: TermCounts, other: TermCounts) -> list[str]:
    """Every spelling of ``term`` counted in either year, most used first, then the
    expansions of the acronyms it holds."""
    used: Counter[str] = Counter()
    for counts in (this, other):
        used.update(counts.spellings.get(term, {}))
    forms = [f for f, _ in sorted(used.items(), key=lambda fn: (-fn[1], fn[0]))]
    folding = this.folding or other.folding
    if folding is not None:
        forms += [f for f in folding.forms_of(term) if f not in forms]
    return forms[:MAX_FORMS]


def _inside(short: tuple[str, ...], long: tuple[str, ...]) -> bool:
    if len(short) >= len(long):
        return False
    return any(long[i : i + len(short)] == short for i in range(len(long) - len(short) + 1))


def find_themes(current: TermCounts, previous: TermCounts) -> Themes:
    """The terms that emerged this year and those that faded since last year."""
    return Themes(
        emerging=_rising(current, previous, current=True),
        fading=_rising(previous, current, current=False),
    )
