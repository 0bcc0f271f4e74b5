-- Back-sync from Change Data Capture (SET-7). `cdc_cursors`: per realm, the moment the
-- next CDC call asks changes from. `backsynced_payments`: every QBO payment published
-- upstream as payment.recorded_in_qbo, by either path (webhook notice or CDC poll): a
-- payment is claimed here in the transaction that publishes it, so it goes out once.
CREATE TABLE cdc_cursors (
    realm_id      text        PRIMARY KEY,
    changed_since timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE backsynced_payments (
    realm_id       text        NOT NULL,
    qbo_payment_id text        NOT NULL,
    tenant_id      text        NOT NULL,
    source         text        NOT NULL,
    published_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (realm_id, qbo_payment_id)
);
