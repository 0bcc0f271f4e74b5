"""`map_batch` against the real database with an in-memory publisher: atomicity, redelivery."""

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from opentelemetry.sdk.trace import TracerProvider
from qbsync_core.commands import PostingCommand
from qbsync_core.db import create_pool, migrate
from qbsync_core.errors import InfrastructureFailure
from qbsync_core.records import ErrorRecord
from qbsync_mapper import storage
from qbsync_mapper.admin import Applied, apply_settings
from qbsync_mapper.mapping import Accepted, map_batch, release_tenant
from qbsync_mapper.migrations_path import MIGRATIONS, SCHEMA
from qbsync_mapper.rules.state import HeldEvent, HoldReason

from tests.fixtures.events import make_envelope, make_invoice_issued, make_payment_received
from tests.mapper.helpers import settings_document

pytestmark = [pytest.mark.postgres]
TRACER = TracerProvider().get_tracer("test")


class MemoryPublisher:
    def __init__(self) -> None:
        self.commands: list[PostingCommand] = []
        self.errors: list[ErrorRecord] = []
        self.fail = False

    async def publish(
        self, commands: Sequence[PostingCommand], errors: Sequence[ErrorRecord]
    ) -> None:
        if self.fail:
            raise KafkaConnectionError("broker down")
        self.commands.extend(commands)
        self.errors.extend(errors)


@pytest.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url, SCHEMA, MIGRATIONS)
    pool = await create_pool(database_url, SCHEMA, max_size=2)
    yield pool
    await pool.close()


def items(tenant: str, *payloads: dict[str, Any]) -> list[Accepted]:
    return [Accepted(json.dumps({**p, "tenant_id": tenant}).encode()) for p in payloads]


async def configure(pool: asyncpg.Pool, tenant: str, **overrides: Any) -> None:
    applied = await apply_settings(
        pool, json.dumps(settings_document(tenant_id=tenant, **overrides))
    )
    assert isinstance(applied, Applied)


class TestMapBatch:
    async def test_broker_failure_rolls_everything_back_and_the_retry_gives_the_same_commands(
        self, pool: asyncpg.Pool
    ) -> None:
        tenant = f"t-{uuid.uuid4().hex[:10]}"
        await configure(pool, tenant)
        batch = items(tenant, make_payment_received(), make_invoice_issued())
        publisher = MemoryPublisher()
        publisher.fail = True
        with pytest.raises(InfrastructureFailure):
            await map_batch(pool, publisher, TRACER, batch)
        publisher.fail = False
        first = await map_batch(pool, publisher, TRACER, batch)
        assert (first.commands, first.duplicates) == (2, 0)
        again = await map_batch(pool, publisher, TRACER, batch)
        assert (again.commands, again.duplicates) == (0, 2)
        assert [c.entity for c in publisher.commands] == ["Invoice", "Payment"]

    async def test_state_survives_between_batches_DOC_2_DOC_7(self, pool: asyncpg.Pool) -> None:
        tenant = f"t-{uuid.uuid4().hex[:10]}"
        await configure(pool, tenant)
        publisher = MemoryPublisher()
        for payload in (
            make_invoice_issued(),
            make_payment_received(),
            make_invoice_issued(type="invoice.updated"),
            make_envelope("invoice.voided", {"ref": "folio-1001"}),
        ):
            await map_batch(pool, publisher, TRACER, items(tenant, payload))
        assert [(c.operation, c.entity) for c in publisher.commands] == [
            ("create", "Invoice"),
            ("create", "Payment"),
            ("update", "Invoice"),
            ("void", "Payment"),
            ("void", "Invoice"),
        ]

    async def test_tenant_without_settings_is_held_then_released_by_release_tenant(
        self, pool: asyncpg.Pool
    ) -> None:
        tenant = f"t-{uuid.uuid4().hex[:10]}"
        publisher = MemoryPublisher()
        summary = await map_batch(pool, publisher, TRACER, items(tenant, make_invoice_issued()))
        assert (summary.held, publisher.commands, publisher.errors) == (1, [], [])
        await configure(pool, tenant)
        released = await release_tenant(pool, publisher, TRACER, tenant)
        assert released.commands == 1
        assert (await release_tenant(pool, publisher, TRACER, tenant)).commands == 0

    async def test_events_part_1_held_as_unsupported_are_mapped_first_PAY_7(
        self, pool: asyncpg.Pool
    ) -> None:
        tenant = f"t-{uuid.uuid4().hex[:10]}"
        await configure(pool, tenant)
        fee = {
            **make_envelope(
                "fee.charged",
                {
                    "ref": "fee-1",
                    "currency": "USD",
                    "amount": "2.90",
                    "processor": "stripe",
                    "charged_at": "2026-11-21T00:00:00Z",
                },
            ),
            "tenant_id": tenant,
        }
        raw = json.dumps(fee).encode()
        async with pool.acquire() as conn:
            # What part 1 left behind: a fee held with reason `unsupported`.
            await storage.hold_events(
                conn,
                tenant,
                [HeldEvent(HoldReason.UNSUPPORTED, fee["type"], "s", fee["event_id"], raw)],
            )
        assert tenant in await storage.tenants_to_release(pool)
        publisher = MemoryPublisher()
        summary = await release_tenant(pool, publisher, TRACER, tenant)
        assert (summary.commands, publisher.errors) == (1, [])
        assert (publisher.commands[0].entity, publisher.commands[0].upstream_ref) == (
            "Purchase",
            f"fee:{tenant}:fee-1",
        )
        assert tenant not in await storage.tenants_to_release(pool)

    async def test_unreadable_event_becomes_a_validation_error_record(
        self, pool: asyncpg.Pool
    ) -> None:
        publisher = MemoryPublisher()
        summary = await map_batch(pool, publisher, TRACER, [Accepted(b"{not json")])
        assert summary.errors == 1
        (error,) = publisher.errors
        assert (error.stage, error.category, error.payload) == (
            "mapper",
            "Validation",
            b"{not json",
        )


class TestResync:
    async def test_resync_after_the_missing_mapping_is_added_maps_the_event_again_ERR_3_SET_4(
        self, pool: asyncpg.Pool
    ) -> None:
        tenant = f"t-{uuid.uuid4().hex[:10]}"
        await configure(pool, tenant)
        refund = make_envelope(
            "payment.refunded",
            {
                "ref": "refund-1",
                "currency": "GBP",
                "exchange_rate": "1.17",
                "amount": "20.00",
                "method": "card",
                "refunded_at": "2026-11-20T10:00:00+00:00",
            },
            tenant_id=tenant,
        )
        raw = json.dumps(refund).encode()
        publisher = MemoryPublisher()
        await map_batch(pool, publisher, TRACER, [Accepted(raw)])
        [error] = publisher.errors
        assert error.category == "Mapping"
        await configure(pool, tenant, refund_accounts={"USD": "90", "EUR": "91", "GBP": "93"})
        redelivered = await map_batch(pool, publisher, TRACER, [Accepted(raw)])
        assert (redelivered.commands, redelivered.duplicates) == (0, 1)
        resync = Accepted(raw, resync=f"{error.record_id}:1")
        resynced = await map_batch(pool, publisher, TRACER, [resync])
        assert resynced.commands == 1
        assert publisher.commands[-1].entity == "Purchase"
        replayed = await map_batch(pool, publisher, TRACER, [resync])
        assert (replayed.commands, replayed.duplicates) == (0, 1)
