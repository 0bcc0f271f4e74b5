-- Part 2: journal mode (JRN-*), export schedules and the outbox (SET-3).

-- A reservation's position in journal mode: + owed (Accounts Receivable), - prepaid
-- (Deposits). `active`: a posting or opening balance set it (JRN-4, JRN-5).
CREATE TABLE reservations (
    tenant_id text    NOT NULL,
    ref       text    NOT NULL,
    currency  text    NOT NULL,
    balance   numeric NOT NULL,
    active    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, ref)
);

-- The balanced lines of each ledger posting, by business day. `entry_seq` is null until
-- the day's entry (0) or an adjusting entry for the day (1, 2, ...) takes them (JRN-3).
CREATE TABLE journal_lines (
    line_id   bigserial PRIMARY KEY,
    tenant_id text      NOT NULL,
    day       date      NOT NULL,
    currency  text      NOT NULL,
    event_id  text      NOT NULL,
    lines     jsonb     NOT NULL,
    entry_seq integer
);
CREATE INDEX journal_lines_open ON journal_lines (tenant_id, day) WHERE entry_seq IS NULL;

-- Journal entries built: a day's entry is seq 0, later ones are adjusting entries.
CREATE TABLE journal_entries (
    tenant_id  text        NOT NULL,
    day        date        NOT NULL,
    currency   text        NOT NULL,
    seq        integer     NOT NULL,
    command_id text        NOT NULL,
    built_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, day, currency, seq)
);

-- Commands of tenants on an interval or manual schedule, waiting for their window.
-- Written in the mapping transaction, deleted in the one that publishes them.
CREATE TABLE outbox (
    outbox_id    bigserial   PRIMARY KEY,
    tenant_id    text        NOT NULL,
    business_day date        NOT NULL,
    command      jsonb       NOT NULL,
    enqueued_at  timestamptz NOT NULL
);
CREATE INDEX outbox_tenant ON outbox (tenant_id, outbox_id);

-- When each tenant's outbox was last exported (interval windows count from it).
CREATE TABLE export_state (
    tenant_id      text        PRIMARY KEY,
    last_export_at timestamptz NOT NULL
);

-- Manual exports asked for by the CLI, run by the service's schedule loop.
CREATE TABLE export_requests (
    request_id   bigserial   PRIMARY KEY,
    tenant_id    text        NOT NULL,
    start_day    date,
    requested_at timestamptz NOT NULL DEFAULT now()
);
