"""Mapping risk factors to riskdrift's risk taxonomy, from the risk's own words.

Twelve categories plus ``other``; what belongs where, and the tie-break
rules, are in docs/TAXONOMY.md. A risk is scored for every category by
weighted keyword hits (a keyword is a word prefix, or a whole word when it
ends in ``=``):

- the title counts most, and within it the *subject* (the words before the
  first "could"/"may"/"might"…) counts above the harm clause after it, which
  is mostly boilerplate ("…could adversely affect our financial results");
- the opening of the body counts a little per hit, so a title that names no
  subject ("We Face Significant Inventory Risk") is decided by what follows;
- the filer's section heading is a bonus to the category it names (shared
  when it names several), never the answer on its own: NVIDIA's indebtedness
  risk sits under "Regulatory, Legal, Our Stock and Other Matters" and is
  still ``financial/liquidity``.

Harm boilerplate ("results of operations", "financial condition") is removed
before counting. The best score wins; ties go to the earlier category. One
regex pass per text, so 48 risks take a few milliseconds.
"""

from __future__ import annotations

import re

__all__ = ["CATEGORIES", "OTHER", "categorise"]

OTHER = "other"

#: Category → keywords, each with a weight (1 unless given). Order breaks ties.
_KEYWORDS: dict[str, dict[str, float]] = {
    "cybersecurity/privacy": {
        "cyber": 2, "security breach": 2, "breach": 1, "hack": 2, "malware": 2,
        "ransomware": 2, "unauthorized access": 2, "unauthorized control": 2,
        "security incident": 2, "data loss": 2, "loss of data": 1, "privacy and security": 2,
        "privacy or security": 2, "privacy": 0.5, "personal information": 0.5,
        "confidential information": 1, "information security": 2, "data security": 1,
    },
    "regulatory/legal": {
        "regulat": 1, "laws": 1, "law=": 1, "legal": 1, "litigation": 1.5, "lawsuit": 1.5,
        "legislat": 1, "compliance": 0.5, "comply": 0.5, "antitrust": 1,
        "investigation": 1, "enforcement": 1, "proceeding": 1, "tax": 1.5, "court": 0.5,
        "consent order": 1, "liability": 1, "product liability": 2, "claims": 0.5,
        "government": 0.5, "penalt": 1, "procurement": 1, "unlawful": 1, "illegal": 1,
        "incentives": 1, "scrutiny": 0.5,
    },
    "supply chain": {
        "supplier": 1.5, "supply chain": 2, "supply": 1, "supplies": 1, "component": 1,
        "sourcing": 1, "single source": 1, "logistic": 1, "inventor": 1.5, "raw material": 1,
        "outsourc": 1, "vendor": 0.5, "battery cells": 1, "cells": 0.5,
    },
    "technology/IP": {
        "intellectual property": 2, "patent": 1.5, "trademark": 1, "copyright": 1,
        "infring": 1, "ip=": 1.5, "technolog": 1, "innovation": 1.5,
        "artificial intelligence": 1.5, "ai=": 1.5, "generative": 1, "software": 0.5,
        "developers": 1, "new products": 1, "transitions": 1, "licens": 0.5,
        "technological change": 1,
    },
    "competition": {
        "competit": 1.5, "compete": 1, "competitor": 1.5, "market share": 1, "rival": 1,
        "pricing pressure": 1, "preferences": 1.5, "trends": 1, "customer needs": 1,
        "demand for electric": 1,
    },
    "macroeconomic": {
        "econom": 1.5, "macro": 1.5, "recession": 1.5, "inflation": 1.5, "deflation": 1.5,
        "interest rate": 1, "consumer spending": 1, "client spending": 1, "spending budgets": 1,
        "downturn": 1.5, "housing": 1.5, "commodit": 1,
    },
    "international/geopolitical": {
        "international": 1.5, "geopolit": 1.5, "foreign": 0.5, "global presence": 1.5,
        "trade": 1, "tariff": 1.5, "export": 1.5, "war=": 1, "wars=": 1, "conflict": 1,
        "political": 1, "sanction": 1, "outside the u.s": 1, "outside of the u.s": 1,
        "outside the united states": 1, "outside of the united states": 1,
        "countries": 0.5,
    },
    "financial/liquidity": {
        "financial=": 0.5, "financing": 1, "financial institution": 1, "liquidity": 1.5,
        "debt": 1.5,
        "indebted": 2, "covenant": 1.5, "credit": 1, "capital markets": 1, "funds": 1,
        "currenc": 1.5, "foreign exchange": 2, "exchange rate": 1.5, "goodwill": 1.5,
        "impair": 1, "write-down": 1.5, "pension": 1.5, "accounting": 1.5,
        "internal control": 1.5, "cash flow": 1, "investment portfolio": 1, "receivable": 1,
        "margins": 1, "fluctuat": 1, "difficult to predict": 1, "expenses": 1,
        "insurance": 1.5, "insure": 1, "warranty": 1.5, "payment": 1, "depreciat": 1,
        "obsolescence": 0.5, "growth rate": 0.5,
    },
    "market/stock": {
        "stock price": 2, "common stock": 1.5, "share price": 2,
        "stock=": 1, "stockholder": 1, "shareholder": 0.5, "dividend": 1.5, "repurchase": 1.5,
        "trading price": 2, "dual class": 2, "anti-takeover": 2, "takeover": 1.5,
        "change in control": 1.5, "delaware": 1.5,
        "exclusive forum": 1.5, "securities": 1, "volatil": 0.5, "guidance": 1.5,
        "expectations for our financial": 1, "market expectations": 1.5,
    },
    "people": {
        "employee": 1.5, "personnel": 1.5, "talent": 1.5, "key management": 1,
        "senior management": 1, "executive": 1, "labor": 1, "workforce": 1, "associates": 1.5,
        "union": 1.5, "skilled": 1, "skills": 1, "team members": 1.5, "human capital": 1,
        "chief executive officer": 1, "wage": 1,
    },
    "climate/ESG": {
        "climate": 2, "environmental matters": 1, "sustainab": 1.5, "esg": 2, "emission": 1,
        "carbon": 1, "social and governance": 1, "stakeholder": 1, "social and other issues": 1,
    },
    "operations": {
        "disruption": 1, "system failure": 1, "systems": 0.5, "information technology": 1,
        "outage": 1, "interruption": 1, "redundancy": 1, "quality": 1, "safety": 0.5,
        "defect": 1.5, "recall": 1.5, "execut": 1, "execution": 1, "strateg": 1,
        "acquisition": 1.5, "acquire": 1, "integrat": 1, "alliance": 1.5,
        "business relationship": 1, "commercial agreement": 1, "commercial relationship": 1,
        "expansion": 1, "growth": 0.5, "infrastructure": 1, "data center": 1,
        "fulfillment": 1, "factory": 1, "factories": 1, "production": 1,
        "reputation": 0.5, "brand": 1, "credibility": 1,
        "catastroph": 1.5, "natural disaster": 1.5, "pandemic": 1.5, "epidemic": 1.5,
        "weather": 1, "terrorism": 0.5, "reseller": 1.5, "carriers": 1.5,
        "distribution channel": 1.5, "partners": 0.5, "distributors": 1, "customers": 0.5,
        "content": 0.5, "initiatives": 0.5, "investments": 0.5, "services": 0.25,
        "installation": 1, "processes": 0.5, "objectives": 0.5, "shrink": 1,
    },
}  # fmt: skip

