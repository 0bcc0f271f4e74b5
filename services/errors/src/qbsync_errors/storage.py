"""Every SQL statement about errors, audit, stopped customers and tenant state.

`scope` arguments are the calling API key's tenant, or None for an operator key:
rows of other tenants are invisible (a missing row, never a refusal), and rows
with no tenant at all are visible to operator keys only.
"""

import json
from base64 import b64encode
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import CONNECTION_FIELD, ErrorRecord, QboFault, Reason, Stage

from qbsync_errors.models import (
    AuditEntry,
    Counts,
    ErrorDetail,
    ErrorFilter,
    ErrorPage,
    ErrorSummary,
    Status,
    StoppedCustomer,
)

Conn = asyncpg.Connection | PoolConnectionProxy
Executor = asyncpg.Pool | asyncpg.Connection | PoolConnectionProxy

AUTO_RETRY = "auto-retry"
"""Resolution of an automatic retry: its failing again is not news, so nobody is notified."""
CUSTOMER_NOT_SYNCED = "customer-not-synced"
"""Resolution of errors of a customer an operator stopped syncing (CUS-8)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Automatic retry schedule: base * factor^n seconds (at most max_delay), n < max_attempts."""

    base_seconds: float
    factor: float
    max_delay_seconds: float
    max_attempts: int


# $1 scope, $2 tenant, $3 category, $4 status, $5 text.
_WHERE = """
    ($1::text IS NULL OR tenant_id = $1)
    AND ($2::text IS NULL OR tenant_id = $2)
    AND ($3::text IS NULL OR category = $3)
    AND ($4::text IS NULL OR status = $4)
    AND ($5::text IS NULL OR strpos(lower(concat_ws(' ', record_id, cause, reasons::text,
        event_id, command_id, customer_ref, tenant_id)), lower($5)) > 0)
"""
_SUMMARY = """record_id, tenant_id, category, stage, cause, status, resolution, attempts,
    retriable, next_retry_at, first_seen_at, last_seen_at"""


def _filter_args(scope: str | None, flt: ErrorFilter) -> list[Any]:
    return [
        scope,
        flt.tenant,
        flt.category.value if flt.category else None,
        flt.status.value if flt.status else None,
        flt.text or None,
    ]


def _is_connection_failure(record: ErrorRecord) -> bool:
    return record.category is ErrorCategory.ACCOUNT and any(
        r.field == CONNECTION_FIELD for r in record.reasons
    )


