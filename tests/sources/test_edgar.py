"""EdgarFilingSource over real HTTP against a fake EDGAR on 127.0.0.1.

Nothing is patched: the source's own httpx client talks to a uvicorn server
that serves EDGAR-shaped JSON fixtures and the real 10-K documents of the
shared corpus, and records every request it receives.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import itertools
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from riskdrift.agent.research import ResearchAgent
from riskdrift.analysis.sections import extract_item1a
from riskdrift.config import Settings
from riskdrift.errors import (
    ConfigurationError,
    FilingNotFound,
    FilingParseError,
    Item1AIncorporatedByReference,
    UpstreamUnavailable,
)
from riskdrift.models import AnalyzeRequest
from riskdrift.sources.edgar import EdgarFilingSource, RetryPolicy
from riskdrift.sources.filing_index import filing_documents, find_exhibit
from tests.corpus import REAL10K, needs_corpus
from tests.doubles.edgar import FIXTURES, FakeEdgar
from tests.sources.localserver import closed_port, serve

USER_AGENT = "riskdrift-tests ops@riskdrift.example"
FAST = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_max=0.01, retry_after_max=5.0)

TICKERS = "/www/files/company_tickers.json"
NVDA_SUBMISSIONS = "/data/submissions/CIK0001045810.json"
NVDA_PAGE = "/data/submissions/CIK0001045810-submissions-001.json"
AAPL_SUBMISSIONS = "/data/submissions/CIK0000320193.json"
AAPL_2024_DOC = "/www/Archives/edgar/data/320193/000032019324000123/aapl-20240928.htm"

pytestmark = needs_corpus

MakeSource = Callable[..., EdgarFilingSource]


@pytest.fixture
async def edgar() -> AsyncIterator[tuple[FakeEdgar, str]]:
    fake = FakeEdgar(corpus=REAL10K)
    async with serve(fake.app()) as url:
        try:
            yield fake, url
        finally:
            fake.release.set()


def settings_for(url: str, cache: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "filings_source": "edgar",
        "edgar_user_agent": USER_AGENT,
        "edgar_base_url": f"{url}/www",
        "edgar_data_url": f"{url}/data",
        "edgar_cache_dir": cache,
        "edgar_requests_per_second": 1000.0,
        "edgar_timeout": 5.0,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@pytest.fixture
async def make_source(edgar: tuple[FakeEdgar, str], tmp_path: Path) -> AsyncIterator[MakeSource]:
    """Build sources against the fake; every one is closed after the test."""
    _, url = edgar
    made: list[EdgarFilingSource] = []

    def make(*, retry: RetryPolicy = FAST, **overrides: object) -> EdgarFilingSource:
        source = EdgarFilingSource(settings_for(url, tmp_path / "cache", **overrides), retry=retry)
        made.append(source)
        return source

    yield make
    for source in made:
        await source.aclose()


# --- choosing the fiscal year --------------------------------------------------------------


async def test_nvidia_labels_the_year_by_its_end(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    doc = await make_source().fetch("nvda", 2024)
    assert doc.content == (REAL10K / "NVDA" / "2024.html").read_bytes()
    assert doc.ticker == "NVDA"
    assert doc.year == 2024
    assert doc.source == "edgar"
    assert doc.form == "10-K"
    assert doc.accession == "0001045810-24-000029"
    assert doc.filed == dt.date(2024, 2, 21)
    assert doc.period_end == dt.date(2024, 1, 28)
    assert doc.company == "NVIDIA CORP"
    assert doc.cik == "0001045810"
    assert doc.name.endswith("/Archives/edgar/data/1045810/000104581024000029/nvda-20240128.htm")
    # Only the chosen document was downloaded; the recent filings sufficed.
    assert [p for p in fake.paths() if "/Archives/" in p] == [
        "/www/Archives/edgar/data/1045810/000104581024000029/nvda-20240128.htm"
    ]
    assert fake.count(NVDA_PAGE) == 0


async def test_home_depot_labels_the_year_by_its_start(make_source: MakeSource) -> None:
    source = make_source()
    fy2023 = await source.fetch("HD", 2023)
    assert fy2023.content == (REAL10K / "HD" / "2023.html").read_bytes()
    assert fy2023.period_end == dt.date(2024, 1, 28)  # the same period end as NVIDIA's FY2024
    assert fy2023.accession == "0000354950-24-000062"

    fy2024 = await source.fetch("HD", 2024)
    assert fy2024.content == (REAL10K / "HD" / "2024.html").read_bytes()
    assert fy2024.period_end == dt.date(2025, 2, 2)  # a 53-week year ending in February


async def test_apple_september_year(make_source: MakeSource) -> None:
    source = make_source()
    doc = await source.fetch("AAPL", 2024)
    assert doc.content == (REAL10K / "AAPL" / "2024.html").read_bytes()
    assert doc.period_end == dt.date(2024, 9, 28)
    assert doc.company == "Apple Inc."
    assert (await source.fetch("AAPL", 2025)).period_end == dt.date(2025, 9, 27)


async def test_original_10k_preferred_over_amendment(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    doc = await make_source().fetch("TSLA", 2024)
    assert doc.form == "10-K"
    assert doc.accession == "0001628280-25-003063"
    assert doc.content == (REAL10K / "TSLA" / "2024.html").read_bytes()
    # The Part-III-only 10-K/A, filed later for the same period, was never downloaded.
    assert not any("10ka" in p for p in fake.paths())


async def test_older_filings_come_from_the_paged_history(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    doc = await make_source().fetch("NVDA", 2023)
    assert doc.content == (REAL10K / "NVDA" / "2023.html").read_bytes()
    assert doc.accession == "0001045810-23-000017"
    assert doc.period_end == dt.date(2023, 1, 29)
    assert fake.count(NVDA_PAGE) == 1


async def test_year_without_a_10k_is_not_found(make_source: MakeSource) -> None:
    with pytest.raises(FilingNotFound, match=r"AAPL .*fiscal 2019"):
        await make_source().fetch("AAPL", 2019)


async def test_unknown_ticker_is_not_found(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    with pytest.raises(FilingNotFound, match="ZZZZ"):
        await make_source().fetch("ZZZZ", 2024)
    assert fake.paths() == [TICKERS]


async def test_submissions_404_is_not_found(make_source: MakeSource) -> None:
    with pytest.raises(FilingNotFound, match="no filing history"):
        await make_source().fetch("GONE", 2024)


# --- User-Agent ----------------------------------------------------------------------------


@pytest.mark.parametrize("user_agent", [None, "", "riskdrift research"])
async def test_refuses_to_call_edgar_without_a_contact(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource, user_agent: str | None
) -> None:
    fake, _ = edgar
    with pytest.raises(ConfigurationError, match="User-Agent"):
        await make_source(edgar_user_agent=user_agent).fetch("AAPL", 2024)
    assert fake.seen == []


async def test_user_agent_is_sent_on_every_request(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    await make_source().fetch("AAPL", 2024)
    assert len(fake.seen) == 3  # tickers, submissions, document
    assert {s.user_agent for s in fake.seen} == {USER_AGENT}


# --- retries -------------------------------------------------------------------------------


async def test_429_retry_after_is_honoured(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    fake.fail(AAPL_SUBMISSIONS, 429, {"Retry-After": "0.3"})
    source = make_source()
    doc = await source.fetch("AAPL", 2024)
    assert doc.accession == "0000320193-24-000123"
    tries = [s.at for s in fake.seen if s.path == AAPL_SUBMISSIONS]
    assert len(tries) == 2
    assert tries[1] - tries[0] >= 0.3  # waited as told, not the 1 ms backoff
    assert source.stats.retries == 1


async def test_5xx_then_success(edgar: tuple[FakeEdgar, str], make_source: MakeSource) -> None:
    fake, _ = edgar
    fake.fail(TICKERS, 502)
    fake.fail(TICKERS, 500)
    doc = await make_source().fetch("AAPL", 2024)
    assert doc.form == "10-K"
    assert fake.count(TICKERS) == 3


async def test_503_forever_gives_up_after_bounded_attempts(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    fake.break_path(AAPL_SUBMISSIONS, 503)
    source = make_source()
    with pytest.raises(UpstreamUnavailable, match=r"after 3 attempts \(HTTP 503\)"):
        await source.fetch("AAPL", 2024)
    assert fake.count(AAPL_SUBMISSIONS) == FAST.max_attempts
    assert source.stats.requests == 1 + FAST.max_attempts


async def test_long_retry_after_is_handed_to_the_job_layer(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    fake.fail(TICKERS, 429, {"Retry-After": "120"})
    with pytest.raises(UpstreamUnavailable) as caught:
        await make_source().fetch("AAPL", 2024)
    assert caught.value.retry_after == 120.0
    assert fake.count(TICKERS) == 1


async def test_timeouts_are_retried_then_unavailable(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    fake.hang(TICKERS)
    with pytest.raises(UpstreamUnavailable, match="ReadTimeout"):
        await make_source(edgar_timeout=0.1).fetch("AAPL", 2024)
    assert fake.count(TICKERS) == FAST.max_attempts


async def test_connection_refused_is_unavailable(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    source = EdgarFilingSource(settings_for(url, tmp_path), retry=FAST)
    try:
        with pytest.raises(UpstreamUnavailable, match="ConnectError"):
            await source.fetch("AAPL", 2024)
        assert source.stats.requests == FAST.max_attempts
    finally:
        await source.aclose()


# --- caching -------------------------------------------------------------------------------


async def test_documents_are_downloaded_once(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource, tmp_path: Path
) -> None:
    fake, _ = edgar
    first = make_source()
    await first.fetch("AAPL", 2024)
    again = await first.fetch("AAPL", 2024)
    assert again.content == (REAL10K / "AAPL" / "2024.html").read_bytes()
    # Metadata came from memory, the document from disk.
    assert fake.count(TICKERS) == 1
    assert fake.count(AAPL_SUBMISSIONS) == 1
    assert fake.count(AAPL_2024_DOC) == 1
    assert first.stats.documents_downloaded == 1
    assert first.stats.document_cache_hits == 1
    assert first.stats.metadata_cache_hits == 2

    # A new process (new source) with the same cache directory re-reads metadata only.
    second = make_source()
    doc = await second.fetch("AAPL", 2024)
    assert doc.accession == "0000320193-24-000123"
    assert fake.count(AAPL_2024_DOC) == 1
    assert fake.count(AAPL_SUBMISSIONS) == 2
    assert second.stats.document_cache_hits == 1
    cached = tmp_path / "cache" / "0000320193" / "000032019324000123" / "aapl-20240928.htm"
    assert cached.read_bytes() == doc.content
    assert [p.name for p in cached.parent.iterdir()] == ["aapl-20240928.htm"]


async def test_concurrent_fetches_share_one_download(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    source = make_source()
    docs = await asyncio.gather(*(source.fetch("NVDA", 2024) for _ in range(5)))
    assert {d.accession for d in docs} == {"0001045810-24-000029"}
    assert fake.count(TICKERS) == 1
    assert fake.count(NVDA_SUBMISSIONS) == 1
    assert sum("/Archives/" in p for p in fake.paths()) == 1


async def test_metadata_expires_after_its_ttl(edgar: tuple[FakeEdgar, str], tmp_path: Path) -> None:
    fake, url = edgar
    source = EdgarFilingSource(settings_for(url, tmp_path), retry=FAST, metadata_ttl=0.0)
    try:
        await source.fetch("AAPL", 2024)
        await source.fetch("AAPL", 2024)
    finally:
        await source.aclose()
    assert fake.count(TICKERS) == 2
    assert fake.count(AAPL_2024_DOC) == 1


# --- rate limit ----------------------------------------------------------------------------


async def test_requests_stay_under_the_rate_limit(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, url = edgar
    rate = 50.0
    source = make_source(edgar_requests_per_second=rate)
    await asyncio.gather(*(source.get(f"{url}/www/ping") for _ in range(25)))
    times = sorted(s.at for s in fake.seen)
    assert len(times) == 25
    interval = 1.0 / rate
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    # Evenly spaced, not bursts. Arrival times carry scheduling jitter (client and
    # server share one event loop), so assert on robust statistics.
    assert gaps[len(gaps) // 2] >= 0.8 * interval
    assert times[-1] - times[0] >= 24 * interval * 0.95
    # No sliding 0.1 s window holds more than rate * 0.1 requests (+2 for the edges).
    for i, start in enumerate(times):
        in_window = sum(1 for t in times[i:] if t < start + 0.1)
        assert in_window <= rate * 0.1 + 2


async def test_untagged_filing_is_taken_by_its_calendar_year(make_source: MakeSource) -> None:
    # Apple's FY2023 document here predates inline XBRL in form: no dei tags at all.
    doc = await make_source().fetch("AAPL", 2023)
    assert doc.accession == "0000320193-23-000106"
    assert doc.period_end == dt.date(2023, 9, 30)


async def test_a_confirming_tag_beats_an_untagged_calendar_match(make_source: MakeSource) -> None:
    # HD's year ended 2022-01-30 (untagged here) matches 2022 by calendar year, but the
    # year ended 2023-01-29 carries dei:DocumentFiscalYearFocus 2022: the tag wins.
    doc = await make_source().fetch("HD", 2022)
    assert doc.accession == "0000354950-23-000068"
    assert doc.period_end == dt.date(2023, 1, 29)


async def test_missing_document_moves_on_to_the_next_candidate(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    # HD's FY2022 document (the first candidate for 2023) is listed but gone: 404.
    fake.break_path("/www/Archives/edgar/data/354950/000035495023000068/hd-20230129.htm", 404)
    doc = await make_source().fetch("HD", 2023)
    assert doc.accession == "0000354950-24-000062"


# --- Item 1A incorporated by reference: the filing's EX-13 ---------------------------------

WFC_2024_INDEX = "/www/Archives/edgar/data/72971/000007297125000011/0000072971-25-000011-index.htm"
WFC_2024_EX13 = "/www/Archives/edgar/data/72971/000007297125000011/wfc-2024ex13.htm"


def test_filing_index_page_lists_documents_by_type() -> None:
    page = FIXTURES / "archive" / "72971" / "000007297125000011" / WFC_2024_INDEX.rsplit("/")[-1]
    docs = filing_documents(page.read_text())
    assert [(d.type, d.document) for d in docs][:3] == [
        ("10-K", "wfc-20241231.htm"),
        ("EX-13", "wfc-2024ex13.htm"),
        ("EX-21", "wfc-ex21.htm"),
    ]
    found = find_exhibit(docs, "EX-13")
    assert found is not None
    assert found.description == "2024 ANNUAL REPORT TO SHAREHOLDERS"
    assert find_exhibit(docs, "EX-99") is None


async def test_incorporated_item_1a_is_read_from_the_filings_ex13(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    source = make_source()
    doc = await source.fetch("WFC", 2024)
    assert doc.document == "wfc-20241231.htm"
    # The real WFC 10-K: Item 1A only points to the annual report.
    with pytest.raises(Item1AIncorporatedByReference) as info:
        extract_item1a(doc.content, doc.name)
    exhibit = await source.exhibit(doc, info.value.exhibit)
    assert exhibit is not None
    assert exhibit.document == "wfc-2024ex13.htm"
    assert exhibit.name.endswith("/72971/000007297125000011/wfc-2024ex13.htm")
    assert (exhibit.accession, exhibit.year, exhibit.source) == (doc.accession, 2024, "edgar")
    item = extract_item1a(exhibit.content, exhibit.name)
    assert item.located_by == "section_title"
    assert item.ended_by == "Controls and Procedures"
    assert "Cyber attacks could disrupt our operations." in item.text
    # Asked again: the index from memory, the exhibit from the disk cache.
    again = await source.exhibit(doc, "EX-13")
    assert again is not None
    assert again.content == exhibit.content
    assert fake.count(WFC_2024_INDEX) == 1
    assert fake.count(WFC_2024_EX13) == 1


async def test_a_filing_without_the_exhibit_gives_none(make_source: MakeSource) -> None:
    source = make_source()
    doc = await source.fetch("WFC", 2024)
    assert await source.exhibit(doc, "EX-99") is None


async def test_agent_analyses_the_ex13_of_both_years(make_source: MakeSource) -> None:
    agent = ResearchAgent(make_source())
    result = await agent.arun(AnalyzeRequest(ticker="WFC", years=[2024, 2023]))
    assert [f.year for f in result.filings] == [2024, 2023]
    for filing in result.filings:
        assert filing.risk_count == 5
        assert filing.item1a_chars > 2_000
    titles = {r.title_current for r in result.risks if r.status == "new"}
    assert any(t and "Cyber attacks" in t for t in titles)


# --- Content-Encoding under the size cap ---------------------------------------------------


def stacked_gzip_bomb(expanded: int) -> bytes:
    """``expanded`` zero bytes, gzipped, gzipped again: a few kilobytes on the wire."""
    inner = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [inner.compress(block) for _ in range(expanded >> 20)]
    parts.append(inner.flush())
    return gzip.compress(b"".join(parts), 9)


async def test_a_stacked_gzip_bomb_is_refused_without_expanding(
    edgar: tuple[FakeEdgar, str], tmp_path: Path
) -> None:
    fake, url = edgar
    cap = 1 << 20
    bomb = stacked_gzip_bomb(512 << 20)  # 512 MiB of zeros in under a kilobyte
    assert len(bomb) < 4 << 10
    fake.encode(TICKERS, ["gzip", "gzip"], raw=bomb)
    source = EdgarFilingSource(settings_for(url, tmp_path / "cache"), retry=FAST, max_bytes=cap)
    tracemalloc.start()
    try:
        with pytest.raises(FilingParseError, match=r"over the 1048576-byte limit"):
            await source.fetch("AAPL", 2024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        await source.aclose()
    # What was expanded stayed near the cap, never near the bomb's 512 MiB.
    assert peak < 8 * cap, peak


@pytest.mark.parametrize(
    "encodings", [["gzip"], ["deflate"], ["gzip", "gzip"], ["deflate", "gzip"]]
)
async def test_layered_encodings_within_the_cap_are_decoded(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource, encodings: list[str]
) -> None:
    fake, _ = edgar
    fake.encode(TICKERS, encodings)
    fake.encode(AAPL_2024_DOC, encodings)
    doc = await make_source().fetch("AAPL", 2024)
    assert doc.content == (REAL10K / "AAPL" / "2024.html").read_bytes()


@pytest.mark.parametrize(
    ("encodings", "reason"),
    [(["gzip", "gzip", "gzip"], "3 stacked Content-Encodings"), (["br"], "unsupported")],
)
async def test_encodings_riskdrift_never_asked_for_are_refused(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource, encodings: list[str], reason: str
) -> None:
    fake, _ = edgar
    fake.encode(TICKERS, encodings, raw=b"whatever")
    with pytest.raises(FilingParseError, match=reason):
        await make_source().fetch("AAPL", 2024)


# --- a named filing (AnalyzeRequest.filing): by accession -----------------------------------

TSLA_AMENDMENT = "0001104659-25-042659"  # Part III only: no Item 1A


async def test_a_named_amendment_is_fetched_by_its_accession(
    edgar: tuple[FakeEdgar, str], make_source: MakeSource
) -> None:
    fake, _ = edgar
    doc = await make_source().fetch_filing("tsla", 2024, TSLA_AMENDMENT)
    assert (doc.ticker, doc.year, doc.form, doc.accession) == (
        "TSLA",
        2024,
        "10-K/A",
        TSLA_AMENDMENT,
    )
    assert doc.document == "tm2513127d1_10ka.htm"
    assert doc.content == (REAL10K / "TSLA" / "2024.10-KA.html").read_bytes()
    # Only that filing's document was downloaded, not the year's original.
    assert not any(p.endswith("tsla-20241231.htm") for p in fake.paths())


async def test_a_named_filing_of_another_company_or_year_is_refused(
    make_source: MakeSource,
) -> None:
    source = make_source()
    with pytest.raises(FilingNotFound, match="EDGAR lists no filing 0001045810-25-000023 of TSLA"):
        await source.fetch_filing("TSLA", 2024, "0001045810-25-000023")  # NVIDIA's 10-K
    # Tesla's fiscal 2023 10-K named as its 2024 filing: its own tag says otherwise.
    with pytest.raises(FilingNotFound, match="labelled fiscal 2023, not 2024"):
        await source.fetch_filing("TSLA", 2024, "0001628280-24-002390")


async def test_the_agent_on_a_named_part_iii_amendment_says_it_has_no_item_1a(
    make_source: MakeSource,
) -> None:
    """Asked directly (not by the watch, which starts no job for it), the analysis of a Part
    III amendment fails naming the amendment, not the original."""
    from riskdrift.errors import Item1ANotFound

    agent = ResearchAgent(make_source())
    request = AnalyzeRequest(ticker="TSLA", years=[2024, 2023], filing=TSLA_AMENDMENT)
    with pytest.raises(Item1ANotFound) as caught:
        await agent.arun(request)
    assert "000110465925042659/tm2513127d1_10ka.htm" in str(caught.value)
