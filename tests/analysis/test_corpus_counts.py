"""The hand-count table `corpus_counts.csv` is complete and agrees with EXPECTED_RISKS.

The table holds the risk-heading counts made by eye for every corpus filing (see
docs/ANALYSIS.md, "How the counts were made"); these tests check the table itself, not the
analysis' counts.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.analysis.corpus_cache import EXPECTED_RISKS
from tests.corpus import CORPUS, needs_corpus

TABLE = Path(__file__).with_name("corpus_counts.csv")
COLUMNS = ["corpus", "filing", "risks", "categories", "how"]
#: The layout filings that contain risks; WFC 2024 incorporates them by reference.
LAYOUT_FILINGS = {"GE/2023.html", "TXN/2023.html", "UNP/2024.html"}


def rows() -> list[dict[str, str]]:
    with TABLE.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def filings(corpus: str) -> dict[str, dict[str, str]]:
    return {row["filing"]: row for row in rows() if row["corpus"] == corpus}


def test_rows_are_well_formed() -> None:
    seen = set()
    for row in rows():
        key = (row["corpus"], row["filing"])
        assert key not in seen, f"duplicate row {key}"
        seen.add(key)
        assert row["corpus"] in {"real10k", "real10k_item1a_only", "layouts"}, key
        assert int(row["risks"]) > 0, key
        assert int(row["categories"]) >= 0, key
        assert row["how"].strip(), f"{key} has no note on how it was counted"


def test_real10k_rows_match_expected_risks() -> None:
    table = {
        (f.split("/")[0], int(f.split("/")[1].removesuffix(".html"))): int(r["risks"])
        for f, r in filings("real10k").items()
    }
    assert table == EXPECTED_RISKS


@needs_corpus
@pytest.mark.parametrize(
    ("corpus", "pattern"),
    [("real10k_item1a_only", "*/*.item1a.txt"), ("real10k", "*/*.html")],
)
def test_every_corpus_filing_has_a_row(corpus: str, pattern: str) -> None:
    on_disk = {p.relative_to(CORPUS / corpus).as_posix() for p in (CORPUS / corpus).glob(pattern)}
    if corpus == "real10k":
        # The 10-K/A without an Item 1A has no count (docs/ANALYSIS.md).
        on_disk = {f for f in on_disk if f.removesuffix(".html").split("/")[1].isdigit()}
    assert on_disk, f"no {pattern} files under {CORPUS / corpus}"
    assert set(filings(corpus)) == on_disk


@needs_corpus
def test_layout_rows_name_existing_files() -> None:
    assert set(filings("layouts")) == LAYOUT_FILINGS
    for filing in LAYOUT_FILINGS:
        assert (CORPUS / "layouts" / filing).is_file(), filing
