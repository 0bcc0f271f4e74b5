"""A bug while mapping never loses a batch: its events become retriable error records.

FastStream commits offsets even when a handler raises (AckPolicy.ACK), so the mapper
follows ingest (tests/ingest/test_unforeseen_failure.py): what no rule foresaw is kept
as a Mapping error record with the exact bytes (ERR-1, ERR-3: resync maps it again),
and the batch's other tenants are mapped as usual. Not a Service error: that category
means a QBO item, whose Delete action would drop the only copy of the event.
"""

import json
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest
from faststream.exceptions import NackMessage
from qbsync_core.commands import PostingCommand
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import ErrorRecord, Stage
from qbsync_mapper import handlers, mapping, rules
from qbsync_mapper.mapping import Accepted, map_batch
from qbsync_mapper.resources import Resources
from qbsync_mapper.settings import MapperSettings

from tests.fixtures.events import make_invoice_issued, make_payment_received
from tests.mapper.test_handlers import FakeRecord
from tests.mapper.test_mapping_real import TRACER, MemoryPublisher, configure, items, pool

pytestmark = [pytest.mark.postgres]
__all__ = ["pool"]


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


async def processed(pool: asyncpg.Pool, tenant: str) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM processed_events WHERE tenant_id = $1", tenant
    )
    return count


def resyncs(records: Sequence[ErrorRecord]) -> list[Accepted]:
    """What the errors service replays to qbsync.accepted.v1 (ERR-3)."""
    return [Accepted(r.payload, resync=f"{r.record_id}:1") for r in records]


async def test_a_bug_in_one_tenant_keeps_its_events_as_retriable_errors_ERR_1_ERR_3(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken, healthy = new_tenant(), new_tenant()
    await configure(pool, broken)
    await configure(pool, healthy)
    real = rules.map_event

    def map_event(event: Any, *args: Any, **kwargs: Any) -> Any:
        if event.tenant_id == broken:
            raise ZeroDivisionError("a bug in a rule")
        return real(event, *args, **kwargs)

    monkeypatch.setattr(mapping, "map_event", map_event)
    batch = items(broken, make_invoice_issued(), make_payment_received()) + items(
        healthy, make_invoice_issued()
    )
    publisher = MemoryPublisher()
    await map_batch(pool, publisher, TRACER, batch)

    assert [(c.tenant_id, c.entity) for c in publisher.commands] == [(healthy, "Invoice")]
    assert [r.payload for r in publisher.errors] == [i.raw for i in batch[:2]]
    for record in publisher.errors:
        assert (record.tenant_id, record.stage) == (broken, Stage.MAPPER)
        assert record.category is ErrorCategory.MAPPING
        assert record.retriable
        assert record.event_id is not None
        assert "a bug in a rule" in record.reasons[0].message
    assert await processed(pool, broken) == 0, "nothing is marked processed for the bug's tenant"
    assert await processed(pool, healthy) == 1

    monkeypatch.setattr(mapping, "map_event", real)  # the bug is fixed
    fixed = MemoryPublisher()
    await map_batch(pool, fixed, TRACER, resyncs(publisher.errors))
    assert [(c.tenant_id, c.entity) for c in fixed.commands] == [
        (broken, "Invoice"),
        (broken, "Payment"),
    ]
    assert fixed.errors == []


class PublishBug(MemoryPublisher):
    """Fails with a bug (not a broker failure) when asked to publish commands."""

    async def publish(
        self, commands: Sequence[PostingCommand], errors: Sequence[ErrorRecord]
    ) -> None:
        if commands:
            raise TypeError("a bug while publishing")
        await super().publish(commands, errors)


async def test_a_bug_outside_the_rules_keeps_the_whole_batch_as_errors(
    pool: asyncpg.Pool,
) -> None:
    tenant = new_tenant()
    await configure(pool, tenant)
    batch = [*items(tenant, make_invoice_issued()), Accepted(b"{not json")]
    publisher = PublishBug()
    await map_batch(pool, publisher, TRACER, batch)
    assert publisher.commands == []
    assert sorted(r.category for r in publisher.errors) == [
        ErrorCategory.MAPPING,
        ErrorCategory.VALIDATION,
    ]
    kept = next(r for r in publisher.errors if r.category is ErrorCategory.MAPPING)
    assert (kept.payload, kept.retriable) == (batch[0].raw, True)
    assert await processed(pool, tenant) == 0


async def test_the_handler_nacks_if_even_the_error_records_fail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handlers, "RETRY_PAUSE_SECONDS", 0)

    async def map_batch(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug that even the safety net did not catch")

    monkeypatch.setattr(handlers, "map_batch", map_batch)
    settings = MapperSettings(
        kafka_bootstrap_servers="localhost:9", database_url="postgresql://x/y"
    )
    resources = Resources(settings=settings, tracer=TRACER)
    resources.pool, resources.publisher = object(), MemoryPublisher()  # type: ignore[assignment]
    with pytest.raises(NackMessage):
        await handlers.handle_records(resources, [FakeRecord(json.dumps({}).encode())])
