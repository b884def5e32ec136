"""Synthetic 10-K filings for the worker's pool tests, written to a local filings directory.

Made up here (seeded, no corpus text): a valid filing whose Item 1A holds ``risks``
risk factors (more risks, a longer analysis), and hostile ones: deep nesting, a huge
run of text, a filing padded to a given size.
"""

from __future__ import annotations

import random
from pathlib import Path

_PARAGRAPH = (
    "supply demand customers competition regulation litigation cyber security breach "
    "revenue margin inflation interest currency pandemic climate weather suppliers "
    "manufacturing capacity product launch reputation talent employees taxes tariffs "
    "government contracts intellectual property patents data privacy outages cloud "
    "acquisitions integration debt liquidity credit rating shareholders volatility "
    "adverse material decline loss failure delay disruption uncertainty significant"
)
WORDS = _PARAGRAPH.split()


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def valid_filing(year: int, *, risks: int = 12, seed: int = 0) -> bytes:
    """A small 10-K whose Item 1A has ``risks`` headed risk factors."""
    rng = random.Random(seed * 10_000 + year)
    parts = [
        "<html><body>",
        f"<p>ACME Example Corp. Annual report for fiscal year {year}.</p>",
        "<p><b>Item 1. Business</b></p><p>We make example products for tests.</p>",
        "<p><b>Item 1A. Risk Factors</b></p>",
    ]
    for n in range(risks):
        heading = f"Risk {n}: {_sentence(rng, 8)}"
        body = " ".join(_sentence(rng, 18) for _ in range(6))
        parts.append(f"<p><b>{heading}</b></p><p>{body}</p>")
    parts += [
        "<p><b>Item 1B. Unresolved Staff Comments</b></p><p>None.</p>",
        "<p><b>Item 2. Properties</b></p><p>We lease an office.</p>",
        "</body></html>",
    ]
    return "\n".join(parts).encode()


def deeply_nested(depth: int) -> bytes:
    """``depth`` nested ``<div>``s with text at every level (issue #23's hostile filing)."""
    return ("<html><body>" + "<div>risk " * depth + "</div>" * depth + "</body></html>").encode()


def huge_text(megabytes: int) -> bytes:
    """One paragraph of ``megabytes`` MiB of words: a filing of text without end."""
    word = b"risk "
    return (
        b"<html><body><p>" + word * (megabytes * 1024 * 1024 // len(word)) + b"</p></body></html>"
    )


def write(directory: Path, ticker: str, year: int, content: bytes) -> None:
    """Put ``content`` where the local filing source looks: ``<dir>/<TICKER>/<YEAR>.html``."""
    folder = directory / ticker
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{year}.html").write_bytes(content)
