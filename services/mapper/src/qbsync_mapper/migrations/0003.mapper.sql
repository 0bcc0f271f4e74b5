-- Operator actions and resync safety.

-- CUS-8: customers an operator stopped syncing in the errors service (`stop_syncing`
-- operator actions on qbsync.commands.v1). Kept apart from the settings document, so
-- applying a settings file never silently undoes an operator's decision.
CREATE TABLE stopped_customers (
    tenant_id    text        NOT NULL,
    customer_ref text        NOT NULL,  -- the upstream customer ref (data.customer.ref)
    record_id    text,                  -- the error the operator acted on
    stopped_by   text        NOT NULL,  -- the errors service's actor (API key id)
    stopped_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, customer_ref)
);

-- Journal mode: ledger events already folded into reservations and journal lines.
-- A resync replays an event past processed_events; this keeps it from being folded
-- twice (JRN-2, JRN-4).
CREATE TABLE ledger_applied (
    tenant_id  text        NOT NULL,
    source     text        NOT NULL,
    event_id   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, source, event_id)
);
