"""Watchlists, their companies, and the filings the scheduler has seen (issue 24).

Three tables (migration 011): ``watchlists`` (one per tenant and name),
``watchlist_companies`` (a watched ticker and the scheduler's state for it) and
``watch_filings`` (every filing seen of a watched company).

The scheduler's guarantees are made here, in SQL:

- **one poller per company at a time**: :func:`claim_due` moves a due company's
  ``next_poll_at`` forward in the statement that selects it (``FOR UPDATE SKIP LOCKED``),
  so workers running the cron together split the due companies between them;
- **a filing starts its analysis exactly once**: :func:`record_new_filing` inserts the
  filing's ``watch_filings`` row and its job row in one transaction; the row's primary
  key (watchlist, ticker, filing key) refuses a second insert, and the job id is derived
  from that key, so neither a second poller nor a restart can start it again;
- **the tenant's caps hold exactly**: creating or growing a watchlist takes a transaction
  advisory lock on the tenant, so two requests cannot both pass the count.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from riskdrift.errors import WatchLimitExceeded, WatchlistNameTaken
from riskdrift.store.paging import newest_first
from riskdrift.store.pool import Executor

COLUMNS = "id, tenant, name, forms, callback_url, backfill_years, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class WatchlistRecord:
    """One row of ``watchlists``."""

    id: uuid.UUID
    tenant: str
    name: str
    forms: tuple[str, ...]
    callback_url: str | None
    backfill_years: int | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> WatchlistRecord:
        return cls(
            id=row["id"],
            tenant=row["tenant"],
            name=row["name"],
            forms=tuple(row["forms"]),
            callback_url=row["callback_url"],
            backfill_years=row["backfill_years"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


@dataclass(frozen=True, slots=True)
class CompanyState:
    """A watched company and where the scheduler is with it."""

    ticker: str
    status: str  # pending | watching | unknown_ticker | failing
    cik: str | None
    added_at: dt.datetime
    baseline_at: dt.datetime | None
    last_polled_at: dt.datetime | None
    last_error: str | None
    failures: int
    next_poll_at: dt.datetime
    last_filing_key: str | None
    last_filing_form: str | None
    last_filing_year: int | None
    last_filing_seen_at: dt.datetime | None
    last_job_id: uuid.UUID | None


def _lock_key(tenant: str) -> int:
    # A signed 32-bit key for pg_advisory_xact_lock(int, int) with its own first half.
    return zlib.crc32(f"riskdrift-watch:{tenant}".encode()) - 2**31


async def _check_caps(
    conn: Executor,
    tenant: str,
    *,
    adding: int,
    new_watchlist: bool,
    max_companies: int,
    max_watchlists: int,
) -> None:
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM watchlists WHERE tenant = $1) AS lists,
                  (SELECT count(*) FROM watchlist_companies c JOIN watchlists w
                     ON w.id = c.watchlist_id WHERE w.tenant = $1) AS companies""",
        tenant,
    )
    assert row is not None
    if new_watchlist and row["lists"] >= max_watchlists:
        raise WatchLimitExceeded(
            f"this tenant already has {row['lists']} watchlists, its limit of {max_watchlists}"
        )
    if row["companies"] + adding > max_companies:
        raise WatchLimitExceeded(
            f"this would make {row['companies'] + adding} watched companies over the tenant's "
            f"watchlists, above its limit of {max_companies}",
            errors=[{"field": "tickers", "message": f"at most {max_companies} in all"}],
        )


