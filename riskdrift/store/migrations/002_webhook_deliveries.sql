-- Webhook deliveries: one row per (job, event type) holding the exact body every attempt
-- sends, and one row per attempt. A redelivery starts a new attempt series on the same row.
CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    job_id           uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    event_type       text        NOT NULL CHECK (event_type IN ('job.completed', 'job.failed')),
    webhook_id       text        NOT NULL,
    callback_url     text        NOT NULL,
    body             bytea       NOT NULL,  -- serialised once; signed and sent as-is
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'delivered', 'failed', 'gone', 'refused')),
    series           integer     NOT NULL DEFAULT 1,  -- 1 + number of redeliveries
    attempts         integer     NOT NULL DEFAULT 0,  -- attempts made in the current series
    next_attempt_at  timestamptz,
    last_status_code integer,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_id, event_type)
);

CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';

CREATE TABLE webhook_attempts (
    delivery_id  uuid        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    series       integer     NOT NULL,
    attempt      integer     NOT NULL CHECK (attempt >= 1),
    at           timestamptz NOT NULL DEFAULT now(),
    outcome      text        NOT NULL
                 CHECK (outcome IN ('delivered', 'retrying', 'failed', 'gone', 'refused')),
    status_code  integer,
    error        text,
    duration_ms  double precision NOT NULL,
    address      text,
    -- A duplicate run of the same attempt records nothing (at-least-once workers).
    PRIMARY KEY (delivery_id, series, attempt)
);
