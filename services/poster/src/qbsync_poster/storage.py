"""Every SQL statement of the poster service."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection = asyncpg.Connection | PoolConnectionProxy
Executor = asyncpg.Pool | Connection


@dataclass(frozen=True)
class StoredConnection:
    """A tenant's QBO connection as stored (tokens still encrypted)."""

    tenant_id: str
    realm_id: str
    tokens: bytes
    status: str
    failure: str | None
    connected_at: datetime | None = None
    backsync: bool = False
    """The tenant opted in to payment back-sync (SET-7); off by default (SET-6)."""


@dataclass
class LedgerRow:
    """One entity ledger row: what an upstream ref is in QBO."""

    tenant_id: str
    upstream_ref: str
    entity: str
    qbo_id: str | None = None
    sync_token: str | None = None
    doc_number: str | None = None
    state: str = "pending"
    generation: int = 0
    pending_command: str | None = None


@dataclass(frozen=True)
class DoneCommand:
    """A command whose effect is in QBO."""

    command_id: str
    tenant_id: str
    upstream_ref: str
    operation: str
    qbo_id: str | None


# ---- connections --------------------------------------------------------------------


async def save_connection(db: Executor, tenant_id: str, realm_id: str, tokens: bytes) -> None:
    """Store (or replace) a tenant's connection as active."""
    await db.execute(
        """
        INSERT INTO connections (tenant_id, realm_id, tokens) VALUES ($1, $2, $3)
        ON CONFLICT (tenant_id) DO UPDATE SET realm_id = EXCLUDED.realm_id,
            tokens = EXCLUDED.tokens, status = 'active', failure = NULL,
            connected_at = now(), updated_at = now()
        """,
        tenant_id,
        realm_id,
        tokens,
    )


async def save_tokens(db: Executor, realm_id: str, tokens: bytes) -> None:
    """Store rotated tokens of every connection to `realm_id`."""
    await db.execute(
        "UPDATE connections SET tokens = $2, updated_at = now() WHERE realm_id = $1",
        realm_id,
        tokens,
    )


async def mark_revoked(db: Executor, realm_id: str, failure: str) -> None:
    """Record that Intuit refused the connection's tokens (reconnect needed)."""
    await db.execute(
        "UPDATE connections SET status = 'revoked', failure = $2, updated_at = now() "
        "WHERE realm_id = $1",
        realm_id,
        failure,
    )


def _connection(row: asyncpg.Record | None) -> StoredConnection | None:
    if row is None:
        return None
    return StoredConnection(
        row["tenant_id"],
        row["realm_id"],
        bytes(row["tokens"]),
        row["status"],
        row["failure"],
        row["connected_at"],
        row["backsync"],
    )


async def connection_for_tenant(db: Executor, tenant_id: str) -> StoredConnection | None:
    """The tenant's connection, if it ever connected."""
    row = await db.fetchrow("SELECT * FROM connections WHERE tenant_id = $1", tenant_id)
    return _connection(row)


async def connections_for_tenants(
    db: Executor, tenant_ids: Iterable[str]
) -> dict[str, StoredConnection]:
    """The connections of several tenants in one query (those that ever connected)."""
    rows = await db.fetch(
        "SELECT * FROM connections WHERE tenant_id = ANY($1)", sorted(set(tenant_ids))
    )
    found = (_connection(r) for r in rows)
    return {c.tenant_id: c for c in found if c is not None}


async def connection_for_realm(db: Executor, realm_id: str) -> StoredConnection | None:
    """The newest connection to `realm_id`."""
    row = await db.fetchrow(
        "SELECT * FROM connections WHERE realm_id = $1 ORDER BY connected_at DESC LIMIT 1",
        realm_id,
    )
    return _connection(row)


async def all_tokens(db: Executor) -> list[tuple[str, bytes]]:
    """(tenant, encrypted tokens) of every connection, for key rotation."""
    rows = await db.fetch("SELECT tenant_id, tokens FROM connections")
    return [(r["tenant_id"], bytes(r["tokens"])) for r in rows]


async def replace_tokens(db: Executor, tenant_id: str, tokens: bytes) -> None:
    """Overwrite one tenant's encrypted tokens (key rotation)."""
    await db.execute("UPDATE connections SET tokens = $2 WHERE tenant_id = $1", tenant_id, tokens)


async def put_state(db: Executor, state: str, tenant_id: str) -> None:
    """Remember an OAuth `state` handed out for `tenant_id`."""
    await db.execute(
        "INSERT INTO oauth_states (state, tenant_id) VALUES ($1, $2)", state, tenant_id
    )


