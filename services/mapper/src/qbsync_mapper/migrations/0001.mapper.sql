-- Tenant settings documents, every version kept (SET-4: a change applies to events
-- mapped after it). `released` turns true once the events held for the tenant
-- (no settings yet, do-not-sync customers) were mapped again under this version.
CREATE TABLE tenant_settings (
    tenant_id   text        NOT NULL,
    version     integer     NOT NULL,
    document    jsonb       NOT NULL,
    source_text text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    released    boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, version)
);
CREATE INDEX tenant_settings_unreleased ON tenant_settings (tenant_id) WHERE NOT released;

-- Upstream documents the mapper has issued commands for (DOC-2 updates, DOC-6 credit
-- application, DOC-7 voids, PAY-1 linking, PAY-3 held payments).
CREATE TABLE documents (
    tenant_id  text        NOT NULL,
    kind       text        NOT NULL,
    ref        text        NOT NULL,
    state      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, ref, kind)
);

-- Events kept for later: tenant without settings, payment before its invoice (PAY-3),
-- do-not-sync customer (CUS-8), types a later part maps. The exact bytes are kept.
CREATE TABLE held_events (
    held_id     bigserial   PRIMARY KEY,
    tenant_id   text        NOT NULL,
    reason      text        NOT NULL,
    key         text        NOT NULL,
    ref         text,
    source      text        NOT NULL,
    event_id    text        NOT NULL,
    payload     bytea       NOT NULL,
    traceparent text,
    held_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX held_events_lookup ON held_events (tenant_id, reason, key);

-- Events mapped, so a redelivered event is not mapped twice. Written in the
-- transaction that waits for the broker to acknowledge the event's commands.
CREATE TABLE processed_events (
    tenant_id    text        NOT NULL,
    source       text        NOT NULL,
    event_id     text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, source, event_id)
);
