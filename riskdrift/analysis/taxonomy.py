"""Mapping risk factors to riskdrift's risk taxonomy.

Twelve categories plus ``other``. A risk is categorised, in order of
preference, by the filer's own category heading (when that heading names a
taxonomy category: "Legal and Regulatory Risks" → regulatory/legal, but
"Risks Related to Our Business" names none), then by its title, then by its
body. A heading counts only when it names exactly one category ("Technology,
Cybersecurity and Regulation" names three and is skipped). Each source scores
the categories by keyword hits (a keyword is a word prefix); the best-scoring
category wins, ties going to the earlier category.
"""

from __future__ import annotations

import re

__all__ = ["CATEGORIES", "OTHER", "categorise"]

OTHER = "other"

#: Category → keyword prefixes. Order breaks ties.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "cybersecurity/privacy": (
        "cyber", "security breach", "breach", "hack", "privacy", "personal data",
        "personal information", "data protection", "malware", "ransomware", "unauthorized access",
        "information security", "data security", "confidential information",
    ),
    "regulatory/legal": (
        "regulat", "legal", "law", "litigation", "lawsuit", "legislat", "compliance",
        "antitrust", "government investigation", "enforcement", "proceeding", "tax", "court",
        "consent order",
    ),
    "supply chain": (
        "supplier", "supply", "manufactur", "component", "sourcing", "logistic", "inventor",
        "fulfillment", "vendor", "raw material", "commodit",
    ),
    "technology/IP": (
        "intellectual property", "patent", "trademark", "copyright", "technolog",
        "innovation", "artificial intelligence", "software", "product development",
        "new products", "platform",
    ),
    "competition": ("competit", "competitor", "market share", "rival", "pricing pressure"),
    "macroeconomic": (
        "econom", "recession", "inflation", "interest rate", "consumer spending", "downturn",
        "macroeconomic", "demand", "housing market",
    ),
    "international/geopolitical": (
        "international", "geopolit", "foreign", "global operation", "trade", "tariff",
        "export", "war", "conflict", "political", "sanction", "outside the united states",
    ),
    "financial/liquidity": (
        "financ", "liquidity", "debt", "indebted", "credit", "capital", "currency",
        "exchange rate", "goodwill", "impair", "pension", "accounting", "cash flow",
        "investment portfolio", "financial results", "operating results",
    ),
    "market/stock": (
        "stock price", "common stock", "share price", "stockholder", "shareholder", "dividend",
        "share repurchase", "trading price", "dual class", "anti-takeover", "takeover",
        "delaware law", "securities", "volatil",
    ),
    "people": (
        "employee", "personnel", "talent", "key management", "executive", "labor", "workforce",
        "associates", "union", "skilled", "team members", "human capital", "retain",
    ),
    "climate/ESG": (
        "climate", "environmental", "sustainab", "esg", "weather", "natural disaster",
        "carbon", "emission", "social and governance",
    ),
    "operations": (
        "operation", "disruption", "system failure", "information technology", "outage",
        "product quality", "defect", "recall", "execution", "acquisition", "integration",
        "business continuity", "store", "infrastructure", "catastroph", "pandemic",
        "reputation", "brand", "strategic",
    ),
}  # fmt: skip

CATEGORIES: tuple[str, ...] = (*_KEYWORDS, OTHER)

_PATTERNS = {
    category: re.compile(r"\b(?:" + "|".join(re.escape(k) for k in keys) + ")", re.IGNORECASE)
    for category, keys in _KEYWORDS.items()
}
#: Only this much of a body is scanned: the opening states what the risk is about.
BODY_CHARS = 3000


def _matches(text: str) -> list[str]:
    return [category for category, pattern in _PATTERNS.items() if pattern.search(text)]


def _best(text: str) -> str | None:
    best: tuple[int, str] | None = None
    for category, pattern in _PATTERNS.items():
        hits = len(pattern.findall(text))
        if hits and (best is None or hits > best[0]):
            best = (hits, category)
    return best[1] if best else None


def categorise(title: str, body: str = "", section: str | None = None) -> str:
    """The taxonomy category of a risk, preferring the filer's own section heading."""
    if section:
        named = _matches(section)
        if len(named) == 1:  # "Financial Risks"; a heading naming several decides nothing
            return named[0]
    return _best(title) or _best(body[:BODY_CHARS]) or OTHER
