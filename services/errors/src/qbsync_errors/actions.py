"""What operators (and the retry job) do to errors; the HTTP API and the page both call this.

Every action runs in one transaction: lock the row, publish, update, audit. If the
broker does not acknowledge, nothing is recorded; if the database fails after the
broker acknowledged, the replay happened without its status change, which is safe
because a stage's failure always comes back under the same record id.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import OperatorAction, OperatorActionType, Stage

from qbsync_errors import storage
from qbsync_errors.keys import ApiKey
from qbsync_errors.models import ErrorFilter, Status
from qbsync_errors.publish import Publisher
from qbsync_errors.storage import Conn, Locked

SYSTEM_ACTOR = "system"
"""Audit `key_id` of what the service does by itself (automatic retries, pauses)."""
BULK_LIMIT = 1000
"""Most errors one bulk resync replays; call again for more."""


class NotFound(LookupError):
    """No such error (or webhook, customer, tenant) for this key: answered as 404."""


class Conflict(ValueError):
    """The action does not apply to this error: answered as 409 with the reason."""


@dataclass
class Actions:
    """Error actions over a pool and a publisher."""

    pool: asyncpg.Pool
    publisher: Publisher

    @asynccontextmanager
    async def _locked(self, key: ApiKey, record_id: str) -> AsyncIterator[tuple[Conn, Locked]]:
        async with self.pool.acquire() as conn, conn.transaction():
            error = await storage.lock_error(conn, key.scope, record_id)
            if error is None:
                raise NotFound(f"no error {record_id}")
            yield conn, error

    async def _audit(
        self, conn: Conn, key: ApiKey, error: Locked, action: str, **detail: Any
    ) -> None:
        await storage.add_audit(
            conn,
            key_id=key.key_id,
            tenant_id=error.tenant_id,
            record_id=error.record_id,
            action=action,
            detail={"category": error.category.value, "stage": error.stage.value, **detail},
        )

    async def resync(self, key: ApiKey, record_id: str) -> None:
        """Replay an error's payload from its failing stage (ERR-3).

        It is resolved until the stage reports the same failure again, which reopens it.
        """
        async with self._locked(key, record_id) as (conn, error):
            await self.publisher.replay([error])
            await storage.mark_resynced(conn, error.record_id, automatic=False)
            await self._audit(conn, key, error, "resync", attempt=error.resyncs + 1)

    async def bulk_resync(
        self, key: ApiKey, flt: ErrorFilter, limit: int = BULK_LIMIT
    ) -> list[str]:
        """Resync every error matching `flt` (open ones when no status is given), up to `limit`."""
        if flt.status is None:
            flt = flt.model_copy(update={"status": Status.OPEN})
        async with self.pool.acquire() as conn, conn.transaction():
            errors = await storage.lock_matching(conn, key.scope, flt, min(limit, BULK_LIMIT))
            await self.publisher.replay(errors)
            for error in errors:
                await storage.mark_resynced(conn, error.record_id, automatic=False)
                await self._audit(
                    conn, key, error, "resync", attempt=error.resyncs + 1, bulk=flt.model_dump()
                )
        return [e.record_id for e in errors]

    async def skip(self, key: ApiKey, record_id: str) -> None:
        """No more retries and no notifications for this error, even if it repeats (ERR-3)."""
        async with self._locked(key, record_id) as (conn, error):
            await storage.set_status(conn, error.record_id, Status.SKIPPED, "skipped")
            await self._audit(conn, key, error, "skip")

    async def delete(self, key: ApiKey, record_id: str) -> None:
        """Delete a Service error: the failing service is forgotten so it is created again.

        Raises:
            Conflict: the error is not a Service error (ERR-3 allows delete for those only).
        """
        async with self._locked(key, record_id) as (conn, error):
            if error.category is not ErrorCategory.SERVICE:
                raise Conflict(
                    f"delete is only for Service errors; this is a {error.category.value} error "
                    "(resync or skip it instead)"
                )
            if error.tenant_id:
                await self.publisher.action(
                    self._action(key, error, OperatorActionType.DELETE_SERVICE)
                )
            await storage.delete_error(conn, error.record_id)
            await self._audit(conn, key, error, "delete", cause_payload_bytes=len(error.payload))

    def _action(
        self,
        key: ApiKey,
        error: Locked,
        action: OperatorActionType,
        qbo_customer_id: str | None = None,
    ) -> OperatorAction:
        assert error.tenant_id is not None
        return OperatorAction(
            action=action,
            tenant_id=error.tenant_id,
            record_id=error.record_id,
            customer_ref=error.customer_ref,
            qbo_customer_id=qbo_customer_id,
            actor=key.key_id,
        )

    @staticmethod
    def _account_check(error: Locked) -> tuple[str, str]:
        if error.category is not ErrorCategory.ACCOUNT:
            raise Conflict(
                f"account actions are only for Account errors; this is a "
                f"{error.category.value} error"
            )
        if not error.tenant_id or not error.customer_ref:
            raise Conflict("this Account error names no tenant and customer_ref to act on")
        return error.tenant_id, error.customer_ref

    async def link_customer(self, key: ApiKey, record_id: str, qbo_customer_id: str) -> None:
        """Use an existing QBO customer for the error's customer, then replay (ERR-4)."""
        await self._resolve_account(
            key, record_id, OperatorActionType.LINK_CUSTOMER, qbo_customer_id
        )

    async def create_customer(self, key: ApiKey, record_id: str) -> None:
        """Create a new QBO customer for the error's customer, then replay (ERR-4)."""
        await self._resolve_account(key, record_id, OperatorActionType.CREATE_CUSTOMER)

    async def _resolve_account(
        self,
        key: ApiKey,
        record_id: str,
        kind: OperatorActionType,
        qbo_customer_id: str | None = None,
    ) -> None:
        async with self._locked(key, record_id) as (conn, error):
            self._account_check(error)
            await self.publisher.action(self._action(key, error, kind, qbo_customer_id))
            if error.stage is Stage.POSTER:
                # Same topic and key as the action, so the poster reads the action first.
                await self.publisher.replay([error])
                await storage.mark_resynced(conn, error.record_id, automatic=False)
            await storage.set_status(conn, error.record_id, Status.RESOLVED, kind.value)
            await self._audit(conn, key, error, kind.value, qbo_customer_id=qbo_customer_id)

    async def stop_syncing(self, key: ApiKey, record_id: str) -> int:
        """Stop syncing the error's customer (CUS-8); return how many open errors were skipped."""
        async with self._locked(key, record_id) as (conn, error):
            tenant, customer = self._account_check(error)
            await self.publisher.action(self._action(key, error, OperatorActionType.STOP_SYNCING))
            skipped = await storage.stop_customer(conn, tenant, customer, key.key_id)
            await self._audit(conn, key, error, "stop_syncing", customer_ref=customer)
            return skipped

    async def resume_syncing(self, key: ApiKey, tenant_id: str, customer_ref: str) -> None:
        """Undo `stop_syncing` (CUS-8 is reversible)."""
        self._check_tenant(key, tenant_id)
        async with self.pool.acquire() as conn, conn.transaction():
            if not await storage.resume_customer(conn, tenant_id, customer_ref):
                raise NotFound(f"customer {customer_ref} is not stopped")
            await self.publisher.action(
                OperatorAction(
                    action=OperatorActionType.RESUME_SYNCING,
                    tenant_id=tenant_id,
                    customer_ref=customer_ref,
                    actor=key.key_id,
                )
            )
            await storage.add_audit(
                conn,
                key_id=key.key_id,
                tenant_id=tenant_id,
                record_id=None,
                action="resume_syncing",
                detail={"customer_ref": customer_ref},
            )

    async def resume_tenant(self, key: ApiKey, tenant_id: str) -> int:
        """Unpause a tenant whose QBO connection is fixed and replay its connection errors.

        Commands that failed while the connection was broken are sent again, oldest
        first, as a resync of each (ERR-3): nothing that failed during the pause is lost.

        Returns:
            How many errors were replayed.
        """
        self._check_tenant(key, tenant_id)
        async with self.pool.acquire() as conn, conn.transaction():
            failed = await storage.resume_tenant(conn, tenant_id)
            if failed is None:
                raise NotFound(f"tenant {tenant_id} is not paused")
            await self.publisher.action(
                OperatorAction(
                    action=OperatorActionType.RESUME_TENANT, tenant_id=tenant_id, actor=key.key_id
                )
            )
            await storage.add_audit(
                conn, key_id=key.key_id, tenant_id=tenant_id, record_id=None, action="resume_tenant"
            )
            await self.publisher.replay(failed)
            for error in failed:
                await self._audit(
                    conn, key, error, "resync", attempt=error.resyncs + 1, on="resume_tenant"
                )
            return len(failed)

    @staticmethod
    def _check_tenant(key: ApiKey, tenant_id: str) -> None:
        if key.scope is not None and key.scope != tenant_id:
            raise NotFound(f"no tenant {tenant_id}")

    async def retry_due(self, limit: int = 100) -> int:
        """Replay retriable errors whose automatic retry is due; return how many."""
        system = ApiKey(SYSTEM_ACTOR, None)
        async with self.pool.acquire() as conn, conn.transaction():
            errors = await storage.lock_due_retries(conn, limit)
            await self.publisher.replay(errors)
            for error in errors:
                await storage.mark_resynced(conn, error.record_id, automatic=True)
                await self._audit(conn, system, error, "auto_retry", attempt=error.resyncs + 1)
        return len(errors)
