-- API keys: each belongs to a tenant; only a SHA-256 of the key is stored.
CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    tenant      text        NOT NULL,
    name        text        NOT NULL,
    key_hash    bytea       NOT NULL UNIQUE,
    prefix      text        NOT NULL,          -- first characters, to recognise a key in lists
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE INDEX api_keys_tenant ON api_keys (tenant);
