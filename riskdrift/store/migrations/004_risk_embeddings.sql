-- Filings and their risk factors, stored when an analysis completes, and one embedding per
-- (risk, model). A filing is keyed by (ticker, year): re-running an analysis upserts the same
-- row, and its risks are replaced only when their text changed (content_hash).
CREATE TABLE filings (
    id           bigserial   PRIMARY KEY,
    ticker       text        NOT NULL,
    year         integer     NOT NULL,
    company      text        NOT NULL,
    form         text,
    accession    text,
    content_hash text        NOT NULL,  -- sha256 of the risks' texts, in order
    risk_count   integer     NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ticker, year)
);

CREATE TABLE risk_factors (
    id        bigserial PRIMARY KEY,
    filing_id bigint    NOT NULL REFERENCES filings (id) ON DELETE CASCADE,
    position  integer   NOT NULL,  -- 0-based order in the filing
    title     text      NOT NULL,
    section   text,
    category  text      NOT NULL,
    body      text      NOT NULL,
    UNIQUE (filing_id, position)
);

-- Which analyses used which filings: search shows a tenant the filings of its own jobs only.
CREATE TABLE job_filings (
    job_id    uuid   NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    filing_id bigint NOT NULL REFERENCES filings (id) ON DELETE CASCADE,
    PRIMARY KEY (job_id, filing_id)
);
CREATE INDEX job_filings_filing ON job_filings (filing_id);

-- The vector column is pgvector's `vector` when the server has the extension (and we may
-- create it), else a plain real[]; riskdrift.store.embeddings reads which at run time.
DO $$
DECLARE
    vector_schema text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS vector;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'pgvector is available but may not be created here; using real[]';
        END;
    END IF;
    SELECT n.nspname INTO vector_schema
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'vector';
    EXECUTE format(
        'CREATE TABLE risk_embeddings (
             risk_id    bigint      NOT NULL REFERENCES risk_factors (id) ON DELETE CASCADE,
             model      text        NOT NULL,
             dimensions integer     NOT NULL,
             embedding  %s          NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (risk_id, model))',
        CASE WHEN vector_schema IS NULL THEN 'real[]'
             ELSE quote_ident(vector_schema) || '.vector' END);
END
$$;
CREATE INDEX risk_embeddings_model ON risk_embeddings (model);