async def create_watchlist(
    pool: asyncpg.Pool,
    *,
    tenant: str,
    name: str,
    tickers: Sequence[str],
    forms: Sequence[str],
    callback_url: str | None,
    backfill_years: int | None,
    max_companies: int,
    max_watchlists: int,
) -> WatchlistRecord:
    """Insert a watchlist and its companies in one transaction, within the tenant's caps.

    Raises :class:`WatchLimitExceeded` over a cap, :class:`WatchlistNameTaken` when the
    tenant already has a watchlist of that name.
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7324, $1)", _lock_key(tenant))
        await _check_caps(
            conn,
            tenant,
            adding=len(tickers),
            new_watchlist=True,
            max_companies=max_companies,
            max_watchlists=max_watchlists,
        )
        try:
            row = await conn.fetchrow(
                f"""INSERT INTO watchlists (id, tenant, name, forms, callback_url, backfill_years)
                    VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}""",
                uuid.uuid4(),
                tenant,
                name,
                list(forms),
                callback_url,
                backfill_years,
            )
        except asyncpg.UniqueViolationError:
            raise WatchlistNameTaken(
                f"this tenant already has a watchlist named {name!r}"
            ) from None
        assert row is not None
        await conn.execute(
            """INSERT INTO watchlist_companies (watchlist_id, ticker)
               SELECT $1, t FROM unnest($2::text[]) AS t""",
            row["id"],
            list(tickers),
        )
        return WatchlistRecord.from_row(row)


async def get_watchlist(
    db: Executor, watchlist_id: uuid.UUID, *, tenant: str | None = None
) -> WatchlistRecord | None:
    """The watchlist, or ``None`` if it does not exist or belongs to another tenant."""
    row = await db.fetchrow(
        f"SELECT {COLUMNS} FROM watchlists WHERE id = $1 AND ($2::text IS NULL OR tenant = $2)",
        watchlist_id,
        tenant,
    )
    return WatchlistRecord.from_row(row) if row is not None else None


async def list_watchlists(
    db: Executor, *, tenant: str, cursor: str | None = None, limit: int = 50
) -> tuple[list[WatchlistRecord], str | None]:
    """A page of the tenant's watchlists, newest first, and the next page's cursor.

    Raises ``ValueError`` on a malformed cursor.
    """
    return await newest_first(
        db, table="watchlists", columns=COLUMNS, conditions=["tenant = $1"], args=[tenant],
        cursor=cursor, limit=limit, from_row=WatchlistRecord.from_row,
    )  # fmt: skip


# Each company with the newest filing seen of it and the newest job a filing started.
_COMPANIES = """
    SELECT c.watchlist_id, c.ticker, c.status, c.cik, c.added_at, c.baseline_at, c.last_polled_at,
           c.last_error, c.failures, c.next_poll_at,
           f.filing_key, f.form, f.fiscal_year, f.seen_at,
           (SELECT j.job_id FROM watch_filings j
            WHERE j.watchlist_id = c.watchlist_id AND j.ticker = c.ticker
              AND j.job_id IS NOT NULL
            ORDER BY j.seen_at DESC LIMIT 1) AS last_job_id
    FROM watchlist_companies c
    LEFT JOIN LATERAL (
        SELECT filing_key, form, fiscal_year, seen_at FROM watch_filings s
        WHERE s.watchlist_id = c.watchlist_id AND s.ticker = c.ticker
        ORDER BY fiscal_year DESC, seen_at DESC LIMIT 1
    ) AS f ON true
    WHERE c.watchlist_id = ANY($1::uuid[])
    ORDER BY c.watchlist_id, c.ticker"""


async def companies(
    db: Executor, watchlist_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[CompanyState]]:
    """The companies of each watchlist, by ticker (one query for a page of watchlists)."""
    found: dict[uuid.UUID, list[CompanyState]] = {w: [] for w in watchlist_ids}
    rows = await db.fetch(_COMPANIES, list(watchlist_ids))
    for r in rows:
        found[r["watchlist_id"]].append(
            CompanyState(
                ticker=r["ticker"],
                status=r["status"],
                cik=r["cik"],
                added_at=r["added_at"],
                baseline_at=r["baseline_at"],
                last_polled_at=r["last_polled_at"],
                last_error=r["last_error"],
                failures=r["failures"],
                next_poll_at=r["next_poll_at"],
                last_filing_key=r["filing_key"],
                last_filing_form=r["form"],
                last_filing_year=r["fiscal_year"],
                last_filing_seen_at=r["seen_at"],
                last_job_id=r["last_job_id"],
            )
        )
    return found


async def update_watchlist(
    pool: asyncpg.Pool,
    watchlist_id: uuid.UUID,
    *,
    tenant: str,
    name: str | None = None,
    forms: Sequence[str] | None = None,
    callback_url: str | None = None,
    set_callback: bool = False,
    tickers: Sequence[str] | None = None,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    max_companies: int,
) -> WatchlistRecord | None:
    """Change the tenant's watchlist in one transaction; ``None`` if it has none of that id.

    ``tickers`` replaces the companies; ``add`` and ``remove`` change them. A company that
    stays keeps its state and seen filings; an added one starts ``pending`` and its first
    poll records what it has filed so far as the baseline. With ``set_callback``, the
    callback becomes ``callback_url`` (``None`` clears it).
    """
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(7324, $1)", _lock_key(tenant))
        current = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM watchlists WHERE id = $1 AND tenant = $2 FOR UPDATE",
            watchlist_id,
            tenant,
        )
        if current is None:
            return None
        have = {
            r["ticker"]
            for r in await conn.fetch(
                "SELECT ticker FROM watchlist_companies WHERE watchlist_id = $1", watchlist_id
            )
        }
        wanted = set(tickers) if tickers is not None else set(have)
        wanted = (wanted | set(add)) - set(remove)
        added, removed = wanted - have, have - wanted
        if added:
            await _check_caps(
                conn,
                tenant,
                adding=len(added) - len(removed),
                new_watchlist=False,
                max_companies=max_companies,
                max_watchlists=0,
            )
            await conn.execute(
                """INSERT INTO watchlist_companies (watchlist_id, ticker)
                   SELECT $1, t FROM unnest($2::text[]) AS t""",
                watchlist_id,
                sorted(added),
            )
        if removed:
            # Its seen filings go too: watched again later, it starts from a new baseline.
            await conn.execute(
                "DELETE FROM watchlist_companies WHERE watchlist_id = $1 AND ticker = ANY($2)",
                watchlist_id,
                sorted(removed),
            )
            await conn.execute(
                "DELETE FROM watch_filings WHERE watchlist_id = $1 AND ticker = ANY($2)",
                watchlist_id,
                sorted(removed),
            )
        try:
            row = await conn.fetchrow(
                f"""UPDATE watchlists SET name = coalesce($3, name),
                           forms = coalesce($4, forms),
                           callback_url = CASE WHEN $5 THEN $6 ELSE callback_url END,
                           updated_at = now()
                    WHERE id = $1 AND tenant = $2 RETURNING {COLUMNS}""",
                watchlist_id,
                tenant,
                name,
                list(forms) if forms is not None else None,
                set_callback,
                callback_url,
            )
        except asyncpg.UniqueViolationError:
            raise WatchlistNameTaken(
                f"this tenant already has a watchlist named {name!r}"
            ) from None
        assert row is not None
        return WatchlistRecord.from_row(row)


async def delete_watchlist(db: Executor, watchlist_id: uuid.UUID, *, tenant: str) -> bool:
    """Delete the tenant's watchlist (its companies and seen filings go with it; the jobs it
    started stay, their ``watchlist_id`` cleared); ``False`` if it had none of that id."""
    status = await db.execute(
        "DELETE FROM watchlists WHERE id = $1 AND tenant = $2", watchlist_id, tenant
    )
    return status.endswith(" 1")


# --- the scheduler's side -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueCompany:
    """A watched company whose poll is due, claimed by one poller."""

    watchlist_id: uuid.UUID
    tenant: str
    ticker: str
    forms: tuple[str, ...]
    callback_url: str | None
    cik: str | None
    first_poll: bool  # no baseline yet: what it has filed is recorded, not analysed
    failures: int
    index_etag: str | None = None  # the source's validators as of the last full poll
    index_modified: str | None = None
    backfill_years: int | None = None  # the watchlist's: history submitted at the first poll


async def claim_due(db: Executor, *, lease: float, limit: int) -> list[DueCompany]:
    """Claim up to ``limit`` companies whose poll is due: their ``next_poll_at`` moves
    ``lease`` seconds ahead in the same statement, so no other poller takes them."""
    rows = await db.fetch(
        """WITH due AS (
               SELECT watchlist_id, ticker FROM watchlist_companies
               WHERE next_poll_at <= now()
               ORDER BY next_poll_at LIMIT $2
               FOR UPDATE SKIP LOCKED
           )
           UPDATE watchlist_companies c
           SET next_poll_at = now() + make_interval(secs => $1)
           FROM due, watchlists w
           WHERE c.watchlist_id = due.watchlist_id AND c.ticker = due.ticker
             AND w.id = c.watchlist_id
           RETURNING c.watchlist_id, w.tenant, c.ticker, w.forms, w.callback_url, c.cik,
                     c.baseline_at IS NULL AS first_poll, c.failures, c.index_etag,
                     c.index_modified, w.backfill_years""",
        lease,
        limit,
    )
    return [
        DueCompany(
            watchlist_id=r["watchlist_id"],
            tenant=r["tenant"],
            ticker=r["ticker"],
            forms=tuple(r["forms"]),
            callback_url=r["callback_url"],
            cik=r["cik"],
            first_poll=r["first_poll"],
            failures=r["failures"],
            index_etag=r["index_etag"],
            index_modified=r["index_modified"],
            backfill_years=r["backfill_years"],
        )
        for r in rows
    ]


async def seen_keys(db: Executor, watchlist_id: uuid.UUID, ticker: str) -> set[str]:
    """The filing keys already recorded for a watched company."""
    rows = await db.fetch(
        "SELECT filing_key FROM watch_filings WHERE watchlist_id = $1 AND ticker = $2",
        watchlist_id,
        ticker,
    )
    return {r["filing_key"] for r in rows}


@dataclass(frozen=True, slots=True)
class SeenFiling:
    """A filing as the scheduler records it."""

    key: str
    form: str
    fiscal_year: int
    filed: dt.date | None


async def record_baseline(
    pool: asyncpg.Pool,
    company: DueCompany,
    filings: Sequence[SeenFiling],
    *,
    cik: str | None,
    etag: str | None = None,
    modified: str | None = None,
) -> None:
    """The first poll of a company: every filing it has is seen, none analysed."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.executemany(
            """INSERT INTO watch_filings (watchlist_id, ticker, filing_key, form,
                                          fiscal_year, filed, baseline)
               VALUES ($1, $2, $3, $4, $5, $6, true) ON CONFLICT DO NOTHING""",
            [
                (company.watchlist_id, company.ticker, f.key, f.form, f.fiscal_year, f.filed)
                for f in filings
            ],
        )
        await conn.execute(
            """UPDATE watchlist_companies
               SET baseline_at = coalesce(baseline_at, now()), status = 'watching',
                   cik = coalesce($3, cik), last_polled_at = now(), last_error = NULL,
                   failures = 0, index_etag = $4, index_modified = $5
               WHERE watchlist_id = $1 AND ticker = $2""",
            company.watchlist_id,
            company.ticker,
            cik,
            etag,
            modified,
        )