async def take_state(db: Executor, state: str, max_age_s: int = 3600) -> str | None:
    """Consume an OAuth `state`; the tenant it was issued for, or None if unknown/expired."""
    value: str | None = await db.fetchval(
        "DELETE FROM oauth_states WHERE state = $1 "
        "AND created_at > now() - make_interval(secs => $2) RETURNING tenant_id",
        state,
        float(max_age_s),
    )
    return value


# ---- entity ledger ------------------------------------------------------------------


def _ledger_row(row: asyncpg.Record) -> LedgerRow:
    return LedgerRow(
        tenant_id=row["tenant_id"],
        upstream_ref=row["upstream_ref"],
        entity=row["entity"],
        qbo_id=row["qbo_id"],
        sync_token=row["sync_token"],
        doc_number=row["doc_number"],
        state=row["state"],
        generation=row["generation"],
        pending_command=row["pending_command"],
    )


async def load_ledger(db: Executor, keys: Iterable[tuple[str, str]]) -> list[LedgerRow]:
    """Ledger rows of the given (tenant, upstream ref) keys that exist."""
    pairs = sorted(set(keys))
    if not pairs:
        return []
    rows = await db.fetch(
        """
        SELECT e.* FROM entities e
        JOIN unnest($1::text[], $2::text[]) AS k(t, r) ON e.tenant_id = k.t AND e.upstream_ref = k.r
        """,
        [p[0] for p in pairs],
        [p[1] for p in pairs],
    )
    return [_ledger_row(r) for r in rows]


async def ledger_row(db: Executor, tenant_id: str, upstream_ref: str) -> LedgerRow | None:
    """One ledger row."""
    row = await db.fetchrow(
        "SELECT * FROM entities WHERE tenant_id = $1 AND upstream_ref = $2",
        tenant_id,
        upstream_ref,
    )
    return None if row is None else _ledger_row(row)


async def ledger_by_qbo_id(
    db: Executor, tenant_id: str, entity: str, qbo_ids: Sequence[str]
) -> list[LedgerRow]:
    """Ledger rows of QBO entities of one type (back-sync: which invoices are ours)."""
    rows = await db.fetch(
        "SELECT * FROM entities WHERE tenant_id = $1 AND entity = $2 AND qbo_id = ANY($3)",
        tenant_id,
        entity,
        list(qbo_ids),
    )
    return [_ledger_row(r) for r in rows]


async def done_commands(db: Executor, command_ids: Iterable[str]) -> dict[str, str | None]:
    """Which of `command_ids` are already done, with the QBO id each produced."""
    ids = list(set(command_ids))
    if not ids:
        return {}
    rows = await db.fetch(
        "SELECT command_id, qbo_id FROM done_commands WHERE command_id = ANY($1)", ids
    )
    return {r["command_id"]: r["qbo_id"] for r in rows}


_UPSERT = """
INSERT INTO entities (tenant_id, upstream_ref, entity, qbo_id, sync_token, doc_number, state,
                      generation, pending_command, updated_at)
SELECT * , now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                             $6::text[], $7::text[], $8::int[], $9::text[])
ON CONFLICT (tenant_id, upstream_ref) DO UPDATE SET
    entity = EXCLUDED.entity, qbo_id = EXCLUDED.qbo_id, sync_token = EXCLUDED.sync_token,
    doc_number = EXCLUDED.doc_number, state = EXCLUDED.state, generation = EXCLUDED.generation,
    pending_command = EXCLUDED.pending_command, updated_at = now()
"""


async def upsert_ledger(db: Executor, rows: Sequence[LedgerRow]) -> None:
    """Write ledger rows as given (one statement)."""
    if not rows:
        return
    await db.execute(
        _UPSERT,
        [r.tenant_id for r in rows],
        [r.upstream_ref for r in rows],
        [r.entity for r in rows],
        [r.qbo_id for r in rows],
        [r.sync_token for r in rows],
        [r.doc_number for r in rows],
        [r.state for r in rows],
        [r.generation for r in rows],
        [r.pending_command for r in rows],
    )


