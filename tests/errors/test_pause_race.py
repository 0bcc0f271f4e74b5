"""Pausing and resuming a tenant at the same time, on the real database.

A tenant is paused when its QBO connection has failed longer than the set period;
resuming resyncs its connection errors. The pause tick of one replica and an
operator's resume may run at once: whichever takes the tenant first, the other must
see its result, never act on a stale read (a resumed tenant paused again at once,
or paused twice). Each race is made deterministic: one side holds its transaction
open, the test waits until the other side is blocked on the database lock, then
commits.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import asyncpg
import pytest
from qbsync_core.db import create_pool, migrate
from qbsync_errors import storage
from qbsync_errors.app import MIGRATIONS, SCHEMA

pytestmark = [pytest.mark.postgres]
T = TypeVar("T")

FAILING_FOR = -7200.0
"""The set period for these tests. Their connection errors are opened an hour in the
future, so only a negative period (two hours) pauses them: the session's errors app,
whose jobs pause after one second on the same database, never touches these tenants."""


@pytest.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url, SCHEMA, MIGRATIONS)
    pool = await create_pool(database_url, SCHEMA, max_size=4)
    yield pool
    await pool.close()


async def failing_tenant(pool: asyncpg.Pool) -> str:
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    await pool.execute(
        """
        INSERT INTO errors (record_id, tenant_id, category, stage, cause, payload,
                            connection_failure, first_occurred_at, last_occurred_at, opened_at)
        VALUES ($1, $2, 'Account', 'poster', 'AuthenticationFailed (3200)', ''::bytea,
                true, now(), now(), now() + interval '1 hour')
        """,
        uuid.uuid4().hex,
        tenant,
    )
    return tenant


async def pause(conn: storage.Conn) -> list[str]:
    async with conn.transaction():
        return await storage.tenants_to_pause(conn, FAILING_FOR)


async def resume(conn: storage.Conn, tenant: str) -> bool:
    async with conn.transaction():
        return await storage.resume_tenant(conn, tenant) is not None


async def blocked_or_done(pool: asyncpg.Pool, pid: int, task: "asyncio.Task[Any]") -> None:
    """Return once backend `pid` waits for a lock, or its task finished without waiting."""
    query = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1"
    for _ in range(2000):
        if task.done() or await pool.fetchval(query, pid) == "Lock":
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"backend {pid} neither finished nor waited for a lock")


async def while_held(
    pool: asyncpg.Pool,
    first: Callable[[storage.Conn], Awaitable[object]],
    second: Callable[[storage.Conn], Coroutine[Any, Any, T]],
) -> T:
    """Run `first` in an open transaction, start `second`; once it blocks (or ends), commit."""
    async with pool.acquire() as holder, pool.acquire() as waiter:
        transaction = holder.transaction()
        await transaction.start()
        try:
            await first(holder)
            task = asyncio.create_task(second(waiter))
            await blocked_or_done(pool, waiter.get_server_pid(), task)
        finally:
            await transaction.commit()
        return await task


async def test_a_pause_waiting_on_a_resume_sees_the_resolved_errors_and_does_not_pause(
    pool: asyncpg.Pool,
) -> None:
    tenant = await failing_tenant(pool)
    async with pool.acquire() as conn:
        assert tenant in await pause(conn)
        paused_again = await while_held(
            pool, lambda c: storage.resume_tenant(c, tenant), lambda c: pause(c)
        )
    assert tenant not in paused_again, "a stale read paused the tenant just resumed"
    assert await storage.paused_since(pool, tenant) is None
    row = await pool.fetchrow("SELECT status, resolution FROM errors WHERE tenant_id = $1", tenant)
    assert row is not None
    assert (row["status"], row["resolution"]) == ("resolved", "resynced")


async def test_a_resume_waiting_on_a_pause_resumes_it(pool: asyncpg.Pool) -> None:
    tenant = await failing_tenant(pool)

    async def pause_it(conn: storage.Conn) -> None:
        assert tenant in await storage.tenants_to_pause(conn, FAILING_FOR)

    resumed = await while_held(pool, pause_it, lambda c: resume(c, tenant))
    assert resumed
    assert await storage.paused_since(pool, tenant) is None


async def test_two_ticks_at_once_pause_a_tenant_once(pool: asyncpg.Pool) -> None:
    tenant = await failing_tenant(pool)

    async def pause_it(conn: storage.Conn) -> None:
        assert tenant in await storage.tenants_to_pause(conn, FAILING_FOR)

    second = await while_held(pool, pause_it, lambda c: pause(c))
    assert tenant not in second
    assert await storage.paused_since(pool, tenant) is not None