async def upsert_records(conn: Conn, records: list[ErrorRecord], policy: RetryPolicy) -> int:
    """Store a batch of error records; return how many were new.

    A record id already stored gets attempts + 1 and goes back to open unless it
    was skipped. A redelivered Kafka message (same `occurred_at` or older) changes
    nothing, so at-least-once delivery does not inflate attempts. Records are
    written in record-id order, so concurrent batches lock rows in one order.

    Args:
        conn: a connection; the batch is written in one transaction.
        records: the batch, in any order (a later duplicate within it counts too).
        policy: when the next automatic retry of a retriable record falls due.
    """
    created = 0
    async with conn.transaction():
        tenants = sorted({r.tenant_id for r in records if r.tenant_id and r.customer_ref})
        stopped = {
            (row["tenant_id"], row["customer_ref"])
            for row in await conn.fetch(
                "SELECT tenant_id, customer_ref FROM stopped_customers WHERE tenant_id = ANY($1)",
                tenants,
            )
        }
        for record in sorted(records, key=lambda r: (r.record_id, r.occurred_at)):
            is_stopped = (record.tenant_id, record.customer_ref) in stopped
            inserted = await conn.fetchval(
                """
                INSERT INTO errors AS e (record_id, tenant_id, category, stage, cause, reasons,
                    qbo_fault, source, event_id, command_id, customer_ref, payload, retriable,
                    trace_id, connection_failure, first_occurred_at, last_occurred_at, status,
                    resolution, notify_pending, next_retry_at, resolved_at)
                VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12, $13,
                    $14, $15, $16, $16,
                    CASE WHEN $17 THEN 'skipped' ELSE 'open' END,
                    CASE WHEN $17 THEN $22 END,
                    NOT $17,
                    CASE WHEN $13 AND NOT $17 AND $21 > 0
                        THEN now() + make_interval(secs => $18) END,
                    CASE WHEN $17 THEN now() END)
                ON CONFLICT (record_id) DO UPDATE SET
                    cause = EXCLUDED.cause,
                    reasons = EXCLUDED.reasons,
                    qbo_fault = EXCLUDED.qbo_fault,
                    retriable = EXCLUDED.retriable,
                    trace_id = coalesce(EXCLUDED.trace_id, e.trace_id),
                    connection_failure = EXCLUDED.connection_failure,
                    last_occurred_at = EXCLUDED.last_occurred_at,
                    last_seen_at = now(),
                    opened_at = CASE WHEN e.status = 'open' THEN e.opened_at ELSE now() END,
                    attempts = e.attempts + 1,
                    status = CASE WHEN e.status = 'skipped' OR $17 THEN 'skipped' ELSE 'open' END,
                    resolution = CASE WHEN e.status = 'skipped' THEN e.resolution
                        WHEN $17 THEN $22 END,
                    resolved_at = CASE WHEN e.status = 'skipped' OR $17
                        THEN coalesce(e.resolved_at, now()) END,
                    -- Reopening after an operator's action is news; failing again after
                    -- an automatic retry is not.
                    notify_pending = e.notify_pending OR (NOT $17 AND e.status = 'resolved'
                        AND e.resolution IS DISTINCT FROM $23),
                    next_retry_at = CASE
                        WHEN e.status = 'skipped' OR $17 OR NOT EXCLUDED.retriable
                            OR e.auto_retries >= $21 THEN NULL
                        ELSE now() + make_interval(secs => least($18 * power($19, e.auto_retries),
                            $20)) END
                WHERE EXCLUDED.last_occurred_at > e.last_occurred_at
                RETURNING (xmax = 0)
                """,
                record.record_id,
                record.tenant_id,
                record.category.value,
                record.stage.value,
                record.cause,
                json.dumps([r.model_dump() for r in record.reasons]),
                record.qbo_fault.model_dump_json() if record.qbo_fault else None,
                record.source,
                record.event_id,
                record.command_id,
                record.customer_ref,
                record.payload,
                record.retriable,
                record.trace_id,
                _is_connection_failure(record),
                record.occurred_at,
                is_stopped,
                policy.base_seconds,
                policy.factor,
                policy.max_delay_seconds,
                policy.max_attempts,
                CUSTOMER_NOT_SYNCED,
                AUTO_RETRY,
            )
            created += bool(inserted)
    return created


async def record_unreadable(conn: Executor, key: bytes | None, value: bytes, problem: str) -> None:
    """Keep a message of the errors topic that is not an error record."""
    await conn.execute(
        "INSERT INTO unreadable_records (kafka_key, value, problem) VALUES ($1, $2, $3)",
        key,
        value,
        problem,
    )


def _summary(row: asyncpg.Record) -> ErrorSummary:
    return ErrorSummary.model_validate(dict(row))


async def list_errors(
    conn: Executor, scope: str | None, flt: ErrorFilter, limit: int, offset: int
) -> ErrorPage:
    """A page of errors matching `flt`, most recently reported first."""
    args = _filter_args(scope, flt)
    total = await conn.fetchval(f"SELECT count(*) FROM errors WHERE {_WHERE}", *args)  # noqa: S608 - constant SQL
    rows = await conn.fetch(
        f"SELECT {_SUMMARY} FROM errors WHERE {_WHERE} "  # noqa: S608 - constant SQL
        "ORDER BY last_seen_at DESC, record_id LIMIT $6 OFFSET $7",
        *args,
        limit,
        offset,
    )
    return ErrorPage(items=[_summary(r) for r in rows], total=total, limit=limit, offset=offset)


