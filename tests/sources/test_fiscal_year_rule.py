"""The pure parts of the EDGAR source: the fiscal-year rule, User-Agent, dei tags.

``Retry-After`` parsing is shared by every client: tests/queue/test_retrying.py.
"""

from __future__ import annotations

import datetime as dt

import pytest

from riskdrift.errors import ConfigurationError
from riskdrift.sources.dei import read_cover_facts
from riskdrift.sources.fair_access import check_user_agent
from riskdrift.sources.filing_index import FilingEntry, natural_year, rank_candidates


def entry(accession: str, form: str, period: str, filed: str) -> FilingEntry:
    return FilingEntry(
        accession=accession,
        form=form,
        filed=dt.date.fromisoformat(filed),
        period_end=dt.date.fromisoformat(period),
        primary_document=f"{accession}.htm",
    )


def ranked(entries: list[FilingEntry], year: int) -> list[tuple[str, bool]]:
    return [(c.entry.accession, c.needs_tag) for c in rank_candidates(entries, year)]


@pytest.mark.parametrize(
    ("period", "year"),
    [("2024-01-28", 2024), ("2024-09-28", 2024), ("2024-12-28", 2024), ("2022-01-01", 2021)],
)
def test_natural_year(period: str, year: int) -> None:
    assert natural_year(dt.date.fromisoformat(period)) == year


def test_january_year_ends_are_tried_both_ways() -> None:
    filings = [
        entry("fy-end-2023-01", "10-K", "2023-01-29", "2023-03-15"),
        entry("fy-end-2024-01", "10-K", "2024-01-28", "2024-03-13"),
        entry("fy-end-2025-02", "10-K", "2025-02-02", "2025-03-21"),
        entry("q", "10-Q", "2024-04-28", "2024-05-29"),
    ]
    # Tier A (calendar year of the period end) first, untagged documents accepted;
    # tier B (period end early in the next year) only with a confirming tag.
    assert ranked(filings, 2023) == [("fy-end-2023-01", False), ("fy-end-2024-01", True)]
    assert ranked(filings, 2024) == [("fy-end-2024-01", False), ("fy-end-2025-02", True)]


def test_filing_date_never_decides() -> None:
    # Filed very late (e.g. a delinquent filer): still the period that counts.
    late = entry("late", "10-K", "2020-12-31", "2022-06-30")
    assert ranked([late], 2020) == [("late", False)]
    assert ranked([late], 2022) == []


def test_amendments_only_when_no_original_exists() -> None:
    filings = [
        entry("orig", "10-K", "2024-12-31", "2025-01-30"),
        entry("amend", "10-K/A", "2024-12-31", "2025-04-30"),
        entry("old-amend-1", "10-K/A", "2023-12-31", "2024-04-30"),
        entry("old-amend-2", "10-K/A", "2023-12-31", "2024-09-30"),
    ]
    assert ranked(filings, 2024) == [("orig", False)]
    # No original for 2023 in the index: the latest amendment first.
    assert ranked(filings, 2023) == [("old-amend-2", False), ("old-amend-1", False)]


def test_10k405_counts_as_an_original() -> None:
    filings = [
        entry("a405", "10-K405", "2001-12-31", "2002-03-20"),
        entry("a405-amend", "10-K405/A", "2001-12-31", "2002-04-20"),
    ]
    assert ranked(filings, 2001) == [("a405", False)]


def test_52_53_week_years_ending_early_january() -> None:
    filings = [
        entry("fy2021", "10-K", "2022-01-01", "2022-02-20"),
        entry("fy2022", "10-K", "2022-12-31", "2023-02-20"),
    ]
    assert ranked(filings, 2021) == [("fy2021", False)]
    assert ranked(filings, 2022) == [("fy2022", False)]


@pytest.mark.parametrize("agent", [None, "  ", "riskdrift", "riskdrift admin@localhost"])
def test_user_agent_needs_an_email_contact(agent: str | None) -> None:
    with pytest.raises(ConfigurationError):
        check_user_agent(agent)


def test_user_agent_accepted() -> None:
    assert check_user_agent(" Acme Research research@acme.example ") == (
        "Acme Research research@acme.example"
    )


def test_cover_facts_with_nested_formatting() -> None:
    content = (
        b'<ix:nonNumeric contextRef="c-1" name="dei:DocumentFiscalYearFocus" id="f-1">'
        b"<span>2023</span></ix:nonNumeric>"
        b'<ix:nonNumeric name="dei:DocumentType">10-K</ix:nonNumeric>'
    )
    facts = read_cover_facts(content)
    assert facts.fiscal_year == 2023
    assert facts.document_type == "10-K"
    assert read_cover_facts(b"<html>no tags</html>").fiscal_year is None
