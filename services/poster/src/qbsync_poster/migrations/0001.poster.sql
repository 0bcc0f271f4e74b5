-- QBO connections, one per tenant: OAuth tokens encrypted with the Fernet keys of
-- QBSYNC_POSTER_TOKEN_KEYS (never stored in clear). `status` turns 'revoked' when
-- Intuit refuses the refresh token (invalid_grant): commands then fail as Account
-- errors (ERR-2) until the tenant reconnects.
CREATE TABLE connections (
    tenant_id    text        PRIMARY KEY,
    realm_id     text        NOT NULL,
    tokens       bytea       NOT NULL,
    status       text        NOT NULL DEFAULT 'active',
    failure      text,
    connected_at timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX connections_realm ON connections (realm_id);

-- OAuth `state` values handed out by /connect/qbo, so /callback knows the tenant and
-- refuses forged callbacks (CSRF).
CREATE TABLE oauth_states (
    state      text        PRIMARY KEY,
    tenant_id  text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- The entity ledger: upstream ref -> QBO entity. Customer rows are the customer links
-- (CUS-5). `state` 'pending' means a write was started and its outcome is not known
-- yet: the next attempt looks the entity up in QBO before creating it again.
-- `generation` changes when the QBO entity was found deleted and is re-created, so the
-- new write carries a new requestid.
CREATE TABLE entities (
    tenant_id       text        NOT NULL,
    upstream_ref    text        NOT NULL,
    entity          text        NOT NULL,
    qbo_id          text,
    sync_token      text,
    doc_number      text,
    state           text        NOT NULL,
    generation      integer     NOT NULL DEFAULT 0,
    pending_command text,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, upstream_ref)
);
CREATE INDEX entities_qbo ON entities (tenant_id, entity, qbo_id);

-- Commands whose effect is in QBO and in the ledger: a repeat is skipped.
CREATE TABLE done_commands (
    command_id   text        PRIMARY KEY,
    tenant_id    text        NOT NULL,
    upstream_ref text        NOT NULL,
    operation    text        NOT NULL,
    qbo_id       text,
    done_at      timestamptz NOT NULL DEFAULT now()
);

-- Name -> QBO id of list entities (items, accounts, classes, tax codes, payment
-- methods) per realm; `name_key` is the lower-cased name, as QBO compares names.
CREATE TABLE name_cache (
    realm_id text NOT NULL,
    kind     text NOT NULL,
    name_key text NOT NULL,
    qbo_id   text NOT NULL,
    PRIMARY KEY (realm_id, kind, name_key)
);