@dataclass(frozen=True, slots=True)
class WatchJob:
    """The job a new filing starts: fiscal ``current`` against ``previous``."""

    job_id: uuid.UUID
    current: int
    previous: int
    callback_url: str | None
    filing: str | None = None  # the exact filing of ``current`` (AnalyzeRequest.filing)


async def record_new_filing(
    pool: asyncpg.Pool,
    company: DueCompany,
    filing: SeenFiling,
    *,
    job: WatchJob | None,
    skipped: str | None = None,
) -> bool:
    """Record a filing not seen before and, with ``job``, insert its queued job, in one
    transaction. ``True`` if this call recorded it (the caller then enqueues the job);
    ``False`` if it was recorded already, or its watchlist or company is gone."""
    async with pool.acquire() as conn, conn.transaction():
        try:
            inserted = await conn.fetchval(
                """INSERT INTO watch_filings (watchlist_id, ticker, filing_key, form,
                                              fiscal_year, filed, baseline, job_id, skipped)
                   SELECT $1, $2, $3, $4, $5, $6, false, $7, $8
                   WHERE EXISTS (SELECT FROM watchlist_companies
                                 WHERE watchlist_id = $1 AND ticker = $2)
                   ON CONFLICT DO NOTHING RETURNING true""",
                company.watchlist_id,
                company.ticker,
                filing.key,
                filing.form,
                filing.fiscal_year,
                filing.filed,
                job.job_id if job else None,
                skipped,
            )
        except asyncpg.ForeignKeyViolationError:
            return False  # the watchlist was deleted meanwhile
        if not inserted:
            return False
        if job is not None:
            await conn.execute(
                """INSERT INTO jobs (id, tenant, ticker, current_year, previous_year,
                                     callback_url, trigger, watchlist_id, filing_key)
                   VALUES ($1, $2, $3, $4, $5, $6, 'watch', $7, $8)
                   ON CONFLICT (id) DO NOTHING""",
                job.job_id,
                company.tenant,
                company.ticker,
                job.current,
                job.previous,
                job.callback_url,
                company.watchlist_id,
                job.filing,
            )
        return True


