"""Every SQL statement of the mapper service."""

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from qbsync_mapper.rules.state import DocKind, DocState, HeldEvent, HoldReason, TenantState
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
    """Tenants whose newest settings have not yet released their held events."""
    rows = await conn.fetch("SELECT DISTINCT tenant_id FROM tenant_settings WHERE NOT released")
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
    conn: Connection, tenant_id: str, reasons: Sequence[HoldReason]
) -> list[HeldEvent]:
    """Remove and return a tenant's held events of `reasons`, oldest first."""
    rows = await conn.fetch(
        f"""
        DELETE FROM held_events WHERE tenant_id = $1 AND reason = ANY($2::text[])
        RETURNING {_HELD_COLUMNS}
        """,  # noqa: S608 - a constant column list
        tenant_id,
        [r.value for r in reasons],
    )
    return sorted((_held(r) for r in rows), key=lambda h: h.held_id or 0)


async def load_state(
    conn: Connection, tenant_id: str, refs: set[str], invoice_refs: set[str]
) -> TenantState:
    """The documents a batch touches, and the payments held for its invoices.

    Args:
        conn: a connection inside the mapping transaction.
        tenant_id: the tenant.
        refs: upstream refs the batch's events mention.
        invoice_refs: refs of invoices the batch may issue (their held payments are loaded).
    """
    state = TenantState()
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
