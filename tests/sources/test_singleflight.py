"""Single flight: a batch of jobs for one company fetches its submissions index once
and each filing once, however many jobs (and worker processes) ask at the same moment.

The EDGAR source holds one ``asyncio.Lock`` per metadata key and per document path
(``EdgarFilingSource._cached`` / ``document``): the first caller loads, the others
wait on the lock and then read the memory or disk cache. Across processes,
:class:`~riskdrift.sources.singleflight.SharedMetadata` does the same for the
submissions index through Redis. Counted on the fake EDGAR over real HTTP
(tests/sources/localserver.py) with real Redis, nothing patched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from riskdrift.config import Settings
from riskdrift.errors import UpstreamUnavailable
from riskdrift.sources.edgar import EdgarFilingSource
from riskdrift.sources.singleflight import PREFIX, SharedMetadata
from tests.corpus import REAL10K, needs_corpus
from tests.doubles.edgar import FakeEdgar
from tests.sources.localserver import closed_port, serve
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


# --- across processes: SharedMetadata on Redis ------------------------------------------


@pytest.fixture
async def shared_redis(settings: Settings) -> AsyncIterator[Redis]:
    client = Redis.from_url(settings.redis_url)
    yield client
    keys = [k async for k in client.scan_iter(match=f"{PREFIX}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_sources_of_several_processes_fetch_the_index_once(
    edgar: tuple[FakeEdgar, str], tmp_path: Path, shared_redis: Redis
) -> None:
    """Four sources (one per worker process: own memory cache, own locks) sharing Redis
    and the disk cache, asked at once for a company's pair: one submissions download."""
    fake, url = edgar
    sources = [
        EdgarFilingSource(
            settings_for(url, tmp_path / "cache"), retry=FAST, shared=SharedMetadata(shared_redis)
        )
        for _ in range(4)
    ]
    try:
        docs = await asyncio.gather(
            *(s.fetch("NVDA", year) for s in sources for year in (2025, 2024))
        )
    finally:
        for source in sources:
            await source.aclose()
    assert len({d.accession for d in docs}) == 2
    assert fake.count(NVDA_SUBMISSIONS) == 1
    assert sum(s.shared.downloads for s in sources if s.shared) == 1
    assert sum(s.shared.shared_hits for s in sources if s.shared) == 3


async def test_a_failed_download_is_not_shared(
    edgar: tuple[FakeEdgar, str], tmp_path: Path, shared_redis: Redis
) -> None:
    fake, url = edgar
    fake.break_path(NVDA_SUBMISSIONS, 503)
    source = EdgarFilingSource(
        settings_for(url, tmp_path / "cache"), retry=FAST, shared=SharedMetadata(shared_redis)
    )
    try:
        with pytest.raises(UpstreamUnavailable):
            await source.fetch("NVDA", 2024)
        fake.broken.clear()
        doc = await source.fetch("NVDA", 2024)
    finally:
        await source.aclose()
    assert doc.accession == "0001045810-24-000029"
    assert [k async for k in shared_redis.scan_iter(match=f"{PREFIX}*:lock")] == []


async def test_redis_away_means_a_plain_download(
    edgar: tuple[FakeEdgar, str], tmp_path: Path
) -> None:
    fake, url = edgar
    gone = Redis(host="127.0.0.1", port=closed_port(), socket_connect_timeout=0.5)
    source = EdgarFilingSource(
        settings_for(url, tmp_path / "cache"), retry=FAST, shared=SharedMetadata(gone)
    )
    try:
        doc = await source.fetch("NVDA", 2024)
    finally:
        await source.aclose()
        await gone.aclose()
    assert doc.accession == "0001045810-24-000029"
    assert fake.count(NVDA_SUBMISSIONS) == 1
