-- Jobs: the record of every submission and its life cycle.
CREATE TABLE jobs (
    id              uuid PRIMARY KEY,
    tenant          text        NOT NULL DEFAULT 'default',
    ticker          text        NOT NULL,
    current_year    integer     NOT NULL,
    previous_year   integer     NOT NULL,
    status          text        NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'cancelled')),
    progress        smallint    NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    step            text,
    attempts        integer     NOT NULL DEFAULT 0,
    callback_url    text,
    error           text,
    idempotency_key text,
    request_hash    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX jobs_tenant_idempotency_key ON jobs (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Cursor pagination walks (created_at, id) newest first.
CREATE INDEX jobs_tenant_created ON jobs (tenant, created_at DESC, id DESC);
CREATE INDEX jobs_unfinished ON jobs (status, created_at) WHERE status IN ('queued', 'processing');

-- Analysis results: the whole result as JSONB plus the columns we query by.
CREATE TABLE analysis_results (
    job_id          uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    ticker          text        NOT NULL,
    company         text        NOT NULL,
    cik             text,
    current_year    integer     NOT NULL,
    previous_year   integer     NOT NULL,
    cosine          double precision NOT NULL,
    risks_new       integer     NOT NULL,
    risks_removed   integer     NOT NULL,
    risks_modified  integer     NOT NULL,
    risks_unchanged integer     NOT NULL,
    result          jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX analysis_results_ticker_years ON analysis_results (ticker, current_year, previous_year);
