"""EDGAR's filing index, parsed, and the rule that picks a fiscal year's 10-K from it.

Pure: EDGAR's JSON in, typed rows and ranked candidates out; a filing's own
index page (``<accession>-index.htm``) in, the documents of that filing out
(:func:`filing_documents`, used to find the EX-13 of a 10-K whose Item 1A is
incorporated by reference). The EDGAR source (:mod:`riskdrift.sources.edgar`)
does the I/O.

Choosing the filing for a fiscal year
-------------------------------------
A fiscal-year label is the filer's own, and it is not a function of the period
end: NVIDIA labels the year ended 2024-01-28 fiscal 2024, Home Depot labels
the year ended 2024-01-28 fiscal 2023 (and its fiscal 2024 ended 2025-02-02).
The filing date never decides. The rule (:func:`rank_candidates`):

* Only annual reports are considered: originals (``10-K``, ``10-K405``)
  first; amendments (``10-K/A``, ``10-K405/A``) only for a period that has no
  original in the index, since an amendment is often Part III alone.
* The *natural year* of a period end is its calendar year, except that a
  period ending in the first week of January (a 52/53-week year that "ended"
  on 31 December) belongs to the year before.
* Tier A: reports whose natural year is Y, latest period first. The label
  convention most filers use (and XBRL's default), and NVIDIA's.
* Tier B: reports whose period ends between 8 January and 31 March of Y+1:
  the filers that label a year ending early in the calendar year by the year
  it started (Home Depot, Target, Lowe's).
* Each candidate's primary document is downloaded (once; it is cached) and
  read for its inline-XBRL ``dei:DocumentFiscalYearFocus``. The first
  candidate whose tag equals Y wins. Failing that, the first tier-A candidate
  with no tag at all (filings before inline XBRL, 2019) is taken on the
  natural-year rule; a tier-B candidate is never taken without the tag.
  Nothing → ``FilingNotFound``, naming what was examined.

Known limit: for a filer that labels January year-ends by their start year
(Home Depot), a year whose filings are all untagged (before 2019) is matched
by its calendar year, i.e. one year off. Tagged years are always right.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from selectolax.lexbor import LexborHTMLParser

ORIGINAL_FORMS: frozenset[str] = frozenset({"10-K", "10-K405"})
AMENDMENT_FORMS: frozenset[str] = frozenset({"10-K/A", "10-K405/A"})


# --- EDGAR's JSON --------------------------------------------------------------------------


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class CompanyTicker(_Loose):
    """One entry of ``company_tickers.json``."""

    cik: int = Field(alias="cik_str")
    ticker: str
    title: str


COMPANY_TICKERS = TypeAdapter(dict[str, CompanyTicker])


class FilingColumns(_Loose):
    """EDGAR's columnar filing table: ``filings.recent`` or one paged history file."""

    accession_number: list[str] = Field(alias="accessionNumber")
    filing_date: list[str] = Field(alias="filingDate")
    report_date: list[str] = Field(alias="reportDate")
    form: list[str]
    primary_document: list[str] = Field(alias="primaryDocument")


class HistoryPage(_Loose):
    """A ``filings.files[]`` entry: one page of older filings."""

    name: str
    filing_count: int = Field(alias="filingCount")
    filing_from: dt.date = Field(alias="filingFrom")
    filing_to: dt.date = Field(alias="filingTo")


class FilingsBlock(_Loose):
    recent: FilingColumns
    files: list[HistoryPage] = Field(default_factory=list)


class Submissions(_Loose):
    """The part of ``submissions/CIK##########.json`` this source reads."""

    cik: str
    name: str
    fiscal_year_end: str | None = Field(default=None, alias="fiscalYearEnd")
    filings: FilingsBlock


@dataclass(frozen=True, slots=True)
class FilingEntry:
    """One row of a filing table."""

    accession: str
    form: str
    filed: dt.date | None
    period_end: dt.date | None
    primary_document: str


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def filing_entries(columns: FilingColumns) -> list[FilingEntry]:
    """Turn EDGAR's parallel arrays into rows (rows with missing cells are dropped)."""
    rows = zip(
        columns.accession_number,
        columns.form,
        columns.filing_date,
        columns.report_date,
        columns.primary_document,
        strict=False,
    )
    return [
        FilingEntry(
            accession=accession,
            form=form,
            filed=_date(filed),
            period_end=_date(period),
            primary_document=document,
        )
        for accession, form, filed, period, document in rows
    ]


