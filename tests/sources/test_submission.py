"""Full-submission ``.txt`` files: the 10-K (and its EX-13) taken out of the SGML wrapper."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from riskdrift.agent.research import ResearchAgent
from riskdrift.analysis.sections import extract_item1a
from riskdrift.errors import FilingParseError, Item1AIncorporatedByReference, Item1ANotFound
from riskdrift.models import AnalyzeRequest
from riskdrift.sources.local import LocalFilingSource
from riskdrift.sources.submission import annual_report, is_submission, submission_documents
from tests.corpus import CORPUS

SUBMISSIONS = Path(__file__).parent / "fixtures" / "submissions"


def _local(tmp_path: Path, fixture: str, ticker: str, year: int) -> LocalFilingSource:
    folder = tmp_path / ticker
    folder.mkdir()
    shutil.copyfile(SUBMISSIONS / fixture, folder / f"{year}.txt")
    return LocalFilingSource(tmp_path)


def test_documents_of_a_submission_are_listed_with_their_types() -> None:
    content = (SUBMISSIONS / "html-2008.txt").read_bytes()
    assert is_submission(content)
    docs = submission_documents(content)
    assert [(d.type, d.filename) for d in docs] == [("10-K", "d10k.htm"), ("EX-21", "dex21.htm")]
    ten_k = annual_report(content, "html-2008.txt")
    assert ten_k.content.startswith(b"<HTML>")
    assert b"<DOCUMENT>" not in ten_k.content
    assert b"Acme Ohio LLC" not in ten_k.content  # the exhibit stays out


def test_a_lone_document_is_not_a_submission() -> None:
    assert not is_submission(b"<html><body><p>Item 1A. Risk Factors</p></body></html>")
    assert not is_submission(b"ITEM 1A. RISK FACTORS\nOur business may suffer.\n")


def test_a_submission_without_a_10k_names_what_it_holds() -> None:
    content = b"<SEC-DOCUMENT>\n<DOCUMENT>\n<TYPE>8-K\n<TEXT>\nnews\n</TEXT>\n</DOCUMENT>\n"
    with pytest.raises(FilingParseError, match=r"no 10-K document \(document types: 8-K\)"):
        annual_report(content, "x.txt")


async def test_local_html_submission_gives_its_10k_item_1a(tmp_path: Path) -> None:
    doc = await _local(tmp_path, "html-2008.txt", "ACME", 2008).fetch("ACME", 2008)
    assert doc.document == "d10k.htm"
    item = extract_item1a(doc.content, doc.name)
    assert item.located_by == "item_heading"
    assert item.text.startswith("Demand for widgets may fall.")
    assert item.ended_by == "Item 1B. Unresolved Staff Comments"


async def test_local_plain_text_submission_loses_its_sgml_layout_tags(tmp_path: Path) -> None:
    doc = await _local(tmp_path, "text-2006.txt", "SVC", 2006).fetch("SVC", 2006)
    assert doc.document == "form10k.txt"
    for tag in (b"<PAGE>", b"<TABLE>", b"<S>", b"<C>", b"<TEXT>"):
        assert tag not in doc.content
    item = extract_item1a(doc.content, doc.name)
    assert item.located_by == "plain_text"
    assert item.text.startswith("Demand for our services may decline.")
    assert "Customer A" in item.text
    assert item.ended_by == "ITEM 1B. UNRESOLVED STAFF COMMENTS"


async def test_pre_2005_submission_still_fails_for_want_of_item_1a(tmp_path: Path) -> None:
    doc = await _local(tmp_path, "text-2002.txt", "PMP", 2002).fetch("PMP", 2002)
    with pytest.raises(Item1ANotFound, match="no Item 1A"):
        extract_item1a(doc.content, doc.name)


async def test_local_submission_answers_the_ex13_of_an_incorporated_item_1a(
    tmp_path: Path,
) -> None:
    source = _local(tmp_path, "incorporated-2007.txt", "BNK", 2007)
    doc = await source.fetch("BNK", 2007)
    with pytest.raises(Item1AIncorporatedByReference) as info:
        extract_item1a(doc.content, doc.name)
    exhibit = await source.exhibit(doc, info.value.exhibit)
    assert exhibit is not None
    assert exhibit.document == "ex13.htm"
    item = extract_item1a(exhibit.content, exhibit.name)
    assert item.located_by == "section_title"
    assert item.text.startswith("Credit losses may rise.")
    assert item.ended_by == "Controls and Procedures"


async def test_a_lone_local_document_has_no_exhibits(tmp_path: Path) -> None:
    (tmp_path / "WFC").mkdir()
    (tmp_path / "WFC" / "2024.html").write_text("<html><body><p>ITEM 1A</p></body></html>")
    source = LocalFilingSource(tmp_path)
    doc = await source.fetch("WFC", 2024)
    assert doc.document == "2024.html"
    assert await source.exhibit(doc, "EX-13") is None


LAYOUTS = CORPUS / "layouts"


@pytest.mark.skipif(not LAYOUTS.is_dir(), reason=f"layouts corpus not found at {LAYOUTS}")
async def test_agent_on_a_local_incorporated_10k_says_where_the_risks_are(tmp_path: Path) -> None:
    folder = tmp_path / "WFC"
    folder.mkdir()
    for year in (2024, 2023):  # the same document twice: only the error matters here
        (folder / f"{year}.html").symlink_to(LAYOUTS / "WFC" / "2024.html")
    agent = ResearchAgent(LocalFilingSource(tmp_path))
    with pytest.raises(Item1AIncorporatedByReference, match="analyse the EX-13") as info:
        await agent.arun(AnalyzeRequest(ticker="WFC", years=[2024, 2023]))
    assert "Annual Report to Shareholders" in str(info.value)
    assert "2024.html" in str(info.value)


async def test_agent_reads_the_ex13_of_a_local_full_submission(tmp_path: Path) -> None:
    folder = tmp_path / "BNK"
    folder.mkdir()
    for year in (2008, 2007):
        shutil.copyfile(SUBMISSIONS / "incorporated-2007.txt", folder / f"{year}.txt")
    result = await ResearchAgent(LocalFilingSource(tmp_path)).arun(
        AnalyzeRequest(ticker="BNK", years=[2008, 2007])
    )
    assert [f.risk_count for f in result.filings] == [6, 6]
    assert all(r.status == "unchanged" for r in result.risks)
