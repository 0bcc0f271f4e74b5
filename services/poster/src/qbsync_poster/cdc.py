"""Back-sync from QBO's Change Data Capture (SET-7): the path that needs no webhook.

Every `interval_s`, for each active connection whose tenant opted in to back-sync
(SET-7; off by default, SET-6), ask `/cdc` for Payments changed since
the realm's cursor and back-sync those that link invoices of the ledger (backsync.py),
each QBO payment once. The cursor moves to the poll's start minus an overlap, so a
payment committed in QBO while a poll ran is seen by the next one; seeing it twice is
harmless (claimed once). A realm polled for the first time starts from its connection
moment; a cursor older than CDC's 30-day window is clamped (the gap is logged).
"""

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog
from qbsync_qbo import QboAuthError, QboEntity, QboError

from qbsync_poster import storage
from qbsync_poster.backsync import payment_record, publish_once
from qbsync_poster.connections import Connections, NotConnected
from qbsync_poster.publishing import Publisher

log = structlog.get_logger()
OVERLAP = timedelta(minutes=1)
"""Asked again each poll: QBO timestamps are to the second and commits are not instant."""
CDC_WINDOW = timedelta(days=30) - timedelta(hours=1)
"""QBO's CDC looks at most 30 days back (an hour of margin for clocks)."""
PAGE = 1000
"""QBO answers at most this many objects per entity; a full page is polled again."""


class CdcPoller:
    """Polls CDC for payments of every connected realm.

    Args:
        pool: The poster's pool.
        connections: Clients per realm.
        publisher: Where back-sync records go.
        interval_s: Pause between polls of all realms.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        connections: Connections,
        publisher: Publisher,
        interval_s: float,
    ) -> None:
        self._pool = pool
        self._connections = connections
        self._publisher = publisher
        self._interval = interval_s

    async def run(self) -> None:
        """Poll forever; one realm's failure is logged and retried on the next round."""
        while True:
            try:
                await self.poll_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("cdc poll failed; next round retries", error=str(exc))
            except Exception:
                # A bug must not end the loop for good: back-sync would stop silently.
                log.exception("cdc poll failed unexpectedly; next round retries")
            await asyncio.sleep(self._interval)

    async def poll_once(self) -> int:
        """Poll every opted-in connection once; returns how many records were published."""
        published = 0
        for conn in await storage.backsync_connections(self._pool):
            published += await self.poll_guarded(conn.tenant_id, conn.realm_id)
        return published

    async def poll_guarded(self, tenant_id: str, realm_id: str) -> int:
        """`poll_realm`, with the realm's own failures logged rather than raised."""
        try:
            return await self.poll_realm(tenant_id, realm_id)
        except QboAuthError as exc:
            # Refused tokens (after the client's refreshes): the connection is revoked,
            # as on the posting path, not tried again with every round (ERR-2).
            log.warning("cdc poll: the realm's tokens were refused", realm=realm_id)
            await self._connections.revoked(realm_id, str(exc))
        except (QboError, NotConnected) as exc:
            log.warning("cdc poll of a realm failed", realm=realm_id, error=str(exc))
        return 0

    async def poll_realm(self, tenant_id: str, realm_id: str) -> int:
        """Back-sync one realm's payments changed since its cursor."""
        client = await self._connections.client_for(tenant_id, realm_id)
        published = 0
        while True:
            started = datetime.now(UTC)
            since = await storage.cdc_cursor(self._pool, realm_id)
            if since is None:
                stored = await storage.connection_for_tenant(self._pool, tenant_id)
                since = ((stored.connected_at if stored else None) or started) - OVERLAP
            oldest = started - CDC_WINDOW
            if since < oldest:
                log.warning("cdc cursor older than 30 days; changes skipped", realm=realm_id)
                since = oldest
            # QBO's LastUpdatedTime has whole seconds: never ask from inside a second.
            asked = since.replace(microsecond=0)
            changed = (await client.cdc(["Payment"], asked)).get("Payment", [])
            records = []
            for payment in changed:
                if payment.get("status") == "Deleted":
                    continue
                record = await payment_record(self._pool, tenant_id, realm_id, payment, "Create")
                if record is not None:
                    records.append(record)
            full = len(changed) >= PAGE
            # A full page: continue from its newest change (the rest comes next round).
            cursor = _newest(changed) if full else max(since, started - OVERLAP)
            published += await publish_once(
                self._pool, self._publisher, realm_id, tenant_id, records, "cdc", cursor=cursor
            )
            if not full or cursor <= since:
                return published


def _newest(changed: list[QboEntity]) -> datetime:
    stamps = []
    for entity in changed:
        meta = entity.get("MetaData") or {}
        text = meta.get("LastUpdatedTime") if isinstance(meta, dict) else None
        if isinstance(text, str):
            stamps.append(datetime.fromisoformat(text))
    return max(stamps) if stamps else datetime.now(UTC)