async def count_open(conn: Executor, scope: str | None, tenant: str | None) -> Counts:
    """Open errors per category (every category listed, zeros included)."""
    rows = await conn.fetch(
        f"SELECT category, count(*) AS n FROM errors WHERE {_WHERE} GROUP BY category",  # noqa: S608
        *_filter_args(scope, ErrorFilter(tenant=tenant, status=Status.OPEN)),
    )
    by_category = dict.fromkeys(ErrorCategory, 0)
    for row in rows:
        by_category[ErrorCategory(row["category"])] = row["n"]
    paused = await conn.fetch(
        """SELECT tenant_id FROM tenants WHERE paused_at IS NOT NULL
           AND ($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR tenant_id = $2)
           ORDER BY tenant_id""",
        scope,
        tenant,
    )
    return Counts(
        tenant=scope or tenant,
        open_total=sum(by_category.values()),
        by_category=by_category,
        paused_tenants=[r["tenant_id"] for r in paused],
    )


async def get_error(conn: Executor, scope: str | None, record_id: str) -> ErrorDetail | None:
    """One error in full, or None when it does not exist in `scope`."""
    row = await conn.fetchrow(
        "SELECT * FROM errors WHERE record_id = $2 AND ($1::text IS NULL OR tenant_id = $1)",
        scope,
        record_id,
    )
    if row is None:
        return None
    data = dict(row)
    payload = bytes(data.pop("payload"))
    data["reasons"] = [Reason.model_validate(r) for r in json.loads(data["reasons"])]
    fault = data.pop("qbo_fault")
    data["qbo_fault"] = QboFault.model_validate_json(fault) if fault else None
    try:
        data["payload_text"] = payload.decode("utf-8")
    except UnicodeDecodeError:
        data["payload_text"] = None
    data["payload_b64"] = b64encode(payload).decode("ascii")
    for unused in ("notify_pending", "connection_failure", "opened_at"):
        data.pop(unused)
    return ErrorDetail.model_validate(data)


@dataclass(frozen=True)
class Locked:
    """An error row locked for an action (`SELECT ... FOR UPDATE`)."""

    record_id: str
    tenant_id: str | None
    category: ErrorCategory
    stage: Stage
    status: Status
    payload: bytes
    source: str | None
    event_id: str | None
    customer_ref: str | None
    trace_id: str | None
    resyncs: int


_LOCKED = """record_id, tenant_id, category, stage, status, payload, source, event_id,
    customer_ref, trace_id, resyncs"""


def _locked(row: asyncpg.Record) -> Locked:
    return Locked(
        record_id=row["record_id"],
        tenant_id=row["tenant_id"],
        category=ErrorCategory(row["category"]),
        stage=Stage(row["stage"]),
        status=Status(row["status"]),
        payload=bytes(row["payload"]),
        source=row["source"],
        event_id=row["event_id"],
        customer_ref=row["customer_ref"],
        trace_id=row["trace_id"],
        resyncs=row["resyncs"],
    )


async def lock_error(conn: Conn, scope: str | None, record_id: str) -> Locked | None:
    """Lock one error for an action (inside a transaction); None when not in `scope`."""
    row = await conn.fetchrow(
        f"SELECT {_LOCKED} FROM errors WHERE record_id = $2 "  # noqa: S608 - constant SQL
        "AND ($1::text IS NULL OR tenant_id = $1) FOR UPDATE",
        scope,
        record_id,
    )
    return _locked(row) if row else None


async def lock_matching(
    conn: Conn, scope: str | None, flt: ErrorFilter, limit: int
) -> list[Locked]:
    """Lock up to `limit` errors matching `flt`; rows another action holds are passed over."""
    rows = await conn.fetch(
        f"SELECT {_LOCKED} FROM errors WHERE {_WHERE} "  # noqa: S608 - constant SQL
        "ORDER BY last_seen_at DESC, record_id LIMIT $6 FOR UPDATE SKIP LOCKED",
        *_filter_args(scope, flt),
        limit,
    )
    return [_locked(r) for r in rows]


async def lock_due_retries(conn: Conn, limit: int) -> list[Locked]:
    """Lock open errors whose automatic retry is due, except those of paused tenants."""
    rows = await conn.fetch(
        f"""SELECT {_LOCKED} FROM errors e
            WHERE next_retry_at <= now() AND status = 'open'
              AND NOT EXISTS (SELECT 1 FROM tenants t
                              WHERE t.tenant_id = e.tenant_id AND t.paused_at IS NOT NULL)
            ORDER BY next_retry_at LIMIT $1 FOR UPDATE SKIP LOCKED""",  # noqa: S608
        limit,
    )
    return [_locked(r) for r in rows]


