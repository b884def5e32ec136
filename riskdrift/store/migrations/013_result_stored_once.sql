-- A result is stored once (issue 25). A job whose result went through the result cache
-- (computed and stored there, or answered from it) keeps a reference to the cache entry
-- (cache_key) instead of a copy of its 0.1-0.6 MB; its own `cached` flag lives beside the
-- reference. Rows stored inline (the cache off, or the cache unavailable) keep `result`.
-- Cache entries also keep their result's facts (the few fields a job's row and webhook
-- need), so a cache hit reads neither the result nor a copy of it.
ALTER TABLE result_cache ADD COLUMN facts jsonb;

ALTER TABLE analysis_results
    ALTER COLUMN result DROP NOT NULL,
    ADD COLUMN cache_key text REFERENCES result_cache (cache_key),
    ADD COLUMN cached boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT analysis_results_stored CHECK (result IS NOT NULL OR cache_key IS NOT NULL);
UPDATE analysis_results SET cached = COALESCE((result->>'cached')::boolean, false);
CREATE INDEX analysis_results_cache_key ON analysis_results (cache_key)
    WHERE cache_key IS NOT NULL;

-- A job's result wherever it is stored: `document` as stored (cached false), `result` as
-- the job serves it (its own cached flag set). Reads of results go through this view.
CREATE VIEW job_results AS
SELECT r.job_id, r.ticker, r.company, r.cik, r.current_year, r.previous_year, r.cosine,
       r.risks_new, r.risks_removed, r.risks_modified, r.risks_unchanged, r.cached,
       r.cache_key, COALESCE(r.result, c.result) AS document,
       CASE WHEN r.cached THEN jsonb_set(COALESCE(r.result, c.result), '{cached}', 'true')
            ELSE COALESCE(r.result, c.result) END AS result,
       r.created_at, r.updated_at
FROM analysis_results r LEFT JOIN result_cache c ON c.cache_key = r.cache_key;

-- A job.completed webhook's body is built from the stored result when it is sent, not
-- stored a second time: its row keeps no body (NULL). job.failed bodies, small, are kept.
ALTER TABLE webhook_deliveries ALTER COLUMN body DROP NOT NULL;

-- What a job's webhook carries: the whole result (full), or ids, status, counts, summary
-- and links only (thin), for receivers with a body size limit.
ALTER TABLE jobs ADD COLUMN callback_payload text NOT NULL DEFAULT 'full'
    CHECK (callback_payload IN ('full', 'thin'));
