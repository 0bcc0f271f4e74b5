"""The background loop: automatic retries, pausing failing tenants, digests, deliveries.

Each step claims its rows with `FOR UPDATE SKIP LOCKED` (or a lease), so several
replicas can run the loop at once without doing the same work twice.
"""

import asyncio
import contextlib

import asyncpg
import structlog
from qbsync_core.records import OperatorAction, OperatorActionType

from qbsync_errors import notify, storage
from qbsync_errors.actions import SYSTEM_ACTOR, Actions
from qbsync_errors.metrics import ErrorsMetrics
from qbsync_errors.settings import ErrorsSettings

log = structlog.get_logger()


async def pause_failing_tenants(actions: Actions, failing_for_seconds: float) -> list[str]:
    """Pause tenants whose QBO connection has failed that long: one action, one notice each."""
    async with actions.pool.acquire() as conn, conn.transaction():
        tenants = await storage.tenants_to_pause(conn, failing_for_seconds)
        for tenant in tenants:
            await actions.publisher.action(
                OperatorAction(
                    action=OperatorActionType.PAUSE_TENANT, tenant_id=tenant, actor=SYSTEM_ACTOR
                )
            )
            await notify.queue_pause_notice(conn, tenant, failing_for_seconds)
            await storage.add_audit(
                conn,
                key_id=SYSTEM_ACTOR,
                tenant_id=tenant,
                record_id=None,
                action="pause_tenant",
                detail={"failing_for_at_least_seconds": failing_for_seconds},
            )
    return tenants


class Jobs:
    """Runs every step once per tick until stopped."""

    def __init__(
        self,
        settings: ErrorsSettings,
        actions: Actions,
        deliverer: notify.Deliverer,
        metrics: ErrorsMetrics,
    ) -> None:
        """Steps over `actions` (pool and publisher) and `deliverer`, timed by `settings`."""
        self._settings = settings
        self._metrics = metrics
        self._actions = actions
        self._deliverer = deliverer
        self._task: asyncio.Task[None] | None = None

    async def tick(self) -> None:
        """One pass of every step."""
        pool: asyncpg.Pool = self._actions.pool
        await self._actions.retry_due()
        await pause_failing_tenants(self._actions, self._settings.auth_pause_after_seconds)
        await notify.build_digests(pool, self._settings.digest_seconds)
        await self._deliverer.deliver_due(pool)
        self._metrics.open_counts(await storage.count_open(pool, None, None))

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception as exc:  # noqa: BLE001 - a failed tick must not stop the loop
                log.warning("errors jobs tick failed; trying again next tick", error=str(exc))
            await asyncio.sleep(self._settings.tick_seconds)

    def start(self) -> None:
        """Start the loop in the background."""
        self._task = asyncio.create_task(self._run(), name="qbsync-errors-jobs")

    async def stop(self) -> None:
        """Stop the loop (waits for a running tick to be cancelled)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
