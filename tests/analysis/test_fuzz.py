"""Random and truncated input: extraction and segmentation fail only with FilingParseError."""

from __future__ import annotations

import contextlib
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskdrift.analysis.pipeline import parse_filing
from riskdrift.errors import FilingParseError

SAMPLE = (
    Path(__file__).resolve().parents[2] / "riskdrift" / "samples" / "filings" / "ACME" / "2024.html"
)


@lru_cache(maxsize=1)
def sample() -> bytes:
    return SAMPLE.read_bytes()


def _parse_bounded(content: bytes) -> None:
    # Speed is bench/bench_analysis.py's business (and the worker's analysis budget's),
    # not a timed assertion here: only FilingParseError may escape.
    with contextlib.suppress(FilingParseError):
        parse_filing(content, "fuzz.html")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes(content: bytes) -> None:
    _parse_bounded(content)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=3000))
def test_random_text(text: str) -> None:
    _parse_bounded(text.encode("utf-8", errors="replace"))


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=len(SAMPLE.read_bytes())), st.integers(0, 2000))
def test_truncated_and_cut_sample(end: int, cut: int) -> None:
    data = sample()
    _parse_bounded(data[:end])
    _parse_bounded(data[:cut] + data[end:])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "<div>",
                "</div>",
                "<span style='font-weight:700'>",
                "</span>",
                "<table>",
                "<tr>",
                "<td>",
                "Item 1A.",
                "Risk Factors",
                "Item 1B.",
                "We may fail.",
                "<i>",
                "<b>",
                "Risks Related to Us",
                "Summary of Risk Factors",
                "<!--",
                "<script>",
                "\x00",
                "Table of Contents",
                "12",
                "ITEM 2. PROPERTIES",
                "&#8220;",
                "<p",
                ">",
            ]
        ),
        max_size=200,
    )
)
def test_tag_soup(parts: list[str]) -> None:
    _parse_bounded("".join(parts).encode())
