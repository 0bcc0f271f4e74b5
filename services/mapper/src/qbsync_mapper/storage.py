"""Every SQL statement of the mapper service."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from qbsync_core.commands import PostingCommand

from qbsync_mapper.rules.state import (
    DocKind,
    DocState,
    HeldEvent,
    HoldReason,
    PendingLine,
    Reservation,
    TenantState,
)
from qbsync_mapper.tenants import TenantSettings

Connection = asyncpg.Connection | PoolConnectionProxy


async def lock_tenants(conn: Connection, tenant_ids: Iterable[str]) -> None:
    """Serialise mapping per tenant for the rest of the transaction.

    The consumer and a settings release may map the same tenant at once; locks are
    taken in sorted order so two transactions never wait on each other in a cycle.
    """
    for tenant in sorted(set(tenant_ids)):
        await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", tenant)


async def claim_events(
    conn: Connection, keys: Sequence[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    """Record events as processed; return the (tenant, source, event_id) keys that were new."""
    if not keys:
        return set()
    rows = await conn.fetch(
        """
        INSERT INTO processed_events (tenant_id, source, event_id)
        SELECT t, s, e FROM unnest($1::text[], $2::text[], $3::text[]) AS k(t, s, e)
        ON CONFLICT DO NOTHING
        RETURNING tenant_id, source, event_id
        """,
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
    )
    return {(r["tenant_id"], r["source"], r["event_id"]) for r in rows}


@dataclass(frozen=True)
class StoredSettings:
    """A settings version as stored."""

    tenant_id: str
    version: int
    settings: TenantSettings
    source_text: str
    applied_at: datetime
    released: bool


def _stored(row: asyncpg.Record) -> StoredSettings:
    return StoredSettings(
        tenant_id=row["tenant_id"],
        version=row["version"],
        settings=TenantSettings.model_validate_json(row["document"]),
        source_text=row["source_text"],
        applied_at=row["applied_at"],
        released=row["released"],
    )


async def insert_settings(conn: Connection, settings: TenantSettings, source_text: str) -> int:
    """Store a validated document as the tenant's next version; return the version."""
    await lock_tenants(conn, [settings.tenant_id])
    version: int = await conn.fetchval(
        """
        INSERT INTO tenant_settings (tenant_id, version, document, source_text)
        SELECT $1, coalesce(max(version), 0) + 1, $2::jsonb, $3
        FROM tenant_settings WHERE tenant_id = $1
        RETURNING version
        """,
        settings.tenant_id,
        settings.model_dump_json(by_alias=True),
        source_text,
    )
    return version


async def latest_settings(
    conn: Connection | asyncpg.Pool, tenant_ids: Sequence[str]
) -> dict[str, StoredSettings]:
    """The newest settings version of each tenant that has one."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT ON (tenant_id) tenant_id, version, document::text AS document,
               source_text, applied_at, released
        FROM tenant_settings WHERE tenant_id = ANY($1::text[])
        ORDER BY tenant_id, version DESC
        """,
        list(tenant_ids),
    )
    return {row["tenant_id"]: _stored(row) for row in rows}


async def mark_released(conn: Connection, tenant_id: str, version: int) -> None:
    """Note that held events were re-mapped under settings up to `version`."""
    await conn.execute(
        "UPDATE tenant_settings SET released = true WHERE tenant_id = $1 AND version <= $2",
        tenant_id,
        version,
    )


async def tenants_to_release(conn: Connection | asyncpg.Pool) -> list[str]:
    """Tenants whose newest settings have not yet released their held events.

    Also tenants with settings and events part 1 held as `unsupported` (released once).
    """
    rows = await conn.fetch(
        """
        SELECT tenant_id FROM tenant_settings WHERE NOT released
        UNION
        SELECT h.tenant_id FROM held_events h
        WHERE h.reason = 'unsupported'
          AND EXISTS (SELECT 1 FROM tenant_settings s WHERE s.tenant_id = h.tenant_id)
        """
    )
    return sorted(r["tenant_id"] for r in rows)


def _held(row: asyncpg.Record) -> HeldEvent:
    return HeldEvent(
        reason=HoldReason(row["reason"]),
        key=row["key"],
        source=row["source"],
        event_id=row["event_id"],
        payload=bytes(row["payload"]),
        traceparent=row["traceparent"],
        ref=row["ref"],
        held_id=row["held_id"],
    )


_HELD_COLUMNS = "held_id, reason, key, ref, source, event_id, payload, traceparent"


