-- Events seen, for dedupe on (tenant_id, source, event_id). A row is written in
-- the same transaction that forwards the event, so a crash before the commit
-- leaves no row and the event is forwarded on redelivery.
CREATE TABLE seen_events (
    tenant_id     text        NOT NULL,
    source        text        NOT NULL,
    event_id      text        NOT NULL,
    payload_sha256 bytea      NOT NULL,
    path          text        NOT NULL CHECK (path IN ('kafka', 'http')),
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, source, event_id)
);

-- Per-tenant API keys for POST /v1/events. Only a SHA-256 of the secret is kept.
CREATE TABLE api_keys (
    key_id      text        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    secret_sha256 bytea     NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);