async def record_poll(
    db: Executor,
    company: DueCompany,
    *,
    cik: str | None,
    etag: str | None = None,
    modified: str | None = None,
) -> None:
    """A poll that worked, every new filing recorded: the company is watched, its failures
    forgotten, and the index's validators kept for the next poll's conditional request."""
    await db.execute(
        """UPDATE watchlist_companies
           SET status = 'watching', cik = coalesce($3, cik), last_polled_at = now(),
               last_error = NULL, failures = 0, index_etag = $4, index_modified = $5
           WHERE watchlist_id = $1 AND ticker = $2""",
        company.watchlist_id,
        company.ticker,
        cik,
        etag,
        modified,
    )


async def record_failure(
    db: Executor, company: DueCompany, *, error: str, unknown: bool, retry_in: float
) -> None:
    """A poll that failed: the error, and the next poll ``retry_in`` seconds away (backoff).
    ``unknown``: the source does not know the ticker."""
    await db.execute(
        """UPDATE watchlist_companies
           SET status = CASE WHEN $3 THEN 'unknown_ticker' ELSE 'failing' END,
               last_polled_at = now(), last_error = $4, failures = failures + 1,
               next_poll_at = now() + make_interval(secs => $5)
           WHERE watchlist_id = $1 AND ticker = $2""",
        company.watchlist_id,
        company.ticker,
        unknown,
        error,
        retry_in,
    )