async def take_held(
    conn: Connection, tenant_id: str, reasons: Sequence[HoldReason], key: str | None = None
) -> list[HeldEvent]:
    """Remove and return a tenant's held events of `reasons` (and `key`), oldest first."""
    rows = await conn.fetch(
        f"""
        DELETE FROM held_events WHERE tenant_id = $1 AND reason = ANY($2::text[])
            AND ($3::text IS NULL OR key = $3)
        RETURNING {_HELD_COLUMNS}
        """,  # noqa: S608 - a constant column list
        tenant_id,
        [r.value for r in reasons],
        key,
    )
    return sorted((_held(r) for r in rows), key=lambda h: h.held_id or 0)


async def load_state(
    conn: Connection,
    tenant_id: str,
    refs: set[str],
    invoice_refs: set[str],
    ledger_events: Sequence[tuple[str, str]] = (),
) -> TenantState:
    """The documents a batch touches, and the payments held for its invoices.

    Args:
        conn: a connection inside the mapping transaction.
        tenant_id: the tenant.
        refs: upstream refs the batch's events mention.
        invoice_refs: refs of invoices the batch may issue (their held payments are loaded).
        ledger_events: (source, event_id) of the batch's ledger events (which of them
            were already folded in is loaded).
    """
    state = TenantState()
    state.stopped_customers = await stopped_customers(conn, tenant_id)
    if ledger_events:
        rows = await conn.fetch(
            """
            SELECT source, event_id FROM ledger_applied
            WHERE tenant_id = $1 AND (source, event_id) IN
                (SELECT * FROM unnest($2::text[], $3::text[]))
            """,
            tenant_id,
            [k[0] for k in ledger_events],
            [k[1] for k in ledger_events],
        )
        state.ledger_applied = {(r["source"], r["event_id"]) for r in rows}
    held_rows = await conn.fetch(
        f"""
        SELECT {_HELD_COLUMNS} FROM held_events
        WHERE tenant_id = $1 AND reason = $2 AND key = ANY($3::text[]) ORDER BY held_id
        """,  # noqa: S608 - a constant column list
        tenant_id,
        HoldReason.AWAITING_INVOICE.value,
        sorted(invoice_refs),
    )
    for row in held_rows:
        held = _held(row)
        state.awaiting.setdefault(held.key, []).append(held)
        if held.ref:
            refs.add(held.ref)
    for row in await conn.fetch(
        "SELECT ref, currency, balance, active FROM reservations "
        "WHERE tenant_id = $1 AND ref = ANY($2::text[])",
        tenant_id,
        sorted(refs),
    ):
        state.reservations[row["ref"]] = Reservation(
            row["ref"], row["currency"], Decimal(row["balance"]), row["active"]
        )
    docs = await _documents(conn, tenant_id, refs)
    # An invoice's void reaches its payments (DOC-7): load those too.
    payment_refs = {p for d in docs if d.kind is DocKind.INVOICE for p in d.payments} - refs
    docs.extend(await _documents(conn, tenant_id, payment_refs))
    state.documents = {(d.kind, d.ref): d for d in docs}
    return state


async def _documents(conn: Connection, tenant_id: str, refs: set[str]) -> list[DocState]:
    if not refs:
        return []
    rows = await conn.fetch(
        "SELECT state::text AS state FROM documents WHERE tenant_id = $1 AND ref = ANY($2::text[])",
        tenant_id,
        sorted(refs),
    )
    return [DocState.model_validate_json(r["state"]) for r in rows]


async def save_state(conn: Connection, tenant_id: str, state: TenantState) -> None:
    """Write back changed documents, new holds and released holds."""
    changed = [state.documents[key] for key in sorted(state.changed)]
    if changed:
        await conn.execute(
            """
            INSERT INTO documents (tenant_id, kind, ref, state)
            SELECT $1, k, r, s::jsonb FROM unnest($2::text[], $3::text[], $4::text[]) AS d(k, r, s)
            ON CONFLICT (tenant_id, ref, kind)
            DO UPDATE SET state = excluded.state, updated_at = now()
            """,
            tenant_id,
            [d.kind.value for d in changed],
            [d.ref for d in changed],
            [d.model_dump_json() for d in changed],
        )
    if state.released:
        await conn.execute(
            "DELETE FROM held_events WHERE held_id = ANY($1::bigint[])", state.released
        )
    await hold_events(conn, tenant_id, state.new_holds)
    touched = [r for r in state.reservations.values() if r.active]
    if touched:
        await conn.executemany(
            """
            INSERT INTO reservations (tenant_id, ref, currency, balance, active)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (tenant_id, ref)
            DO UPDATE SET balance = excluded.balance, active = excluded.active
            """,
            [(tenant_id, r.ref, r.currency, r.balance, r.active) for r in touched],
        )
    await append_journal_lines(conn, tenant_id, state.journal_lines)
    if state.ledger_new:
        await conn.executemany(
            "INSERT INTO ledger_applied (tenant_id, source, event_id) VALUES ($1, $2, $3)",
            [(tenant_id, source, event_id) for source, event_id in state.ledger_new],
        )


