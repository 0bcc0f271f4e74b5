-- API keys of the poster's HTTP API (read API and /connect/qbo), as in the errors
-- service: tenant_id NULL is an operator key for every tenant. Only a SHA-256 of the
-- secret is stored; the token `qbs_<key_id>_<secret>` is shown once, on creation.
CREATE TABLE api_keys (
    key_id        text        PRIMARY KEY,
    tenant_id     text,
    secret_sha256 bytea       NOT NULL,
    label         text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
