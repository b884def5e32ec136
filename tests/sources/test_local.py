"""LocalFilingSource and import_filing against a temporary directory and the real corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskdrift.config import Settings
from riskdrift.errors import ConfigurationError, FilingNotFound, FilingParseError, InvalidRequest
from riskdrift.sources import EdgarFilingSource, LocalFilingSource, create_source, import_filing
from tests.corpus import REAL10K, needs_corpus


@needs_corpus
async def test_fetch_reads_the_real_filing() -> None:
    source = LocalFilingSource(REAL10K)
    doc = await source.fetch("nvda", 2024)
    assert doc.ticker == "NVDA"
    assert doc.year == 2024
    assert doc.source == "local"
    assert doc.form == "10-K"
    assert doc.content == (REAL10K / "NVDA" / "2024.html").read_bytes()
    assert doc.name == str(REAL10K / "NVDA" / "2024.html")
    assert doc.accession is None
    await source.aclose()


@needs_corpus
async def test_amendment_file_is_ignored() -> None:
    source = LocalFilingSource(REAL10K)
    doc = await source.fetch("TSLA", 2024)
    assert doc.content == (REAL10K / "TSLA" / "2024.html").read_bytes()


async def test_missing_filing_names_ticker_year_and_place(tmp_path: Path) -> None:
    (tmp_path / "AAPL").mkdir()
    (tmp_path / "AAPL" / "2023.10-KA.html").write_text("<html>amendment</html>")
    source = LocalFilingSource(tmp_path)
    with pytest.raises(FilingNotFound) as caught:
        await source.fetch("AAPL", 2023)
    message = str(caught.value)
    assert "AAPL" in message
    assert "2023" in message
    assert str(tmp_path / "AAPL") in message
    assert "2023.html" in message


@pytest.mark.parametrize("suffix", [".htm", ".txt"])
async def test_other_suffixes(tmp_path: Path, suffix: str) -> None:
    (tmp_path / "IBM").mkdir()
    (tmp_path / "IBM" / f"2020{suffix}").write_bytes(b"ITEM 1A. RISK FACTORS")
    doc = await LocalFilingSource(tmp_path).fetch("IBM", 2020)
    assert doc.content == b"ITEM 1A. RISK FACTORS"


async def test_html_is_preferred_over_txt(tmp_path: Path) -> None:
    (tmp_path / "IBM").mkdir()
    (tmp_path / "IBM" / "2020.txt").write_bytes(b"text")
    (tmp_path / "IBM" / "2020.html").write_bytes(b"<html>")
    doc = await LocalFilingSource(tmp_path).fetch("IBM", 2020)
    assert doc.content == b"<html>"


async def test_size_cap_and_empty_file(tmp_path: Path) -> None:
    (tmp_path / "IBM").mkdir()
    (tmp_path / "IBM" / "2020.html").write_bytes(b"x" * 101)
    (tmp_path / "IBM" / "2021.html").write_bytes(b"")
    source = LocalFilingSource(tmp_path, max_bytes=100)
    with pytest.raises(FilingParseError, match="limit"):
        await source.fetch("IBM", 2020)
    with pytest.raises(FilingParseError, match="empty"):
        await source.fetch("IBM", 2021)


async def test_invalid_ticker_is_invalid_request(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest):
        await LocalFilingSource(tmp_path).fetch("../etc", 2020)


def _stub(year: int, form: str = "10-K") -> bytes:
    return (
        f'<html><ix:nonNumeric name="dei:DocumentType">{form}</ix:nonNumeric>'
        f'<ix:nonNumeric name="dei:DocumentFiscalYearFocus">{year}</ix:nonNumeric></html>'
    ).encode()


def test_import_copies_into_layout(tmp_path: Path) -> None:
    src = tmp_path / "download.HTM"
    src.write_bytes(_stub(2022))
    root = tmp_path / "filings"
    target = import_filing(root, src, "brk.b", 2022)
    assert target == root / "BRK.B" / "2022.htm"
    assert target.read_bytes() == src.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["2022.htm"]  # no temp files left


async def test_imported_file_is_fetched(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    src.write_bytes(b"plain text 10-K without tags")
    import_filing(tmp_path / "root", src, "MSFT", 2019)
    doc = await LocalFilingSource(tmp_path / "root").fetch("MSFT", 2019)
    assert doc.content == src.read_bytes()


def test_import_refuses_existing_unless_overwrite(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = tmp_path / "first.html"
    first.write_bytes(_stub(2022))
    second = tmp_path / "second.txt"
    second.write_bytes(b"second")
    import_filing(root, first, "HD", 2022)
    with pytest.raises(InvalidRequest, match="already exists"):
        import_filing(root, second, "HD", 2022)
    target = import_filing(root, second, "HD", 2022, overwrite=True)
    # The old .html would shadow the new .txt, so it is gone.
    assert sorted(p.name for p in (root / "HD").iterdir()) == ["2022.txt"]
    assert target.read_bytes() == b"second"


@pytest.mark.parametrize(
    ("name", "content", "ticker", "year", "message"),
    [
        ("a.html", _stub(2022), "not a ticker!", 2022, "ticker"),
        ("a.html", _stub(2022), "HD", 1999, "out of range"),
        ("a.pdf", b"%PDF", "HD", 2022, "unsupported file type"),
        ("a.html", b"", "HD", 2022, "empty"),
        ("a.html", _stub(2021), "HD", 2022, "says fiscal year 2021"),
        ("a.html", _stub(2022, "10-K/A"), "HD", 2022, "not an original 10-K"),
    ],
)
def test_import_validates(
    tmp_path: Path, name: str, content: bytes, ticker: str, year: int, message: str
) -> None:
    src = tmp_path / name
    src.write_bytes(content)
    with pytest.raises(InvalidRequest, match=message):
        import_filing(tmp_path / "root", src, ticker, year)
    assert not (tmp_path / "root").exists()


def test_import_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="no such file"):
        import_filing(tmp_path, tmp_path / "nope.html", "HD", 2022)


@needs_corpus
def test_import_real_filing_checks_its_label(tmp_path: Path) -> None:
    # Home Depot's year ended 2024-01-28 is its fiscal 2023.
    path = REAL10K / "HD" / "2023.html"
    with pytest.raises(InvalidRequest, match="says fiscal year 2023"):
        import_filing(tmp_path, path, "HD", 2024)
    assert import_filing(tmp_path, path, "HD", 2023) == tmp_path / "HD" / "2023.html"


async def test_create_source_chooses_by_settings(tmp_path: Path) -> None:
    local = create_source(Settings(filings_dir=tmp_path))
    assert isinstance(local, LocalFilingSource)
    assert local.name == "local"
    edgar = create_source(Settings(filings_source="edgar", edgar_user_agent="x a@b.example"))
    assert isinstance(edgar, EdgarFilingSource)
    assert edgar.name == "edgar"
    await local.aclose()
    await edgar.aclose()
    with pytest.raises(ConfigurationError, match="FILINGS_DIR"):
        create_source(Settings(filings_source="local", filings_dir=None))


async def test_extra_roots_are_looked_in_after_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, sample = tmp_path / "first", tmp_path / "sample"
    for root, ticker in ((first, "IBM"), (sample, "IBM"), (sample, "ACME")):
        (root / ticker).mkdir(parents=True)
        (root / ticker / "2020.html").write_text(f"<html>{root.name} {ticker}</html>")
    monkeypatch.setenv("RISKDRIFT_FILINGS_DIR", str(first))
    monkeypatch.setenv("RISKDRIFT_EXTRA_FILINGS_DIRS", f"{sample}:{tmp_path / 'absent'}")
    source = create_source(Settings(_env_file=None))  # type: ignore[call-arg]
    assert (await source.fetch("IBM", 2020)).content == b"<html>first IBM</html>"
    assert (await source.fetch("ACME", 2020)).content == b"<html>sample ACME</html>"
    with pytest.raises(FilingNotFound) as caught:
        await source.fetch("ACME", 2019)
    assert str(first / "ACME") in str(caught.value)
    assert str(sample / "ACME") in str(caught.value)


# --- a named filing (AnalyzeRequest.filing): the amendment <YEAR>.10-KA.html --------------


async def test_a_named_amendment_is_read_as_a_10ka(tmp_path: Path) -> None:
    (tmp_path / "ACME").mkdir()
    (tmp_path / "ACME" / "2024.html").write_text("<html>original</html>")
    (tmp_path / "ACME" / "2024.10-KA.html").write_text("<html>amendment</html>")
    source = LocalFilingSource(tmp_path / "elsewhere", also=[tmp_path])
    doc = await source.fetch_filing("acme", 2024, "2024.10-KA.html")
    assert (doc.ticker, doc.year, doc.form) == ("ACME", 2024, "10-K/A")
    assert doc.content == b"<html>amendment</html>"
    assert (doc.name, doc.document) == (
        str(tmp_path / "ACME" / "2024.10-KA.html"),
        "2024.10-KA.html",
    )
    # The year's lookup still takes the original; naming it gives the original too.
    assert (await source.fetch("ACME", 2024)).content == b"<html>original</html>"
    original = await source.fetch_filing("ACME", 2024, "2024.html")
    assert (original.form, original.content) == ("10-K", b"<html>original</html>")


@pytest.mark.parametrize(
    "name", ["2023.10-KA.html", "../ACME/2024.html", "2024.10-K.html", "2024.pdf", "x/2024.html"]
)
async def test_a_named_filing_of_another_year_or_shape_is_refused(
    tmp_path: Path, name: str
) -> None:
    (tmp_path / "ACME").mkdir()
    (tmp_path / "ACME" / "2024.html").write_text("<html>original</html>")
    with pytest.raises(FilingNotFound, match="not a local filing name of fiscal 2024"):
        await LocalFilingSource(tmp_path).fetch_filing("ACME", 2024, name)


async def test_a_named_amendment_that_is_absent_names_the_places(tmp_path: Path) -> None:
    (tmp_path / "ACME").mkdir()
    (tmp_path / "ACME" / "2024.html").write_text("<html>original</html>")
    with pytest.raises(FilingNotFound) as caught:
        await LocalFilingSource(tmp_path).fetch_filing("ACME", 2024, "2024.10-KA.html")
    assert "2024.10-KA.html" in str(caught.value)
    assert str(tmp_path / "ACME") in str(caught.value)


async def test_a_named_amendment_in_a_full_submission_is_its_10ka_document(
    tmp_path: Path,
) -> None:
    (tmp_path / "ACME").mkdir()
    (tmp_path / "ACME" / "2008.10-KA.txt").write_bytes(
        b"<SEC-DOCUMENT>\n<DOCUMENT>\n<TYPE>10-K/A\n<FILENAME>d10ka.htm\n<TEXT>\n"
        b"<html><body><p>Amendment No. 1</p></body></html>\n</TEXT>\n</DOCUMENT>\n"
        b"<DOCUMENT>\n<TYPE>EX-31\n<FILENAME>dex31.htm\n<TEXT>\ncertification\n</TEXT>\n"
        b"</DOCUMENT>\n</SEC-DOCUMENT>\n"
    )
    doc = await LocalFilingSource(tmp_path).fetch_filing("ACME", 2008, "2008.10-KA.txt")
    assert (doc.form, doc.document) == ("10-K/A", "d10ka.htm")
    assert b"Amendment No. 1" in doc.content
    assert b"certification" not in doc.content
