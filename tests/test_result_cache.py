"""The result cache: a pair analysed again with the same filings and engine is answered
from Postgres, marked ``cached``; a new engine version analyses it afresh.

Real Postgres and Redis, a real arq worker with the real research agent over the
bundled ACME sample filings (local source: filings identified by content sha256).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest
from arq import ArqRedis

from riskdrift.agent.lexicons import load_lexicon
from riskdrift.analysis import pipeline
from riskdrift.analysis.risks import RiskFactor
from riskdrift.analysis.sentiment import Lexicon
from riskdrift.config import Settings
from riskdrift.events.publish import stream_key
from riskdrift.jobs.enqueue import enqueue_new_job
from riskdrift.models import AnalysisResult, AnalyzeRequest, FilingDocument, JobEvent
from riskdrift.store import jobs, results
from riskdrift.store.result_cache import CacheKey, ResultCache, filing_identity
from riskdrift.worker.settings import build_worker_settings
from tests.conftest import burst_worker
from tests.corpus import ROOT

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parent.parent / "riskdrift" / "samples" / "filings"


def _doc(content: bytes, accession: str | None = None, year: int = 2024) -> FilingDocument:
    return FilingDocument(
        ticker="ACME", year=year, content=content, name="x", source="local", accession=accession
    )


def test_filing_identity_prefers_the_accession_number() -> None:
    assert filing_identity(_doc(b"a", "0000320193-24-000123")) == "accession:0000320193-24-000123"
    assert filing_identity(_doc(b"a")) == filing_identity(_doc(b"a"))
    assert filing_identity(_doc(b"a")) != filing_identity(_doc(b"b"))


def test_key_covers_filings_years_and_engine() -> None:
    def key(current: bytes, previous: bytes, engine: str = "v1", lexicon: str = "l") -> CacheKey:
        return CacheKey.of(
            _doc(current), _doc(previous, year=2023), engine_version=engine, lexicon=lexicon
        )

    base = key(b"a", b"b")
    assert base.digest == key(b"a", b"b").digest
    others = [key(b"a", b"c"), key(b"b", b"a"), key(b"a", b"b", engine="v2"),
              key(b"a", b"b", lexicon="other")]  # fmt: skip
    assert len({base.digest, *(k.digest for k in others)}) == 5


def test_the_engine_version_is_read_on_first_use_not_at_import() -> None:
    """Importing the analysis reads none of its files; the digest is taken once."""
    code = (
        "from riskdrift.analysis import pipeline as p\n"
        "before = p.engine_version.cache_info().currsize\n"
        "p.engine_version(); p.engine_version()\n"
        "info = p.engine_version.cache_info()\n"
        "print(before, info.misses, info.hits)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.split()
    assert out == ["0", "1", "1"]


def test_the_engine_version_follows_the_analysis_code() -> None:
    """Any change to the analysis package's code or data changes the engine version."""
    assert pipeline.engine_version().startswith(f"riskdrift-analysis/{pipeline.ENGINE_RELEASE}+")
    assert pipeline.engine_version().endswith("+" + pipeline._source_digest())
    # The lexicon is in the key too: the built-in word lists and a changed copy differ.
    builtin = load_lexicon(None)
    changed = Lexicon(builtin.name, {**builtin.categories, "negative": frozenset({"loss"})})
    assert builtin.fingerprint == load_lexicon(None).fingerprint
    assert builtin.fingerprint != changed.fingerprint


async def _submit(db: asyncpg.Pool, redis: ArqRedis, settings: Settings) -> uuid.UUID:
    job, _ = await jobs.create_job(
        db, AnalyzeRequest(ticker="ACME", years=[2024, 2023]), tenant="default"
    )
    await enqueue_new_job(redis, job.id, settings)
    return job.id


