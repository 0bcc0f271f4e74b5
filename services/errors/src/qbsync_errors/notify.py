"""Notifications (ERR-5): signed webhook digests per tenant, retried with backoff.

Signing follows the common webhook scheme: `qbsync-signature: t=<unix seconds>,
v1=<hex HMAC-SHA256 of "<t>.<body>" under the webhook's secret>`. The timestamp is
signed too, so a receiver can refuse old replays; `qbsync-delivery-id` is stable
across retries, so a receiver can drop a delivery it already handled.
"""

import asyncio
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from functools import partial

import asyncpg
import httpx
import structlog

from qbsync_errors import outbox, storage
from qbsync_errors.models import ErrorFilter, ErrorSummary, Status

DIGEST_KIND = "errors.digest"
PAUSED_KIND = "tenant.paused"
SIGNATURE_HEADER = "qbsync-signature"
log = structlog.get_logger()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `qbsync-signature` header value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, tolerance_seconds: float = 300) -> bool:
    """Whether `header` signs `body` under `secret` within the tolerance (for receivers)."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def _body(delivery_id: str, *, kind: str, tenant_id: str, fields: dict[str, object]) -> bytes:
    document = {
        "kind": kind,
        "delivery_id": delivery_id,
        "tenant_id": tenant_id,
        "generated_at": datetime.now(UTC).isoformat(),
        **fields,
    }
    return json.dumps(document, default=str, separators=(",", ":")).encode()


def _entry(error: ErrorSummary) -> dict[str, object]:
    return error.model_dump(
        mode="json",
        include={"record_id", "category", "stage", "cause", "attempts", "first_seen_at"},
    )


async def build_digests(pool: asyncpg.Pool, every_seconds: float, limit: int = 100) -> int:
    """Queue a digest for each tenant with new open errors and no digest within the period.

    Returns:
        How many deliveries were queued.
    """
    queued = 0
    async with pool.acquire() as conn, conn.transaction():
        await outbox.drop_pending_of_paused(conn)
        for tenant in await outbox.lock_digest_tenants(conn, every_seconds, limit):
            errors, total = await outbox.take_pending(conn, tenant)
            if not total:
                continue
            counts = await storage.count_open(conn, tenant, None)
            fields: dict[str, object] = {
                "new_errors": [_entry(e) for e in errors],
                "new_total": total,
                "open_total": counts.open_total,
                "open_by_category": counts.by_category,
            }
            queued += await outbox.add_deliveries(
                conn,
                tenant,
                DIGEST_KIND,
                partial(_body, kind=DIGEST_KIND, tenant_id=tenant, fields=fields),
            )
    return queued


async def queue_pause_notice(
    conn: storage.Conn, tenant_id: str, failing_since_seconds: float
) -> int:
    """Queue the one notice that a tenant was paused because its QBO connection keeps failing."""
    page = await storage.list_errors(
        conn, tenant_id, ErrorFilter(status=Status.OPEN, text=None), limit=1, offset=0
    )
    return await outbox.add_deliveries(
        conn,
        tenant_id,
        PAUSED_KIND,
        partial(
            _body,
            kind=PAUSED_KIND,
            tenant_id=tenant_id,
            fields={
                "message": (
                    "QuickBooks Online refuses this company's connection; syncing is paused "
                    "until it is reconnected and the tenant is resumed."
                ),
                "failing_for_at_least_seconds": failing_since_seconds,
                "open_total": page.total,
            },
        ),
    )


class Deliverer:
    """Sends due deliveries over one HTTP client, with exponential backoff on failure."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        timeout_seconds: float,
        retry_base_seconds: float,
        max_attempts: int,
    ) -> None:
        """Deliver with `client`; retry after base, 2x base, 4x base... up to `max_attempts`."""
        self._client = client
        self._timeout = timeout_seconds
        self._base = retry_base_seconds
        self._max_attempts = max_attempts

    async def deliver_due(self, pool: asyncpg.Pool, limit: int = 50) -> int:
        """Attempt every due delivery once, concurrently; return how many succeeded."""
        due = await outbox.lease_due(pool, limit, lease_seconds=self._timeout + 5)
        results = await asyncio.gather(*(self._attempt(pool, d) for d in due))
        return sum(results)

    async def _attempt(self, pool: asyncpg.Pool, due: outbox.Due) -> bool:
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": "qbsync-errors",
            SIGNATURE_HEADER: sign(due.secret, timestamp, due.body),
            "qbsync-delivery-id": due.delivery_id,
        }
        try:
            response = await self._client.post(
                due.url, content=due.body, headers=headers, timeout=self._timeout
            )
            problem = None if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            await outbox.delivered(pool, due.delivery_id)
            return True
        attempts = due.attempts + 1
        retry_in = self._base * 2 ** (attempts - 1) if attempts < self._max_attempts else None
        log.warning(
            "webhook delivery failed",
            delivery_id=due.delivery_id,
            tenant_id=due.tenant_id,
            attempts=attempts,
            error=problem,
            retry_in=retry_in,
        )
        await outbox.attempt_failed(pool, due.delivery_id, problem, retry_in)
        return False
