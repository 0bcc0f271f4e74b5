"""Every SQL statement of the ingest service."""

from dataclasses import dataclass

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from qbsync_core.apikeys import KEY_PREFIX, key_for_token, new_token, secret_hash


async def claim_new_events(
    conn: "asyncpg.Connection | PoolConnectionProxy",
    keys: list[tuple[str, str, str, bytes]],
    path: str,
) -> set[tuple[str, str, str]]:
    """Record events as seen; return the keys that were not seen before.

    Must run inside the transaction that forwards them: rows of events whose
    forwarding fails roll back with it. Keys are inserted in sorted order, so two
    concurrent batches sharing events lock them in the same order (no deadlock);
    a concurrent claim of the same key waits for the other transaction and then
    finds it taken.

    Args:
        conn: a connection inside a transaction.
        keys: (tenant_id, source, event_id, payload SHA-256) per event, unique keys.
        path: "kafka" or "http".
    """
    if not keys:
        return set()
    ordered = sorted(keys)
    rows = await conn.fetch(
        """
        INSERT INTO seen_events (tenant_id, source, event_id, payload_sha256, path)
        SELECT t, s, e, h, $5 FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[])
            WITH ORDINALITY AS k(t, s, e, h, n)
        ORDER BY n
        ON CONFLICT DO NOTHING
        RETURNING tenant_id, source, event_id
        """,
        [k[0] for k in ordered],
        [k[1] for k in ordered],
        [k[2] for k in ordered],
        [k[3] for k in ordered],
        path,
    )
    return {(r["tenant_id"], r["source"], r["event_id"]) for r in rows}


@dataclass(frozen=True)
class NewApiKey:
    """A key as shown once to its owner."""

    key_id: str
    tenant_id: str
    token: str


async def create_api_key(
    conn: "asyncpg.Connection | PoolConnectionProxy", tenant_id: str
) -> NewApiKey:
    """Create a key for `tenant_id` (the shared scheme, qbsync_core.apikeys); never stored."""
    key_id, secret = new_token()
    await conn.execute(
        "INSERT INTO api_keys (key_id, tenant_id, secret_sha256) VALUES ($1, $2, $3)",
        key_id,
        tenant_id,
        secret_hash(secret),
    )
    return NewApiKey(key_id, tenant_id, f"{KEY_PREFIX}_{key_id}_{secret}")


async def tenant_for_api_key(conn: asyncpg.Connection | asyncpg.Pool, token: str) -> str | None:
    """The tenant of a valid, unrevoked key; None for anything else."""
    key = await key_for_token(conn, token)
    return key.tenant_id if key is not None else None
