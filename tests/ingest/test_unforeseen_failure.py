"""A failure no rule foresaw keeps the whole batch as retriable error records, never loses it."""

import json
from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from qbsync_core.db import create_pool, migrate
from qbsync_core.records import ErrorRecord
from qbsync_ingest.app import MIGRATIONS, SCHEMA
from qbsync_ingest.intake import Status, Submitted, intake
from qbsync_ingest.rules import Valid

from tests.fixtures.events import make_invoice_issued

pytestmark = [pytest.mark.postgres]


class BrokenForwarder:
    def __init__(self) -> None:
        self.records: list[ErrorRecord] = []

    async def accepted(self, events: Sequence[Valid]) -> None:
        raise ValueError("a bug in forwarding")

    async def errors(self, records: Sequence[ErrorRecord]) -> None:
        self.records.extend(records)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url, SCHEMA, MIGRATIONS)
    pool = await create_pool(database_url, SCHEMA, max_size=1)
    yield pool
    await pool.close()


async def test_unexpected_exception_turns_the_batch_into_error_records(
    pool: asyncpg.Pool, tenant: str
) -> None:
    raws = [json.dumps(make_invoice_issued(tenant_id=tenant)).encode() for _ in range(3)]
    forwarder = BrokenForwarder()
    outcomes = await intake(pool, forwarder, [Submitted(r) for r in raws], path="kafka")
    assert [o.status for o in outcomes] == [Status.REJECTED] * 3
    assert [r.payload for r in forwarder.records] == raws
    assert all(r.retriable and r.tenant_id == tenant for r in forwarder.records)
    assert "a bug in forwarding" in forwarder.records[0].cause
    seen = await pool.fetchval("SELECT count(*) FROM seen_events WHERE tenant_id = $1", tenant)
    assert seen == 0, "nothing is marked seen, so a resync takes the events in"