# --- the fiscal-year rule ------------------------------------------------------------------


def natural_year(period_end: dt.date) -> int:
    """The calendar year a period end belongs to; the first week of January counts as
    the year before (a 52/53-week year ending on the Saturday nearest 31 December)."""
    if period_end.month == 1 and period_end.day <= 7:
        return period_end.year - 1
    return period_end.year


@dataclass(frozen=True, slots=True)
class Candidate:
    """A filing that may be fiscal year Y's 10-K, and whether it needs the dei tag."""

    entry: FilingEntry
    needs_tag: bool


def rank_candidates(entries: Iterable[FilingEntry], year: int) -> list[Candidate]:
    """Order the annual reports that may carry fiscal-year label ``year`` (module docstring).

    Originals come before amendments; within each, tier A (natural year ==
    ``year``, latest period first) before tier B (period end 8 Jan – 31 Mar of
    ``year + 1``, which must be confirmed by the document's dei tag). An
    amendment is a candidate only for a period with no original in ``entries``.
    """
    annual = [
        e
        for e in entries
        if e.period_end is not None and e.form in ORIGINAL_FORMS | AMENDMENT_FORMS
    ]
    periods_with_original = {e.period_end for e in annual if e.form in ORIGINAL_FORMS}
    tier_b_start, tier_b_end = dt.date(year + 1, 1, 8), dt.date(year + 1, 3, 31)

    def tier(entry: FilingEntry) -> str | None:
        assert entry.period_end is not None
        if natural_year(entry.period_end) == year:
            return "A"
        if tier_b_start <= entry.period_end <= tier_b_end:
            return "B"
        return None

    ranked: list[tuple[tuple[int, int, int, int], Candidate]] = []
    for entry in annual:
        assert entry.period_end is not None
        entry_tier = tier(entry)
        original = entry.form in ORIGINAL_FORMS
        if entry_tier is None or (not original and entry.period_end in periods_with_original):
            continue
        filed = (entry.filed or dt.date.min).toordinal()
        key = (
            0 if original else 1,
            0 if entry_tier == "A" else 1,
            -entry.period_end.toordinal(),
            # originals: the first filed; amendments: the latest, presumably the most complete
            filed if original else -filed,
        )
        ranked.append((key, Candidate(entry=entry, needs_tag=entry_tier == "B")))
    ranked.sort(key=lambda row: row[0])
    return [candidate for _, candidate in ranked]


# --- one filing's index page -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexDocument:
    """One row of a filing's "Document Format Files" table."""

    sequence: str
    description: str
    document: str  # the file name in the accession's folder
    type: str  # "10-K", "EX-13", "GRAPHIC", ...


def filing_documents(html: str) -> list[IndexDocument]:
    """The documents a filing's ``<accession>-index.htm`` lists, in its order.

    The columns are found by their header (Seq, Description, Document, Type);
    the document's name is its link's text (EDGAR links iXBRL documents through
    ``/ix?doc=``, so the link target is not the name). Rows without a document
    or a type are skipped; a page without such a table gives ``[]``.
    """
    tree = LexborHTMLParser(html)
    documents: list[IndexDocument] = []
    for table in tree.css("table"):
        rows = table.css("tr")
        if not rows:
            continue
        header = [cell.text(deep=True).strip().lower() for cell in rows[0].css("th, td")]
        if "document" not in header or "type" not in header:
            continue
        names = ("seq", "description", "document", "type")
        column = {name: header.index(name) for name in names if name in header}
        for row in rows[1:]:
            cells = [cell.text(deep=True).strip() for cell in row.css("td")]
            if len(cells) <= max(column.values()):
                continue
            link = row.css("td")[column["document"]].css_first("a")
            name = link.text(deep=True).strip() if link is not None else cells[column["document"]]
            doc_type = cells[column["type"]].upper()
            if not name or not doc_type:
                continue
            documents.append(
                IndexDocument(
                    sequence=cells[column["seq"]] if "seq" in column else "",
                    description=cells[column["description"]] if "description" in column else "",
                    document=name.split()[0],
                    type=doc_type,
                )
            )
    return documents


def find_exhibit(documents: Iterable[IndexDocument], exhibit: str) -> IndexDocument | None:
    """The first document of type ``exhibit``; "EX-13" also matches "EX-13.1", "EX-13.2"."""
    wanted = exhibit.upper()
    for document in documents:
        if document.type == wanted or document.type.startswith(f"{wanted}."):
            return document
    return None
