"""Single flight in one worker process: a batch of jobs for one company fetches its
submissions index once and each filing once, however many jobs ask at the same moment.

The EDGAR source holds one ``asyncio.Lock`` per metadata key and per document path
(``EdgarFilingSource._cached`` / ``document``): the first caller loads, the others
wait on the lock and then read the memory or disk cache. Counted on the fake EDGAR
over real HTTP (tests/sources/localserver.py), nothing patched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from riskdrift.sources.edgar import EdgarFilingSource
from tests.corpus import REAL10K, needs_corpus
from tests.sources.fake_edgar import FakeEdgar
from tests.sources.localserver import serve
from tests.sources.test_edgar import FAST, NVDA_SUBMISSIONS, TICKERS, settings_for

pytestmark = needs_corpus


@pytest.fixture
async def edgar() -> AsyncIterator[tuple[FakeEdgar, str]]:
    fake = FakeEdgar(corpus=REAL10K)
    async with serve(fake.app()) as url:
        try:
            yield fake, url
        finally:
            fake.release.set()


async def test_a_batch_for_one_company_fetches_its_index_once(
    edgar: tuple[FakeEdgar, str], tmp_path: Path
) -> None:
    fake, url = edgar
    source = EdgarFilingSource(settings_for(url, tmp_path / "cache"), retry=FAST)
    try:
        # 20 jobs at once, each needing both years of one pair (as a batch's jobs do).
        fetches = [source.fetch("NVDA", year) for _ in range(20) for year in (2025, 2024)]
        docs = await asyncio.gather(*fetches)
    finally:
        await source.aclose()
    assert len({d.accession for d in docs}) == 2
    assert fake.count(TICKERS) == 1
    assert fake.count(NVDA_SUBMISSIONS) == 1
    archive = [p for p in fake.paths() if "/Archives/" in p]
    assert len(archive) == len(set(archive)) == 2, archive
    assert source.stats.documents_downloaded == 2
    assert source.stats.document_cache_hits == 38


async def test_a_second_process_on_the_same_host_downloads_nothing(
    edgar: tuple[FakeEdgar, str], tmp_path: Path
) -> None:
    """Worker processes of one host share the disk cache: a filing one process has
    downloaded is read from disk by the others (only the index is fetched again)."""
    fake, url = edgar
    for _ in range(2):
        source = EdgarFilingSource(settings_for(url, tmp_path / "cache"), retry=FAST)
        try:
            await asyncio.gather(source.fetch("NVDA", 2025), source.fetch("NVDA", 2024))
        finally:
            await source.aclose()
    assert sum("/Archives/" in p for p in fake.paths()) == 2
    assert fake.count(NVDA_SUBMISSIONS) == 2