async def save_outcomes(
    pool: asyncpg.Pool, rows: Sequence[LedgerRow], done: Sequence[DoneCommand]
) -> None:
    """Persist a batch's ledger changes and done commands in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        await upsert_ledger(conn, rows)
        if done:
            await conn.execute(
                """
                INSERT INTO done_commands (command_id, tenant_id, upstream_ref, operation, qbo_id)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[])
                ON CONFLICT (command_id) DO NOTHING
                """,
                [d.command_id for d in done],
                [d.tenant_id for d in done],
                [d.upstream_ref for d in done],
                [d.operation for d in done],
                [d.qbo_id for d in done],
            )


# ---- name caches --------------------------------------------------------------------


async def cached_id(db: Executor, realm_id: str, kind: str, name: str) -> str | None:
    """The cached QBO id of list entity `kind` named `name` (case-insensitive)."""
    value: str | None = await db.fetchval(
        "SELECT qbo_id FROM name_cache WHERE realm_id = $1 AND kind = $2 AND name_key = $3",
        realm_id,
        kind,
        name.casefold(),
    )
    return value


async def cached_ids(
    db: Executor, kind: str, names: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """Cached QBO ids of many (realm, name) pairs at once, keyed by the pairs as given."""
    wanted = {(realm, name.casefold()): (realm, name) for realm, name in names}
    if not wanted:
        return {}
    keys = sorted(wanted)
    rows = await db.fetch(
        """
        SELECT c.realm_id, c.name_key, c.qbo_id FROM name_cache c
        JOIN unnest($2::text[], $3::text[]) AS k(r, n) ON c.realm_id = k.r AND c.name_key = k.n
        WHERE c.kind = $1
        """,
        kind,
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    return {wanted[(r["realm_id"], r["name_key"])]: r["qbo_id"] for r in rows}


async def cache_id(db: Executor, realm_id: str, kind: str, name: str, qbo_id: str) -> None:
    """Remember the QBO id of a list entity by name."""
    await db.execute(
        """
        INSERT INTO name_cache (realm_id, kind, name_key, qbo_id) VALUES ($1, $2, $3, $4)
        ON CONFLICT (realm_id, kind, name_key) DO UPDATE SET qbo_id = EXCLUDED.qbo_id
        """,
        realm_id,
        kind,
        name.casefold(),
        qbo_id,
    )


async def forget_id(db: Executor, realm_id: str, kind: str, name: str) -> None:
    """Drop a cached id that QBO no longer knows."""
    await db.execute(
        "DELETE FROM name_cache WHERE realm_id = $1 AND kind = $2 AND name_key = $3",
        realm_id,
        kind,
        name.casefold(),
    )


# ---- back-sync from CDC -------------------------------------------------------------


async def backsync_connections(db: Executor) -> list[StoredConnection]:
    """The connections in use whose tenant opted in to back-sync (SET-7), for the CDC poll."""
    rows = await db.fetch(
        "SELECT * FROM connections WHERE status = 'active' AND backsync ORDER BY tenant_id"
    )
    found = (_connection(r) for r in rows)
    return [c for c in found if c is not None]


async def set_backsync(
    pool: asyncpg.Pool, tenant_id: str, enabled: bool, *, poll_from: datetime
) -> bool:
    """Turn the tenant's back-sync on or off; False when the tenant has no connection.

    Turning it on moves the realm's CDC cursor to `poll_from`, so what QBO recorded
    before the opt-in stays unread (SET-6) rather than the poll's first 30 days going
    upstream.
    """
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT realm_id, backsync FROM connections WHERE tenant_id = $1 FOR UPDATE",
            tenant_id,
        )
        if row is None:
            return False
        await conn.execute(
            "UPDATE connections SET backsync = $2, updated_at = now() WHERE tenant_id = $1",
            tenant_id,
            enabled,
        )
        if enabled and not row["backsync"]:
            await save_cdc_cursor(conn, row["realm_id"], poll_from)
    return True


async def cdc_cursor(db: Executor, realm_id: str) -> datetime | None:
    """Where the realm's next CDC call starts, if it was ever polled."""
    value: datetime | None = await db.fetchval(
        "SELECT changed_since FROM cdc_cursors WHERE realm_id = $1", realm_id
    )
    return value


async def save_cdc_cursor(db: Executor, realm_id: str, changed_since: datetime) -> None:
    """Move the realm's CDC cursor."""
    await db.execute(
        """
        INSERT INTO cdc_cursors (realm_id, changed_since) VALUES ($1, $2)
        ON CONFLICT (realm_id) DO UPDATE SET changed_since = EXCLUDED.changed_since,
            updated_at = now()
        """,
        realm_id,
        changed_since,
    )


async def claim_backsync(
    conn: Connection, realm_id: str, tenant_id: str, payment_ids: Sequence[str], source: str
) -> set[str]:
    """Claim payments for publishing; returns those nobody published (or is publishing).

    Call inside the transaction that publishes them: a concurrent claimant waits on the
    rows until it commits, then sees them taken; a rollback frees them again.
    """
    if not payment_ids:
        return set()
    rows = await conn.fetch(
        """
        INSERT INTO backsynced_payments (realm_id, qbo_payment_id, tenant_id, source)
        SELECT $1, p, $2, $3 FROM unnest($4::text[]) AS p
        ON CONFLICT (realm_id, qbo_payment_id) DO NOTHING
        RETURNING qbo_payment_id
        """,
        realm_id,
        tenant_id,
        source,
        sorted(set(payment_ids)),
    )
    return {r["qbo_payment_id"] for r in rows}
