-- Watchlists (issue 24): a tenant follows companies, and every new 10-K of theirs is analysed
-- as it is published. A watchlist names its companies (watchlist_companies, one row each,
-- carrying the scheduler's per-company state); every filing the scheduler has seen of a
-- watched company is one row of watch_filings, whose key makes "a filing starts its
-- analysis exactly once" a unique constraint rather than a hope.
CREATE TABLE watchlists (
    id              uuid PRIMARY KEY,
    tenant          text        NOT NULL DEFAULT 'default',
    name            text        NOT NULL,
    forms           text[]      NOT NULL DEFAULT '{10-K}',
    callback_url    text,
    backfill_years  integer     CHECK (backfill_years BETWEEN 1 AND 20),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX watchlists_tenant_name ON watchlists (tenant, name);
CREATE INDEX watchlists_tenant_created ON watchlists (tenant, created_at DESC, id DESC);

-- One watched company of a watchlist, and where the scheduler is with it. next_poll_at is
-- the claim: a poller moves it forward before polling, so concurrent pollers (several
-- workers running the cron) never poll one company at once; after a failure it moves
-- further (backoff). baseline_at is set by the first poll: what existed then is recorded
-- as seen and never analysed.
CREATE TABLE watchlist_companies (
    watchlist_id    uuid        NOT NULL REFERENCES watchlists (id) ON DELETE CASCADE,
    ticker          text        NOT NULL,
    added_at        timestamptz NOT NULL DEFAULT now(),
    status          text        NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'watching', 'unknown_ticker', 'failing')),
    cik             text,
    baseline_at     timestamptz,
    last_polled_at  timestamptz,
    last_error      text,
    failures        integer     NOT NULL DEFAULT 0,
    next_poll_at    timestamptz NOT NULL DEFAULT now(),
    -- EDGAR's validators of the submissions index as of the last poll that was fully
    -- processed: the next poll asks for it conditionally (a 304 means nothing new).
    index_etag      text,
    index_modified  text,
    PRIMARY KEY (watchlist_id, ticker)
);

CREATE INDEX watchlist_companies_due ON watchlist_companies (next_poll_at);

-- Every filing seen of a watched company. filing_key is the EDGAR accession number, or
-- `local:<year>` for a file of the local filing directory. A row is written in the same
-- transaction as the job it starts (job_id), so a filing is analysed at most once per
-- watchlist however many pollers see it, and never again after a restart.
CREATE TABLE watch_filings (
    watchlist_id    uuid        NOT NULL REFERENCES watchlists (id) ON DELETE CASCADE,
    ticker          text        NOT NULL,
    filing_key      text        NOT NULL,
    form            text        NOT NULL,
    fiscal_year     integer     NOT NULL,
    filed           date,
    baseline        boolean     NOT NULL,
    job_id          uuid,
    skipped         text,
    seen_at         timestamptz NOT NULL DEFAULT now(),
    -- set once the job's end was announced (filing.analysed webhook, watchlist stream)
    notified_at     timestamptz,
    PRIMARY KEY (watchlist_id, ticker, filing_key)
);

CREATE INDEX watch_filings_job ON watch_filings (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX watch_filings_unnotified ON watch_filings (job_id)
    WHERE job_id IS NOT NULL AND notified_at IS NULL;

-- A watchlist's `filing.analysed` webhook reuses the job webhook machinery: its delivery
-- row hangs off the job the filing started (one row per job and type, as for the others).
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_type_check;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_type_check
    CHECK (event_type IN ('job.completed', 'job.failed', 'batch.completed', 'filing.analysed'));

-- What started a job: a client (`api`, the default, batches included) or a watchlist.
ALTER TABLE jobs ADD COLUMN trigger text NOT NULL DEFAULT 'api'
    CHECK (trigger IN ('api', 'watch'));
ALTER TABLE jobs ADD COLUMN watchlist_id uuid REFERENCES watchlists (id) ON DELETE SET NULL;
CREATE INDEX jobs_watchlist ON jobs (watchlist_id, created_at DESC) WHERE watchlist_id IS NOT NULL;