async def append_journal_lines(
    conn: Connection, tenant_id: str, pending: Sequence[PendingLine]
) -> None:
    """Keep ledger postings' lines until their day's entry is built (JRN-1)."""
    if not pending:
        return
    await conn.executemany(
        """
        INSERT INTO journal_lines (tenant_id, day, currency, event_id, lines)
        VALUES ($1, $2, $3, $4, $5::jsonb)
        """,
        [(tenant_id, p.day, p.currency, p.event_id, json.dumps(p.lines)) for p in pending],
    )


@dataclass(frozen=True)
class OpenDay:
    """Unposted journal lines of one (day, currency), and the entry they will become."""

    day: date
    currency: str
    seq: int
    line_ids: list[int]
    lines: list[dict[str, object]]


async def open_days(conn: Connection, tenant_id: str, before: date) -> list[OpenDay]:
    """Days before `before` with lines no entry took yet, oldest first, with their next seq."""
    rows = await conn.fetch(
        """
        SELECT l.day, l.currency, array_agg(l.line_id ORDER BY l.line_id) AS ids,
               jsonb_agg(l.lines ORDER BY l.line_id)::text AS lines,
               coalesce((SELECT max(e.seq) + 1 FROM journal_entries e
                         WHERE e.tenant_id = l.tenant_id AND e.day = l.day
                           AND e.currency = l.currency), 0) AS seq
        FROM journal_lines l
        WHERE l.tenant_id = $1 AND l.entry_seq IS NULL AND l.day < $2
        GROUP BY l.tenant_id, l.day, l.currency
        ORDER BY l.day, l.currency
        """,
        tenant_id,
        before,
    )
    return [
        OpenDay(
            r["day"],
            r["currency"],
            r["seq"],
            list(r["ids"]),
            [line for group in json.loads(r["lines"]) for line in group],
        )
        for r in rows
    ]


async def close_day(conn: Connection, tenant_id: str, day: OpenDay, command_id: str | None) -> None:
    """Mark a day's lines as taken by entry `day.seq`; record the entry if one was built."""
    await conn.execute(
        "UPDATE journal_lines SET entry_seq = $2 WHERE line_id = ANY($1::bigint[])",
        day.line_ids,
        day.seq,
    )
    if command_id is not None:
        await conn.execute(
            """
            INSERT INTO journal_entries (tenant_id, day, currency, seq, command_id)
            VALUES ($1, $2, $3, $4, $5)
            """,
            tenant_id,
            day.day,
            day.currency,
            day.seq,
            command_id,
        )


async def enqueue(
    conn: Connection,
    tenant_id: str,
    commands: Sequence[tuple[date, PostingCommand]],
    now: datetime,
) -> None:
    """Put commands in the outbox until their export window opens (SET-3)."""
    if not commands:
        return
    await conn.executemany(
        """
        INSERT INTO outbox (tenant_id, business_day, command, enqueued_at)
        VALUES ($1, $2, $3::jsonb, $4)
        """,
        [(tenant_id, day, c.model_dump_json(), now) for day, c in commands],
    )


async def take_outbox(
    conn: Connection, tenant_id: str, until: date
) -> list[tuple[date, PostingCommand]]:
    """Remove and return the tenant's waiting commands dated up to `until`, in order."""
    rows = await conn.fetch(
        """
        DELETE FROM outbox WHERE tenant_id = $1 AND business_day <= $2
        RETURNING outbox_id, business_day, command::text AS command
        """,
        tenant_id,
        until,
    )
    rows = sorted(rows, key=lambda r: r["outbox_id"])
    return [(r["business_day"], PostingCommand.model_validate_json(r["command"])) for r in rows]


async def outbox_counts(conn: Connection | asyncpg.Pool, tenant_id: str) -> int:
    """How many commands of the tenant wait in the outbox."""
    count: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE tenant_id = $1", tenant_id)
    return count