async def _run_one(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> tuple[uuid.UUID, AnalysisResult]:
    job_id = await _submit(db, redis, settings)
    worker = burst_worker(build_worker_settings(settings))
    try:
        await worker.main()
    finally:
        await worker.close()
    job = await jobs.get_job(db, job_id)
    assert job is not None
    assert job.status == "completed", job
    result = await results.get_result(db, job_id)
    assert result is not None
    return job_id, result


async def _steps(redis: ArqRedis, job_id: uuid.UUID) -> list[str]:
    entries = await redis.xrange(stream_key(job_id))
    events = [JobEvent.model_validate_json(fields[b"data"]) for _, fields in entries]
    return [e.step for e in events if e.event == "step_complete" and e.step is not None]


async def test_second_job_is_answered_from_the_cache_until_the_engine_changes(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings.model_copy(
        update={"filings_dir": SAMPLES, "filings_source": "local", "result_cache": True}
    )

    first_id, first = await _run_one(db, redis, settings)
    assert first.cached is False
    assert await db.fetchval("SELECT count(*) FROM result_cache") == 1

    second_id, second = await _run_one(db, redis, settings)
    assert second.cached is True
    # The stored analysis, not a recomputation that happens to agree: the cache row was hit.
    assert await db.fetchval("SELECT hits FROM result_cache") == 1
    assert second.model_dump(exclude={"cached"}) == first.model_dump(exclude={"cached"})
    assert len(await _steps(redis, first_id)) == 6
    assert await _steps(redis, second_id) == ["fetching_filings", "writing_summary"]

    monkeypatch.setattr(pipeline, "engine_version", lambda: "riskdrift-analysis/test-bump")
    _, third = await _run_one(db, redis, settings)
    assert third.cached is False
    assert third.method["engine"] == "riskdrift-analysis/test-bump"
    rows = await db.fetch("SELECT engine_version, hits FROM result_cache ORDER BY created_at")
    assert [(r["engine_version"], r["hits"]) for r in rows] == [
        (first.method["engine"], 1),
        ("riskdrift-analysis/test-bump", 0),
    ]


async def test_the_jobs_of_a_pair_share_one_stored_copy_of_its_result(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    """Migration 013: the job that computed a result and the job answered from the cache
    both refer to the cache entry; no result row holds bytes of its own, and each serves
    the stored result with its own ``cached`` flag."""
    settings = settings.model_copy(
        update={"filings_dir": SAMPLES, "filings_source": "local", "result_cache": True}
    )
    first_id, first = await _run_one(db, redis, settings)
    second_id, second = await _run_one(db, redis, settings)
    rows = await db.fetch(
        "SELECT job_id, result IS NULL AS by_reference, cache_key, cached FROM analysis_results"
    )
    entry = await db.fetchval("SELECT cache_key FROM result_cache")
    assert {(r["job_id"], r["by_reference"], r["cache_key"], r["cached"]) for r in rows} == {
        (first_id, True, entry, False),
        (second_id, True, entry, True),
    }
    served = [await results.get_result_json(db, job_id) for job_id in (first_id, second_id)]
    assert [AnalysisResult.model_validate_json(raw or "") for raw in served] == [first, second]
    # The facts a hit reads instead of the result: the row's columns come from them.
    counts = await db.fetchrow(
        "SELECT risks_new, risks_removed, risks_modified, risks_unchanged, company"
        " FROM analysis_results WHERE job_id = $1",
        second_id,
    )
    statuses = [risk.status for risk in first.risks]
    assert dict(counts) == {
        "risks_new": statuses.count("new"),
        "risks_removed": statuses.count("removed"),
        "risks_modified": statuses.count("modified"),
        "risks_unchanged": statuses.count("unchanged"),
        "company": first.company,
    }


async def test_cache_off_analyses_every_time(
    db: asyncpg.Pool, redis: ArqRedis, settings: Settings
) -> None:
    settings = settings.model_copy(
        update={"filings_dir": SAMPLES, "filings_source": "local", "result_cache": False}
    )
    assert (await _run_one(db, redis, settings))[1].cached is False
    assert (await _run_one(db, redis, settings))[1].cached is False
    assert await db.fetchval("SELECT count(*) FROM result_cache") == 0


async def test_cache_lookup_is_by_engine_version(db: asyncpg.Pool) -> None:
    current, previous = _doc(b"cur"), _doc(b"prev", year=2023)
    old, new = ResultCache(db, engine_version="old"), ResultCache(db, engine_version="new")
    stored = AnalysisResult.model_validate(
        {
            "ticker": "ACME", "company": "Acme", "cik": None, "years": [2024, 2023],
            "filings": [], "similarity": {"cosine": 1, "jaccard": 1, "min_edit": 1, "simple": 1},
            "risks": [], "heatmap": {"rows": [], "columns": [], "values": []},
            "summary": "s", "recommendations": [], "cached": True,
        }
    )  # fmt: skip
    await old.put(old.key(current, previous, lexicon="l"), stored)
    hit = await old.get(old.key(current, previous, lexicon="l"))
    assert hit is not None
    assert hit.cached is False  # stored as the analysis, not as a hit
    assert await new.get(new.key(current, previous, lexicon="l")) is None


async def test_an_entry_keeps_the_risk_texts_and_one_without_them_is_a_miss(
    db: asyncpg.Pool,
) -> None:
    current, previous = _doc(b"cur"), _doc(b"prev", year=2023)
    cache = ResultCache(db, engine_version="v")
    result = AnalysisResult.model_validate(
        {
            "ticker": "ACME", "company": "Acme", "cik": None, "years": [2024, 2023],
            "filings": [], "similarity": {"cosine": 1, "jaccard": 1, "min_edit": 1, "simple": 1},
            "risks": [], "heatmap": {"rows": [], "columns": [], "values": []},
            "summary": "s", "recommendations": [],
        }
    )  # fmt: skip
    texts = {
        2024: (RiskFactor("Supply", "We rely on one supplier.", "Operations", 0),),
        2023: (RiskFactor("Supply", "We rely on two suppliers.", None, 0),
               RiskFactor("Rates", "Rates may rise.", None, 1)),
    }  # fmt: skip
    result.risk_factors.update(texts)
    key = cache.key(current, previous, lexicon="l")
    await cache.put(key, result)
    hit = await cache.get(key)
    assert hit is not None
    assert hit.risk_factors == texts

    # An entry written before the cache kept risk texts cannot feed search: recompute it.
    await db.execute("UPDATE result_cache SET risk_factors = NULL")
    assert await cache.get(key) is None


async def test_results_are_stored_lz4_compressed_where_the_server_has_lz4(
    db: asyncpg.Pool,
) -> None:
    """Migration 010: job results and cache entries use lz4 (2-3x faster to store than
    pglz, and smaller); a server without lz4 keeps pglz and still migrates."""
    async with db.acquire() as conn:
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL default_toast_compression = lz4")
        except asyncpg.PostgresError:
            pytest.skip("this PostgreSQL is built without lz4")
        rows = await conn.fetch(
            """SELECT attrelid::regclass::text AS rel, attname, attcompression
               FROM pg_attribute
               WHERE attrelid IN ('analysis_results'::regclass, 'result_cache'::regclass)
                 AND attname IN ('result', 'risk_factors')"""
        )
    assert {(r["rel"], r["attname"], r["attcompression"]) for r in rows} == {
        ("analysis_results", "result", b"l"),
        ("result_cache", "result", b"l"),
        ("result_cache", "risk_factors", b"l"),
    }