# --- announcing the analyses a watch started -------------------------------------------------


@dataclass(frozen=True, slots=True)
class EndedWatchJob:
    """A job a filing started that has ended, claimed for its announcement."""

    watchlist_id: uuid.UUID
    watchlist_name: str
    callback_url: str | None
    ticker: str
    filing_key: str
    form: str
    fiscal_year: int
    job_id: uuid.UUID
    status: str  # completed | failed | cancelled
    error: str | None
    years: tuple[int, int]
    finished_at: dt.datetime | None
    similarity: dict[str, float] | None
    risks: dict[str, int] | None


async def claim_ended_jobs(pool: asyncpg.Pool, *, limit: int) -> list[EndedWatchJob]:
    """Mark up to ``limit`` ended watch jobs announced, and return them (each once, however
    many pollers ask at the same time), with their result's similarities and counts."""
    rows = await pool.fetch(
        """WITH ended AS (
               SELECT f.watchlist_id, f.ticker, f.filing_key FROM watch_filings f
               JOIN jobs j ON j.id = f.job_id
               WHERE f.job_id IS NOT NULL AND f.notified_at IS NULL
                 AND j.status IN ('completed', 'failed', 'cancelled')
               LIMIT $1 FOR UPDATE OF f SKIP LOCKED
           )
           UPDATE watch_filings f SET notified_at = now()
           FROM ended, jobs j, watchlists w
           WHERE f.watchlist_id = ended.watchlist_id AND f.ticker = ended.ticker
             AND f.filing_key = ended.filing_key AND j.id = f.job_id
             AND w.id = f.watchlist_id
           RETURNING f.watchlist_id, w.name, w.callback_url, f.ticker, f.filing_key, f.form,
                     f.fiscal_year, j.id AS job_id, j.status, j.error, j.current_year,
                     j.previous_year, j.finished_at""",
        limit,
    )
    if not rows:
        return []
    results = {
        r["job_id"]: r
        for r in await pool.fetch(
            """SELECT job_id, (document->'similarity')::text AS similarity, risks_new,
                      risks_removed, risks_modified, risks_unchanged
               FROM job_results WHERE job_id = ANY($1::uuid[])""",
            [r["job_id"] for r in rows],
        )
    }
    ended = []
    for r in rows:
        found = results.get(r["job_id"])
        ended.append(
            EndedWatchJob(
                watchlist_id=r["watchlist_id"],
                watchlist_name=r["name"],
                callback_url=r["callback_url"],
                ticker=r["ticker"],
                filing_key=r["filing_key"],
                form=r["form"],
                fiscal_year=r["fiscal_year"],
                job_id=r["job_id"],
                status=r["status"],
                error=r["error"],
                years=(r["current_year"], r["previous_year"]),
                finished_at=r["finished_at"],
                similarity=json.loads(found["similarity"]) if found else None,
                risks=(
                    {
                        "new": found["risks_new"],
                        "removed": found["risks_removed"],
                        "modified": found["risks_modified"],
                        "unchanged": found["risks_unchanged"],
                    }
                    if found
                    else None
                ),
            )
        )
    return ended
