-- One row per failure (record_id is deterministic per failure at its stage), so a
-- failure repeating updates its row: attempts + 1, last_seen_at, status back to open.
CREATE TABLE errors (
    record_id        text        PRIMARY KEY,
    tenant_id        text,
    category         text        NOT NULL,
    stage            text        NOT NULL CHECK (stage IN ('ingest', 'mapper', 'poster')),
    cause            text        NOT NULL,
    reasons          jsonb       NOT NULL DEFAULT '[]',
    qbo_fault        jsonb,
    source           text,
    event_id         text,
    command_id       text,
    customer_ref     text,
    payload          bytea       NOT NULL,
    retriable        boolean     NOT NULL DEFAULT false,
    trace_id         text,
    status           text        NOT NULL DEFAULT 'open'
                                 CHECK (status IN ('open', 'resolved', 'skipped')),
    resolution       text,
    attempts         integer     NOT NULL DEFAULT 1,
    resyncs          integer     NOT NULL DEFAULT 0,
    auto_retries     integer     NOT NULL DEFAULT 0,
    next_retry_at    timestamptz,
    notify_pending   boolean     NOT NULL DEFAULT false,
    connection_failure boolean   NOT NULL DEFAULT false,
    first_occurred_at timestamptz NOT NULL,
    last_occurred_at timestamptz NOT NULL,
    first_seen_at    timestamptz NOT NULL DEFAULT now(),
    -- Start of the current open period (reset on reopening): "failing since".
    opened_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at      timestamptz
);
CREATE INDEX errors_tenant_status ON errors (tenant_id, status, category);
CREATE INDEX errors_last_seen ON errors (last_seen_at DESC, record_id);
CREATE INDEX errors_retry_due ON errors (next_retry_at) WHERE next_retry_at IS NOT NULL;
CREATE INDEX errors_notify ON errors (tenant_id) WHERE notify_pending;

-- Messages on qbsync.errors.v1 that are not an ErrorRecord (a stage's bug): kept, not dropped.
CREATE TABLE unreadable_records (
    id          bigserial   PRIMARY KEY,
    kafka_key   bytea,
    value       bytea       NOT NULL,
    problem     text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- API keys: tenant_id NULL means an operator key for every tenant. SHA-256 of the secret only.
CREATE TABLE api_keys (
    key_id        text        PRIMARY KEY,
    tenant_id     text,
    secret_sha256 bytea       NOT NULL,
    label         text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

-- Every operator action: who (API key id), when, what.
CREATE TABLE audit (
    id         bigserial   PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    key_id     text        NOT NULL,
    tenant_id  text,
    record_id  text,
    action     text        NOT NULL,
    detail     jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_tenant ON audit (tenant_id, at DESC);
CREATE INDEX audit_record ON audit (record_id, at DESC);

-- Customers an operator stopped syncing (CUS-8); deleting the row resumes syncing.
CREATE TABLE stopped_customers (
    tenant_id    text        NOT NULL,
    customer_ref text        NOT NULL,
    stopped_by   text        NOT NULL,
    stopped_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, customer_ref)
);

-- Per-tenant state of the background jobs.
CREATE TABLE tenants (
    tenant_id      text        PRIMARY KEY,
    paused_at      timestamptz,
    last_digest_at timestamptz
);

-- Notification endpoints (ERR-5). The secret signs deliveries, so it is kept as is.
CREATE TABLE webhooks (
    webhook_id  text        PRIMARY KEY,
    tenant_id   text        NOT NULL,
    url         text        NOT NULL,
    secret      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id);

-- One row per (digest, webhook): the exact body is fixed when the digest is built,
-- so every retry sends the same bytes under the same delivery id.
CREATE TABLE deliveries (
    delivery_id     text        PRIMARY KEY,
    webhook_id      text        NOT NULL REFERENCES webhooks ON DELETE CASCADE,
    tenant_id       text        NOT NULL,
    kind            text        NOT NULL,
    body            bytea       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