async def mark_resynced(conn: Conn, record_id: str, *, automatic: bool) -> None:
    """The payload was replayed: resolved until the stage reports the failure again."""
    await conn.execute(
        """UPDATE errors SET status = 'resolved', resolution = $2, resolved_at = now(),
               resyncs = resyncs + 1, next_retry_at = NULL,
               auto_retries = auto_retries + $3::int
           WHERE record_id = $1""",
        record_id,
        AUTO_RETRY if automatic else "resynced",
        int(automatic),
    )


async def set_status(conn: Conn, record_id: str, status: Status, resolution: str | None) -> None:
    """Set an error's status by an operator's action; skipped and resolved ones stop retrying."""
    await conn.execute(
        """UPDATE errors SET status = $2, resolution = $3, next_retry_at = NULL,
               notify_pending = notify_pending AND $2 = 'open',
               resolved_at = CASE WHEN $2 = 'open' THEN NULL ELSE now() END
           WHERE record_id = $1""",
        record_id,
        status.value,
        resolution,
    )


async def delete_error(conn: Conn, record_id: str) -> None:
    """Remove an error row (the audit log keeps what it was)."""
    await conn.execute("DELETE FROM errors WHERE record_id = $1", record_id)


async def add_audit(
    conn: Executor,
    *,
    key_id: str,
    tenant_id: str | None,
    record_id: str | None,
    action: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry to the audit log."""
    await conn.execute(
        """INSERT INTO audit (key_id, tenant_id, record_id, action, detail)
           VALUES ($1, $2, $3, $4, $5::jsonb)""",
        key_id,
        tenant_id,
        record_id,
        action,
        json.dumps(detail or {}, default=str),
    )


async def list_audit(
    conn: Executor,
    scope: str | None,
    *,
    tenant: str | None,
    record_id: str | None,
    limit: int,
    before_id: int | None,
) -> list[AuditEntry]:
    """Audit entries, newest first; `before_id` pages further back."""
    rows = await conn.fetch(
        """SELECT id, at, key_id, tenant_id, record_id, action, detail FROM audit
           WHERE ($1::text IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR tenant_id = $2)
             AND ($3::text IS NULL OR record_id = $3) AND ($4::bigint IS NULL OR id < $4)
           ORDER BY id DESC LIMIT $5""",
        scope,
        tenant,
        record_id,
        before_id,
        limit,
    )
    return [AuditEntry.model_validate({**dict(r), "detail": json.loads(r["detail"])}) for r in rows]


async def stop_customer(conn: Conn, tenant_id: str, customer_ref: str, by: str) -> int:
    """Stop syncing a customer (CUS-8): its open errors are skipped; return how many."""
    await conn.execute(
        """INSERT INTO stopped_customers (tenant_id, customer_ref, stopped_by)
           VALUES ($1, $2, $3) ON CONFLICT DO NOTHING""",
        tenant_id,
        customer_ref,
        by,
    )
    result = await conn.execute(
        """UPDATE errors SET status = 'skipped', resolution = $3, next_retry_at = NULL,
               notify_pending = false, resolved_at = now()
           WHERE tenant_id = $1 AND customer_ref = $2 AND status = 'open'""",
        tenant_id,
        customer_ref,
        CUSTOMER_NOT_SYNCED,
    )
    return int(result.rsplit(" ", 1)[-1])


async def resume_customer(conn: Conn, tenant_id: str, customer_ref: str) -> bool:
    """Sync a stopped customer again; False when it was not stopped.

    Errors held for the customer become resolved, not open: the poster posts the
    held transactions now, and any that fail again reopen under their record id.
    """
    result = await conn.execute(
        "DELETE FROM stopped_customers WHERE tenant_id = $1 AND customer_ref = $2",
        tenant_id,
        customer_ref,
    )
    await conn.execute(
        """UPDATE errors SET status = 'resolved', resolution = 'customer-sync-resumed',
               resolved_at = now()
           WHERE tenant_id = $1 AND customer_ref = $2 AND status = 'skipped'
             AND resolution = $3""",
        tenant_id,
        customer_ref,
        CUSTOMER_NOT_SYNCED,
    )
    return result != "DELETE 0"


async def list_stopped(conn: Executor, tenant_id: str) -> list[StoppedCustomer]:
    """Customers of a tenant whose syncing is stopped."""
    rows = await conn.fetch(
        "SELECT * FROM stopped_customers WHERE tenant_id = $1 ORDER BY customer_ref", tenant_id
    )
    return [StoppedCustomer.model_validate(dict(r)) for r in rows]


async def lock_tenant_pause(conn: Conn, tenant_id: str) -> None:
    """Serialise pausing and resuming a tenant until the transaction ends.

    Each statement after the lock reads a fresh snapshot (READ COMMITTED), so it sees
    what a concurrent pause or resume committed while this one waited. A row lock on
    `tenants` would not do: the row may not exist yet.
    """
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"qbsync-errors-pause:{tenant_id}"
    )


_FAILING = """
    SELECT tenant_id FROM errors
    WHERE connection_failure AND status = 'open' AND tenant_id IS NOT NULL
      AND ($2::text IS NULL OR tenant_id = $2)
    GROUP BY tenant_id
    HAVING min(opened_at) <= now() - make_interval(secs => $1)
"""
"""Tenants whose oldest open connection error was first reported that long ago."""


async def tenants_to_pause(conn: Conn, failing_for_seconds: float) -> list[str]:
    """Pause tenants whose QBO connection has failed for that long; return them.

    "Failing since" is the first report of the oldest open connection error, so
    one report long ago that was resolved since does not count. Safe beside a
    concurrent resume or another replica's tick: each candidate is locked
    (`lock_tenant_pause`, in sorted order) and checked again under the lock, so a
    tenant resumed meanwhile (its connection errors resolved) is not paused again
    from a stale read, and a tenant is paused once.
    """
    candidates = await conn.fetch(
        f"""{_FAILING} EXCEPT SELECT tenant_id FROM tenants WHERE paused_at IS NOT NULL""",  # noqa: S608 - a constant query
        failing_for_seconds,
        None,
    )
    paused = []
    for tenant in sorted(r["tenant_id"] for r in candidates):
        await lock_tenant_pause(conn, tenant)
        row = await conn.fetchrow(
            f"""
            WITH failing AS ({_FAILING})
            INSERT INTO tenants (tenant_id, paused_at)
            SELECT tenant_id, now() FROM failing
            ON CONFLICT (tenant_id) DO UPDATE SET paused_at = now()
                WHERE tenants.paused_at IS NULL
            RETURNING tenant_id
            """,  # noqa: S608 - a constant query
            failing_for_seconds,
            tenant,
        )
        if row is not None:
            paused.append(tenant)
    return paused


async def resume_tenant(conn: Conn, tenant_id: str) -> list[Locked] | None:
    """Unpause a tenant; None if it was not paused.

    Its open connection errors are marked resynced and returned, oldest first (the
    order they failed in), locked: the caller replays them in this transaction, so
    they are resolved if and only if they were sent again. Under the tenant's pause
    lock, so a pause tick running at the same time either finished first (and this
    resumes it) or waits and then sees the resolved errors.
    """
    await lock_tenant_pause(conn, tenant_id)
    result = await conn.execute(
        "UPDATE tenants SET paused_at = NULL WHERE tenant_id = $1 AND paused_at IS NOT NULL",
        tenant_id,
    )
    if result == "UPDATE 0":
        return None
    rows = await conn.fetch(
        f"""SELECT {_LOCKED} FROM errors
            WHERE tenant_id = $1 AND connection_failure AND status = 'open'
            ORDER BY first_seen_at, record_id FOR UPDATE""",  # noqa: S608 - constant SQL
        tenant_id,
    )
    failed = [_locked(r) for r in rows]
    for error in failed:
        await mark_resynced(conn, error.record_id, automatic=False)
    return failed


async def paused_since(conn: Executor, tenant_id: str) -> datetime | None:
    """When a tenant was paused, or None."""
    value: datetime | None = await conn.fetchval(
        "SELECT paused_at FROM tenants WHERE tenant_id = $1", tenant_id
    )
    return value
