-- Batches: many pairs submitted as one unit (issue 15). A batch owns ordinary jobs, each
-- with its batch_id; its counts come from those jobs (jobs_batch), its events from a Redis
-- Stream of its own (riskdrift/events/batch_progress.py). finished_at is set once, by
-- whichever process saw the last job end, guarded so it is set exactly once.
CREATE TABLE batches (
    id              uuid PRIMARY KEY,
    tenant          text        NOT NULL DEFAULT 'default',
    kind            text        NOT NULL CHECK (kind IN ('universe', 'history')),
    request         jsonb       NOT NULL,
    job_count       integer     NOT NULL CHECK (job_count >= 1),
    callback_url    text,
    idempotency_key text,
    request_hash    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);

CREATE UNIQUE INDEX batches_tenant_idempotency_key ON batches (tenant, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX batches_tenant_created ON batches (tenant, created_at DESC, id DESC);

ALTER TABLE jobs ADD COLUMN batch_id uuid REFERENCES batches (id) ON DELETE CASCADE;
CREATE INDEX jobs_batch ON jobs (batch_id, status) WHERE batch_id IS NOT NULL;

-- A batch's `batch.completed` webhook reuses the job webhook machinery: its delivery row
-- hangs off the job whose end finished the batch (one batch, one such row).
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_type_check;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_type_check
    CHECK (event_type IN ('job.completed', 'job.failed', 'batch.completed'));