CATEGORIES: tuple[str, ...] = (*_KEYWORDS, OTHER)

#: Keyword (as matched, lower case) → (category, weight).
_LOOKUP: dict[str, tuple[str, float]] = {
    keyword.rstrip("=").lower(): (category, weight)
    for category, keywords in _KEYWORDS.items()
    for keyword, weight in keywords.items()
}
#: Character → subtrie; key "$" ends a keyword, "" ends a whole-word keyword.
_Trie = dict[str, "_Trie"]


def _trie_pattern(keywords: list[str]) -> str:
    """One regex for all keywords, factored by shared prefixes.

    Python's ``re`` tries a flat alternation's 240 branches at every word; the
    trie form tries one character at a time, ~20 times faster. Continuations
    come before the end of a keyword, so the longest keyword wins ("foreign
    exchange" over "foreign"); a keyword ending in ``=`` must end a word.
    """
    trie: _Trie = {}
    for keyword in keywords:
        node = trie
        for char in keyword.rstrip("=").lower():
            node = node.setdefault(char, {})
        node["" if keyword.endswith("=") else "$"] = {}

    def pattern(node: _Trie) -> str:
        branches = [re.escape(c) + pattern(child) for c, child in node.items() if len(c) == 1]
        branches += [r"\b" for c in node if c == ""] + ["" for c in node if c == "$"]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return pattern(trie)


# Case-sensitive on lower-cased text: half the time of IGNORECASE.
_KEYWORD = re.compile(r"\b" + _trie_pattern([k for kws in _KEYWORDS.values() for k in kws]))
#: The harm every risk ends in; it says nothing about what the risk is about.
_BOILERPLATE = re.compile(
    r"\b(?:results of operations|financial (?:condition|position|results|performance)"
    r"|operating results|our business(?:es)?|business and operations)\b"
)
#: Where a title's subject ends and its harm clause begins.
_MODAL = re.compile(r"\b(?:could|may|might|can|would|will)\b", re.IGNORECASE)

#: Only this much of a body is scanned: the opening states what the risk is about.
BODY_CHARS = 1500
TITLE_WEIGHT = 3.0
HARM_CLAUSE_WEIGHT = 0.4  # of the title's weight, when the subject already scored
FIRST_NAMED_BONUS = 2.0  # to the category of the subject's first keyword
BODY_WEIGHT = 0.3
SECTION_WEIGHT = 1.5  # split among the categories a heading names


def _scores(text: str, weight: float, into: dict[str, float]) -> str | None:
    """Add ``text``'s keyword hits × ``weight`` into ``into``; the first hit's category."""
    first = None
    for match in _KEYWORD.finditer(_BOILERPLATE.sub(" ", text.lower())):
        category, keyword_weight = _LOOKUP[match.group()]
        into[category] = into.get(category, 0.0) + keyword_weight * weight
        first = first or category
    return first


def categorise(title: str, body: str = "", section: str | None = None) -> str:
    """The taxonomy category of a risk, from its title and body, with its section as a bonus."""
    scores: dict[str, float] = {}
    modal = _MODAL.search(title)
    subject, harm = (title[: modal.start()], title[modal.start() :]) if modal else (title, "")
    first = _scores(subject, TITLE_WEIGHT, scores)
    if first:  # the rule book's "first-named subject decides"
        scores[first] += FIRST_NAMED_BONUS
    _scores(harm, TITLE_WEIGHT * (HARM_CLAUSE_WEIGHT if first else 1.0), scores)
    _scores(body[:BODY_CHARS], BODY_WEIGHT, scores)
    if section:
        named: dict[str, float] = {}
        _scores(section, 1.0, named)
        for category in named:
            scores[category] = scores.get(category, 0.0) + SECTION_WEIGHT / len(named)
    if not scores:
        return OTHER
    order = {category: i for i, category in enumerate(CATEGORIES)}
    return max(scores, key=lambda c: (scores[c], -order[c]))
