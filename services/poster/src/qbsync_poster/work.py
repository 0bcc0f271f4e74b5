"""The state one consumed batch is executed against: ledger view, client, locks.

The batch's ledger rows are loaded once; execution reads and changes them in memory,
and the dispatcher writes the changed rows and the done command ids in one transaction
before the batch's Kafka offsets are committed.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from qbsync_qbo import QboClient, QboEntity, QueryPage, Select

from qbsync_poster.coalescer import QueryCoalescer, WriteCoalescer
from qbsync_poster.storage import DoneCommand, LedgerRow
from qbsync_poster.symbols import Symbols

Key = tuple[str, str]


class BatchLedger:
    """In-memory view of the ledger rows a batch touches.

    Args:
        rows: The rows as loaded before the batch marked anything pending.
        done: Command ids already done, with the QBO id they produced.
    """

    def __init__(self, rows: Iterable[LedgerRow], done: dict[str, str | None]) -> None:
        self._rows = {(r.tenant_id, r.upstream_ref): r for r in rows}
        # Rows left pending by an earlier attempt: that write's outcome is unknown, so
        # the entity is looked up in QBO before it is created again.
        self.unknown: set[Key] = {
            k for k, r in self._rows.items() if r.state == "pending" and r.qbo_id is None
        }
        self.done = done
        self.dirty: set[Key] = set()
        self.finished: list[DoneCommand] = []

    def get(self, tenant_id: str, upstream_ref: str) -> LedgerRow | None:
        """The row of an upstream ref, if any."""
        return self._rows.get((tenant_id, upstream_ref))

    def put(self, row: LedgerRow) -> None:
        """Add or replace a row (written at the end of the batch)."""
        key = (row.tenant_id, row.upstream_ref)
        self._rows[key] = row
        self.dirty.add(key)
        self.unknown.discard(key)

    def finish(
        self, tenant_id: str, command_id: str, upstream_ref: str, operation: str, qbo_id: str | None
    ) -> None:
        """Record a command as done."""
        self.done[command_id] = qbo_id
        self.finished.append(DoneCommand(command_id, tenant_id, upstream_ref, operation, qbo_id))

    def changed_rows(self) -> list[LedgerRow]:
        """Rows changed during the batch."""
        return [self._rows[k] for k in sorted(self.dirty)]


class TenantLocks:
    """One lock per tenant in this process.

    A tenant is keyed to one partition, so its batches are normally handled by one
    consumer at a time; during a rebalance a partition's new owner could start before
    the old one has finished. Holding the tenant's lock from ledger load to saved
    outcomes keeps the two apart.
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    @asynccontextmanager
    async def holding(self, tenants: Iterable[str]) -> AsyncIterator[None]:
        """Hold the locks of `tenants` (taken in sorted order: no deadlock)."""
        async with AsyncExitStack() as stack:
            for tenant in sorted(set(tenants)):
                await stack.enter_async_context(self._locks.setdefault(tenant, asyncio.Lock()))
            yield


@dataclass
class Work:
    """What executing one tenant's commands needs."""

    pool: asyncpg.Pool
    client: QboClient
    ledger: BatchLedger
    tenant_id: str
    realm_id: str
    on_auth_failure: Callable[[str], Awaitable[None]]
    coalescer: WriteCoalescer | None = None
    queries: QueryCoalescer | None = None
    items: dict[str, str] = field(default_factory=dict)
    symbols: Mapping[str, Symbols] = field(default_factory=dict)
    """The refs and item names of each command of the batch, by command id (found once)."""
    items_not_cached: frozenset[str] = frozenset()
    """Item names this batch already found missing from the name cache (ask QBO at once)."""
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _item_lookups: dict[str, asyncio.Future[str]] = field(default_factory=dict)

    async def create(self, entity_type: str, body: dict[str, Any], requestid: str) -> QboEntity:
        """Create a document: through the realm's coalescer (batched) when there is one."""
        if self.coalescer is not None:
            return await self.coalescer.create(entity_type, body, requestid)
        return await self.client.create(entity_type, body, requestid)

    async def query(self, statement: str | Select) -> QueryPage:
        """A look-up: with others of the moment in one `/batch` when batching is on."""
        if self.queries is not None:
            return await self.queries.query(statement)
        return await self.client.query(statement)

    def item_lookup(
        self, name: str, look_up: Callable[[], Coroutine[Any, Any, str]]
    ) -> asyncio.Future[str]:
        """The look-up of item `name` under way, or a new one started with `look_up`.

        Every chain of a realm's first batch needs the same items at the same moment: one
        task per name, not one per chain waiting on the name's lock. It is shared only
        while it runs: a chain that asks later reads `items`, or asks QBO again after a
        failure (a timeout must not fail the rest of the batch's chains).
        """
        future = self._item_lookups.get(name)
        if future is None:
            future = self._item_lookups[name] = asyncio.ensure_future(look_up())
            future.add_done_callback(lambda _: self._item_lookups.pop(name, None))
        return future

    async def cancel_lookups(self) -> None:
        """Stop look-ups no chain waits for any more (their chains were cancelled)."""
        running = list(self._item_lookups.values())
        for future in running:
            future.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def lock(self, name: str) -> asyncio.Lock:
        """A lock per name (customer or item), so concurrent documents create it once."""
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        return lock
