"""The filing watch: an arq cron job that analyses every new 10-K of a watched company.

Every tick (``min(watch_interval, 30)`` seconds; arq runs each tick on one worker of the
queue) :func:`poll_watchlists` claims the companies whose poll is due
(:func:`riskdrift.store.watchlists.claim_due`: their next poll moves a watch interval
ahead in the same statement, so concurrent pollers never share a company), lists each
one's annual reports (:mod:`riskdrift.watch.listing`) and:

- on a company's first poll, records everything listed as its **baseline**: seen, never
  analysed (a watchlist created while only the latest 10-K exists starts nothing), and
  with the watchlist's ``backfill_years`` submits the company's history as a batch
  (:mod:`riskdrift.watch.backfill`);
- afterwards, for each filing not seen before (of a form the watchlist follows), starts
  the analysis of its fiscal year Y against Y-1 (:func:`submit_watch_job`) when Y-1 was
  filed too, else records it as skipped with the reason. The job names the filing it
  saw (``AnalyzeRequest.filing``), so it analyses that document: an amendment (10-K/A)
  with an Item 1A is analysed in place of the original, and being the year's newest
  analysis it is what the watchlist's ranking shows for that year. An amendment without
  one (Part III only, the common case) replaces nothing: it is recorded as skipped
  ("no Item 1A in the amendment; the original's analysis stands") and starts no job.

A second cron job, :func:`announce_analyses` (every ``min(tick, 5)`` seconds), announces
the watch jobs that ended since its last tick (:mod:`riskdrift.watch.notify`: the
``filing.analysed`` webhook, the watchlist's stream).

Exactly once, however many workers run the cron and across restarts: the filing's row
and its job row are inserted in one transaction, under the filing's primary key, and the
job id is derived from that key (:func:`watch_job_id`). The job is then enqueued exactly
as ``POST /analyze`` enqueues one (:func:`riskdrift.jobs.enqueue.enqueue_new_job`); if
Redis fails in between, the row stays ``queued`` and the reconciler enqueues it.

Failures stay with their company: an unknown ticker is marked ``unknown_ticker``, any
other error ``failing``; either way its next poll backs off (``watch_interval × 2^n``, at
most ``watch_backoff_max``, and no sooner than EDGAR's ``Retry-After``) and the other
companies are polled as usual. EDGAR requests are conditional (a ``304`` when nothing
was filed) and wait for the fair-access pace every worker shares.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Sequence
from typing import TypedDict

import asyncpg
import structlog

from riskdrift.config import Settings
from riskdrift.errors import FilingNotFound, RiskdriftError
from riskdrift.jobs.enqueue import enqueue_new_job
from riskdrift.queue import ArqRedis
from riskdrift.store import watchlists
from riskdrift.store.watchlists import DueCompany, SeenFiling, WatchJob
from riskdrift.watch.backfill import submit_backfill
from riskdrift.watch.listing import FilingLister, IndexVersion, ListedFiling
from riskdrift.watch.notify import announce_ended

log = structlog.get_logger(__name__)

WATCH_NAMESPACE = uuid.UUID("8f0b8a52-6a57-4a2e-9d0e-3b7f3c1d2e24")
MAX_TICK = 30  # seconds: the cron's longest tick, whatever the interval
CLAIM_BATCH = 200  # companies one tick claims at most; the rest are due at the next tick
CONCURRENCY = 8  # companies listed at once by one poller
NO_RISK_FACTORS = "no Item 1A in the amendment; the original's analysis stands"


class WatchContext(TypedDict, total=False):
    """What the cron job reads of arq's ``ctx`` (a subset of the worker's context)."""

    redis: ArqRedis
    settings: Settings
    pool: asyncpg.Pool
    watch_lister: FilingLister


def cron_tick(settings: Settings) -> int:
    """Seconds between two ticks of the watch cron."""
    return max(1, min(settings.watch_interval, MAX_TICK))


def cron_seconds(settings: Settings) -> set[int]:
    """The seconds of the minute the watch cron runs at (arq's ``cron(second=...)``)."""
    return set(range(0, 60, cron_tick(settings)))


ANNOUNCE_TICK = 5  # seconds: the announcing cron's longest tick


def announce_seconds(settings: Settings) -> set[int]:
    """The seconds of the minute the announcing cron runs at: every
    ``min(watch tick, 5)`` seconds, so an analysis is announced soon after it ends."""
    return set(range(0, 60, max(1, min(cron_tick(settings), ANNOUNCE_TICK))))


async def announce_analyses(ctx: WatchContext) -> int:
    """The announcing cron job: the watch jobs that ended since its last tick get their
    ``filing.analysed`` webhook and stream event (:mod:`riskdrift.watch.notify`)."""
    try:
        return await announce_ended(ctx["pool"], ctx["redis"], ctx["settings"])
    except Exception:
        # Left for the next tick (nothing is marked announced unless that was committed).
        log.exception("watch_announce_failed")
        return 0


def watch_job_id(watchlist_id: uuid.UUID, ticker: str, filing_key: str) -> uuid.UUID:
    """The job id of a filing's analysis: the same for every poller, every time."""
    return uuid.uuid5(WATCH_NAMESPACE, f"{watchlist_id}/{ticker}/{filing_key}")


async def submit_watch_job(
    pool: asyncpg.Pool,
    redis: ArqRedis,
    settings: Settings,
    company: DueCompany,
    filing: ListedFiling,
) -> uuid.UUID | None:
    """Start the analysis of a new ``filing`` (fiscal Y against Y-1) as an ordinary job with
    ``trigger = 'watch'``: its row, recorded with the filing in one transaction, then its
    queue entry. Returns the job id, or ``None`` if another poller recorded it first."""
    job = WatchJob(
        job_id=watch_job_id(company.watchlist_id, company.ticker, filing.key),
        current=filing.fiscal_year,
        previous=filing.fiscal_year - 1,
        callback_url=None,  # the watchlist's callback_url is for its own filing.analysed
        filing=filing.exact,
    )
    recorded = await watchlists.record_new_filing(pool, company, _seen(filing), job=job)
    if not recorded:
        return None
    try:
        await enqueue_new_job(redis, job.job_id, settings)
    except Exception as exc:
        # The row is queued with no queue entry: the reconciler enqueues it after its grace.
        log.warning("watch_enqueue_failed", job_id=str(job.job_id), error=type(exc).__name__)
    log.info(
        "watch_job_started",
        job_id=str(job.job_id),
        watchlist_id=str(company.watchlist_id),
        ticker=company.ticker,
        filing=filing.key,
        form=filing.form,
        years=[job.current, job.previous],
    )
    return job.job_id


def _seen(filing: ListedFiling) -> SeenFiling:
    return SeenFiling(filing.key, filing.form, filing.fiscal_year, filing.filed)


def backoff(settings: Settings, failures: int) -> float:
    """Seconds until a company that has failed ``failures`` times before is polled again."""
    return float(min(settings.watch_backoff_max, settings.watch_interval * 2 ** min(failures, 20)))


async def poll_company(ctx: WatchContext, company: DueCompany) -> list[uuid.UUID]:
    """One company's poll (module docstring); the ids of the jobs it started."""
    pool, settings = ctx["pool"], ctx["settings"]
    since = None
    if not company.first_poll and (company.index_etag or company.index_modified):
        since = IndexVersion(company.index_etag, company.index_modified)
    listing = await ctx["watch_lister"].list_filings(company.ticker, cik=company.cik, since=since)
    version = {"etag": listing.version.etag, "modified": listing.version.modified}
    if listing.unchanged:
        await watchlists.record_poll(pool, company, cik=listing.cik, **version)
        return []
    followed = [f for f in listing.filings if f.form in company.forms]
    if company.first_poll:
        originals = [f.fiscal_year for f in listing.filings if f.form == "10-K"]
        if company.backfill_years and originals:
            # Before the baseline: a failure here is retried with the poll (idempotently).
            await submit_backfill(
                pool,
                ctx["redis"],
                settings,
                company,
                latest=max(originals),
                years=company.backfill_years,
            )
        baseline = [_seen(f) for f in followed]
        await watchlists.record_baseline(pool, company, baseline, cik=listing.cik, **version)
        log.info("watch_baseline", ticker=company.ticker, filings=len(followed))
        return []
    seen = await watchlists.seen_keys(pool, company.watchlist_id, company.ticker)
    annual = [f for f in listing.filings if f.form == "10-K"]
    started = []
    for new in sorted((f for f in followed if f.key not in seen), key=_order):
        # The filer's own label decides the years compared (EDGAR: the document's tag).
        label = await ctx["watch_lister"].labelled_year(new, cik=listing.cik)
        filing = dataclasses.replace(new, fiscal_year=label)
        if not _has_previous(filing, annual):
            reason = f"no fiscal {filing.fiscal_year - 1} 10-K to compare with"
            seen_now = _seen(filing)
            await watchlists.record_new_filing(pool, company, seen_now, job=None, skipped=reason)
            log.info(
                "watch_filing_skipped", ticker=company.ticker, filing=filing.key, reason=reason
            )
            continue
        if filing.form == "10-K/A" and not await ctx["watch_lister"].has_item1a(
            filing, cik=listing.cik
        ):
            await watchlists.record_new_filing(
                pool, company, _seen(filing), job=None, skipped=NO_RISK_FACTORS
            )
            log.info(
                "watch_filing_skipped",
                ticker=company.ticker,
                filing=filing.key,
                reason=NO_RISK_FACTORS,
            )
            continue
        job_id = await submit_watch_job(pool, ctx["redis"], settings, company, filing)
        if job_id is not None:
            started.append(job_id)
    await watchlists.record_poll(pool, company, cik=listing.cik, **version)
    return started


def _has_previous(filing: ListedFiling, originals: list[ListedFiling]) -> bool:
    """Whether the company filed the 10-K of the year before ``filing``'s: an original
    with an earlier period end (EDGAR), or a file of the year before (local)."""
    if filing.period_end is not None:
        end = filing.period_end
        return any(f.period_end is not None and f.period_end < end for f in originals)
    return any(f.fiscal_year == filing.fiscal_year - 1 for f in originals)


def _order(filing: ListedFiling) -> tuple[int, bool, str]:
    # Oldest year first, and a year's original before its amendment (which replaces it).
    return filing.fiscal_year, filing.form != "10-K", filing.key


async def _poll_safely(
    ctx: WatchContext, company: DueCompany, gate: asyncio.Semaphore
) -> tuple[int, bool]:
    """Poll one company; its failure is recorded on it and stops no other."""
    async with gate:
        try:
            return len(await poll_company(ctx, company)), True
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            unknown = isinstance(exc, FilingNotFound)
            retry_in = backoff(ctx["settings"], company.failures)
            if isinstance(exc, RiskdriftError) and exc.retry_after is not None:
                retry_in = max(retry_in, exc.retry_after)  # EDGAR's Retry-After, or its 403
            log.warning(
                "watch_poll_failed",
                ticker=company.ticker,
                watchlist_id=str(company.watchlist_id),
                error=type(exc).__name__,
                detail=str(exc)[:300],
                retry_in=retry_in,
            )
            try:
                await watchlists.record_failure(
                    ctx["pool"], company, error=str(exc)[:1000], unknown=unknown, retry_in=retry_in
                )
            except Exception:
                log.exception("watch_failure_not_recorded", ticker=company.ticker)
            return 0, False


async def poll_watchlists(ctx: WatchContext) -> dict[str, int]:
    """The cron job: poll every due company once; returns the tick's counts."""
    settings = ctx["settings"]
    began = time.perf_counter()
    lease = settings.watch_interval - cron_tick(settings) / 2
    due: Sequence[DueCompany] = await watchlists.claim_due(
        ctx["pool"], lease=max(lease, 0.5), limit=CLAIM_BATCH
    )
    if not due:
        return {"polled": 0, "started": 0, "failed": 0}
    gate = asyncio.Semaphore(CONCURRENCY)
    outcomes = await asyncio.gather(*(_poll_safely(ctx, c, gate) for c in due))
    counts = {
        "polled": len(due),
        "started": sum(n for n, _ in outcomes),
        "failed": sum(1 for _, ok in outcomes if not ok),
    }
    log.info("watch_polled", duration_ms=round((time.perf_counter() - began) * 1000, 1), **counts)
    return counts