async def start_export_clock(conn: Connection, tenant_id: str, now: datetime) -> None:
    """Interval windows of a tenant seen for the first time count from `now`."""
    await conn.execute(
        "INSERT INTO export_state (tenant_id, last_export_at) VALUES ($1, $2) "
        "ON CONFLICT DO NOTHING",
        tenant_id,
        now,
    )


async def last_export(conn: Connection, tenant_id: str) -> datetime | None:
    """When the tenant's outbox was last exported."""
    value: datetime | None = await conn.fetchval(
        "SELECT last_export_at FROM export_state WHERE tenant_id = $1", tenant_id
    )
    return value


async def exported(conn: Connection, tenant_id: str, now: datetime) -> None:
    """Record an export at `now`."""
    await conn.execute(
        """
        INSERT INTO export_state (tenant_id, last_export_at) VALUES ($1, $2)
        ON CONFLICT (tenant_id) DO UPDATE SET last_export_at = excluded.last_export_at
        """,
        tenant_id,
        now,
    )


async def request_export(
    conn: Connection | asyncpg.Pool, tenant_id: str, start: date | None
) -> int:
    """Ask the running service for a manual export (the CLI's path)."""
    request_id: int = await conn.fetchval(
        "INSERT INTO export_requests (tenant_id, start_day) VALUES ($1, $2) RETURNING request_id",
        tenant_id,
        start,
    )
    return request_id


async def take_export_requests(conn: Connection, tenant_id: str) -> list[date | None]:
    """Remove and return the tenant's pending manual-export requests (their start days)."""
    rows = await conn.fetch(
        "DELETE FROM export_requests WHERE tenant_id = $1 RETURNING request_id, start_day",
        tenant_id,
    )
    return [r["start_day"] for r in sorted(rows, key=lambda r: r["request_id"])]


async def tenants_with_work(conn: Connection | asyncpg.Pool) -> list[str]:
    """Tenants with waiting commands, open journal lines or export requests."""
    rows = await conn.fetch(
        """
        SELECT tenant_id FROM outbox
        UNION SELECT tenant_id FROM journal_lines WHERE entry_seq IS NULL
        UNION SELECT tenant_id FROM export_requests
        """
    )
    return sorted(r["tenant_id"] for r in rows)


async def hold_events(conn: Connection, tenant_id: str, held: Sequence[HeldEvent]) -> None:
    """Keep events for later, in the given order."""
    if not held:
        return
    await conn.executemany(
        """
        INSERT INTO held_events
            (tenant_id, reason, key, ref, source, event_id, payload, traceparent)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        [
            (
                tenant_id,
                h.reason.value,
                h.key,
                h.ref,
                h.source,
                h.event_id,
                h.payload,
                h.traceparent,
            )
            for h in held
        ],
    )


async def stop_customer(
    conn: Connection, tenant_id: str, customer_ref: str, record_id: str | None, by: str
) -> None:
    """Stop syncing an upstream customer (CUS-8); a repeat changes nothing."""
    await conn.execute(
        """
        INSERT INTO stopped_customers (tenant_id, customer_ref, record_id, stopped_by)
        VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING
        """,
        tenant_id,
        customer_ref,
        record_id,
        by,
    )


async def resume_customer(conn: Connection, tenant_id: str, customer_ref: str) -> bool:
    """Sync a stopped customer again; False when it was not stopped."""
    result: str = await conn.execute(
        "DELETE FROM stopped_customers WHERE tenant_id = $1 AND customer_ref = $2",
        tenant_id,
        customer_ref,
    )
    return result != "DELETE 0"


async def stopped_customers(conn: Connection | asyncpg.Pool, tenant_id: str) -> set[str]:
    """Upstream refs of the tenant's customers an operator stopped syncing (CUS-8)."""
    rows = await conn.fetch(
        "SELECT customer_ref FROM stopped_customers WHERE tenant_id = $1", tenant_id
    )
    return {r["customer_ref"] for r in rows}


async def held_counts(conn: Connection | asyncpg.Pool, tenant_id: str) -> dict[str, int]:
    """How many events of the tenant are held, by reason."""
    rows = await conn.fetch(
        "SELECT reason, count(*) AS n FROM held_events WHERE tenant_id = $1 GROUP BY reason",
        tenant_id,
    )
    return {r["reason"]: r["n"] for r in rows}


def settings_json(stored: StoredSettings) -> dict[str, object]:
    """A stored version as the admin API and CLI show it."""
    document: dict[str, object] = json.loads(stored.settings.model_dump_json(by_alias=True))
    return {
        "tenant_id": stored.tenant_id,
        "version": stored.version,
        "applied_at": stored.applied_at.isoformat(),
        "settings": document,
    }
