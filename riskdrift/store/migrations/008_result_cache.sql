-- The result cache: a finished analysis of one pair of filings, by what it was computed
-- from (ticker, years, each filing's accession number or content hash, engine version).
-- Kept apart from analysis_results, whose rows belong to (and die with) one job: a cache
-- entry outlives the job that computed it and is never written by job state changes.
CREATE TABLE result_cache (
    cache_key       text PRIMARY KEY,           -- sha256 of the fields below, hex
    engine_version  text        NOT NULL,
    ticker          text        NOT NULL,
    current_year    integer     NOT NULL,
    previous_year   integer     NOT NULL,
    filing_current  text        NOT NULL,       -- 'accession:…' or 'sha256:…'
    filing_previous text        NOT NULL,
    result          jsonb       NOT NULL,
    hits            bigint      NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_hit_at     timestamptz
);
