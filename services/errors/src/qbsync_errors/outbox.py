"""Every SQL statement about notification webhooks and their deliveries."""

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from qbsync_errors.models import ErrorSummary, NewWebhook, Webhook
from qbsync_errors.storage import Conn, Executor

DIGEST_LIMIT = 200
"""Errors listed by name in one digest; the rest are counted (the page has them all)."""


async def create_webhook(conn: Executor, tenant_id: str, url: str) -> NewWebhook:
    """Register a webhook URL for a tenant, with a fresh signing secret."""
    row = await conn.fetchrow(
        """INSERT INTO webhooks (webhook_id, tenant_id, url, secret) VALUES ($1, $2, $3, $4)
           RETURNING webhook_id, tenant_id, url, secret, created_at""",
        f"wh_{secrets.token_hex(8)}",
        tenant_id,
        url,
        f"whsec_{secrets.token_urlsafe(32)}",
    )
    assert row is not None
    return NewWebhook.model_validate(dict(row))


async def list_webhooks(conn: Executor, tenant_id: str) -> list[Webhook]:
    """A tenant's webhooks (without their secrets)."""
    rows = await conn.fetch(
        """SELECT webhook_id, tenant_id, url, created_at FROM webhooks
           WHERE tenant_id = $1 ORDER BY created_at""",
        tenant_id,
    )
    return [Webhook.model_validate(dict(r)) for r in rows]


async def delete_webhook(conn: Executor, tenant_id: str, webhook_id: str) -> bool:
    """Remove a webhook (and its pending deliveries); False when it is not the tenant's."""
    result = await conn.execute(
        "DELETE FROM webhooks WHERE tenant_id = $1 AND webhook_id = $2", tenant_id, webhook_id
    )
    return result != "DELETE 0"


async def drop_pending_of_paused(conn: Conn) -> None:
    """Paused tenants get one pause notice instead of a digest per failing event."""
    await conn.execute(
        """UPDATE errors e SET notify_pending = false FROM tenants t
           WHERE e.notify_pending AND t.tenant_id = e.tenant_id AND t.paused_at IS NOT NULL"""
    )


async def lock_digest_tenants(conn: Conn, every_seconds: float, limit: int) -> list[str]:
    """Lock tenants owed a digest: new open errors, a webhook, no digest within the period."""
    await conn.execute(
        """INSERT INTO tenants (tenant_id)
           SELECT DISTINCT tenant_id FROM errors WHERE notify_pending AND tenant_id IS NOT NULL
           ON CONFLICT DO NOTHING"""
    )
    rows = await conn.fetch(
        """SELECT t.tenant_id FROM tenants t
           WHERE t.paused_at IS NULL
             AND (t.last_digest_at IS NULL
                  OR t.last_digest_at <= now() - make_interval(secs => $1))
             AND EXISTS (SELECT 1 FROM errors e WHERE e.tenant_id = t.tenant_id
                         AND e.notify_pending AND e.status = 'open')
             AND EXISTS (SELECT 1 FROM webhooks w WHERE w.tenant_id = t.tenant_id)
           ORDER BY t.tenant_id LIMIT $2 FOR UPDATE SKIP LOCKED""",
        every_seconds,
        limit,
    )
    return [r["tenant_id"] for r in rows]


async def take_pending(conn: Conn, tenant_id: str) -> tuple[list[ErrorSummary], int]:
    """Clear a tenant's notify flags; return the first errors by name and how many in all."""
    rows = await conn.fetch(
        """UPDATE errors SET notify_pending = false
           WHERE tenant_id = $1 AND notify_pending
           RETURNING record_id, tenant_id, category, stage, cause, status, resolution, attempts,
               retriable, next_retry_at, first_seen_at, last_seen_at""",
        tenant_id,
    )
    # Skipped or resolved since they were flagged: never notified (ERR-3).
    open_rows = sorted(
        (r for r in rows if r["status"] == "open"),
        key=lambda r: (r["first_seen_at"], r["record_id"]),
    )
    await conn.execute("UPDATE tenants SET last_digest_at = now() WHERE tenant_id = $1", tenant_id)
    return [ErrorSummary.model_validate(dict(r)) for r in open_rows[:DIGEST_LIMIT]], len(open_rows)


async def add_deliveries(
    conn: Conn, tenant_id: str, kind: str, body_for: Callable[[str], bytes]
) -> int:
    """Queue one delivery per webhook of the tenant; return how many.

    `body_for` builds the exact body from the delivery id, which the body carries.
    """
    hooks = await conn.fetch("SELECT webhook_id FROM webhooks WHERE tenant_id = $1", tenant_id)
    for hook in hooks:
        delivery_id = f"dlv_{secrets.token_hex(10)}"
        await conn.execute(
            """INSERT INTO deliveries (delivery_id, webhook_id, tenant_id, kind, body)
               VALUES ($1, $2, $3, $4, $5)""",
            delivery_id,
            hook["webhook_id"],
            tenant_id,
            kind,
            body_for(delivery_id),
        )
    return len(hooks)


@dataclass(frozen=True)
class Due:
    """A delivery leased for one attempt."""

    delivery_id: str
    tenant_id: str
    url: str
    secret: str
    body: bytes
    attempts: int


async def lease_due(conn: Executor, limit: int, lease_seconds: float) -> list[Due]:
    """Lease due deliveries for one attempt each.

    The lease pushes `next_attempt_at` past the attempt's timeout, so another
    replica (or the next tick) does not send the same delivery meanwhile; no
    database transaction stays open during the HTTP call.
    """
    rows = await conn.fetch(
        """UPDATE deliveries d SET next_attempt_at = now() + make_interval(secs => $2)
           FROM webhooks w
           WHERE w.webhook_id = d.webhook_id AND d.delivery_id IN (
               SELECT delivery_id FROM deliveries
               WHERE status = 'pending' AND next_attempt_at <= now()
               ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
           RETURNING d.delivery_id, d.tenant_id, w.url, w.secret, d.body, d.attempts""",
        limit,
        lease_seconds,
    )
    return [
        Due(
            r["delivery_id"], r["tenant_id"], r["url"], r["secret"], bytes(r["body"]), r["attempts"]
        )
        for r in rows
    ]


async def delivered(conn: Executor, delivery_id: str) -> None:
    """Record a successful attempt."""
    await conn.execute(
        """UPDATE deliveries SET status = 'delivered', attempts = attempts + 1,
               delivered_at = now(), last_error = NULL WHERE delivery_id = $1""",
        delivery_id,
    )


async def attempt_failed(
    conn: Executor, delivery_id: str, error: str, retry_in_seconds: float | None
) -> None:
    """Record a failed attempt; retry after `retry_in_seconds`, or give up when None."""
    await conn.execute(
        """UPDATE deliveries SET attempts = attempts + 1, last_error = $2,
               status = CASE WHEN $3::float8 IS NULL THEN 'failed' ELSE 'pending' END,
               next_attempt_at = now() + make_interval(secs => coalesce($3::float8, 0))
           WHERE delivery_id = $1""",
        delivery_id,
        error[:500],
        retry_in_seconds,
    )


async def deliveries_of(conn: Executor, tenant_id: str) -> list[asyncpg.Record]:
    """A tenant's deliveries, newest first (for operators and tests)."""
    return await conn.fetch(
        """SELECT delivery_id, webhook_id, kind, status, attempts, last_error, created_at,
               delivered_at FROM deliveries WHERE tenant_id = $1 ORDER BY created_at DESC""",
        tenant_id,
    )
