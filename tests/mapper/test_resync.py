"""Resync (ERR-3) on the real database: a replay maps again what failed, and only that.

The errors service replays a failed event with `qbsync-resync-of`; the mapper maps it
past its processed-event check (`Accepted.resync`). A replay must do the work the
failure left undone (a payment that failed after its hold was released, PAY-3) and
must never do twice what already succeeded (a ledger posting, JRN-2, JRN-4).
"""

import uuid
from decimal import Decimal

import asyncpg
import pytest
from qbsync_core.commands import Entity
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import ErrorRecord
from qbsync_mapper.mapping import Accepted, map_batch
from qbsync_mapper.rules.state import DocKind, DocState, DocStatus, TenantState

from tests.fixtures.events import (
    make_customer,
    make_envelope,
    make_invoice_issued,
    make_payment_received,
)
from tests.mapper.helpers import run
from tests.mapper.test_journal import JOURNAL, ledger
from tests.mapper.test_mapping_real import TRACER, MemoryPublisher, configure, items, pool

pytestmark = [pytest.mark.postgres]
__all__ = ["pool"]


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def replay(record: ErrorRecord, attempt: int) -> Accepted:
    """What the errors service sends back to qbsync.accepted.v1 for a resync."""
    return Accepted(record.payload, resync=f"{record.record_id}:{attempt}")


class TestReleasedPaymentThatFailed:
    async def test_resync_maps_the_payment_again_instead_of_taking_it_for_held_PAY_3_ERR_3(
        self, pool: asyncpg.Pool
    ) -> None:
        tenant = new_tenant()
        await configure(pool, tenant)
        euro = make_customer(currency="EUR")
        payment = make_payment_received(
            data={"currency": "EUR", "exchange_rate": "1.08", "customer": euro}
        )
        publisher = MemoryPublisher()
        held = await map_batch(pool, publisher, TRACER, items(tenant, payment))
        assert (held.held, publisher.errors) == (1, [])
        # The USD invoice releases the EUR payment, which fails (PAY-2) after the release.
        await map_batch(pool, publisher, TRACER, items(tenant, make_invoice_issued()))
        assert [c.entity for c in publisher.commands] == [Entity.INVOICE]
        (failure,) = publisher.errors
        assert failure.category is ErrorCategory.PAYMENT

        again = MemoryPublisher()
        summary = await map_batch(pool, again, TRACER, [replay(failure, 1)])
        assert summary.outcomes == {"failed": 1}, "the replay is mapped, not taken for held"
        assert [e.record_id for e in again.errors] == [failure.record_id]  # stays listed

    def test_a_released_payment_whose_cause_was_fixed_is_posted_on_resync_PAY_3(self) -> None:
        # The state a failed release leaves: the payment still marked held, its hold
        # gone, its invoice issued. The replay (not `released`) must post it.
        r = run()
        r.state = TenantState()
        r.state.put(
            DocState(
                kind=DocKind.INVOICE,
                ref="folio-1001",
                status=DocStatus.ISSUED,
                currency="USD",
                total=Decimal("291.50"),
                number="1001",
            )
        )
        r.state.put(
            DocState(
                kind=DocKind.PAYMENT,
                ref="pay-77",
                status=DocStatus.HELD,
                currency="USD",
                total=Decimal("291.50"),
                invoice_ref="folio-1001",
            )
        )
        (payment,) = r.commands(make_payment_received())
        assert (payment.entity, payment.upstream_ref) == (
            Entity.PAYMENT,
            "payment:hotel-lisboa:pay-77",
        )
        assert r.state.get(DocKind.PAYMENT, "pay-77").status is DocStatus.ISSUED  # type: ignore[union-attr]

    def test_a_payment_still_waiting_for_its_invoice_stays_held_on_redelivery_PAY_3(self) -> None:
        r = run()
        (first,) = r.map(make_payment_received())
        (second,) = r.map(make_payment_received())
        assert (first.outcome, second.outcome) == ("held:awaiting_invoice", "skipped:payment-held")


class TestLedgerResync:
    async def test_resyncing_a_resolved_ledger_error_twice_folds_it_in_once_JRN_2_JRN_4(
        self, pool: asyncpg.Pool
    ) -> None:
        tenant = new_tenant()
        await configure(pool, tenant)  # no journal section yet: a Mapping error
        publisher = MemoryPublisher()
        await map_batch(pool, publisher, TRACER, items(tenant, ledger("revenue", "100.00")))
        (failure,) = publisher.errors
        assert failure.category is ErrorCategory.MAPPING
        await configure(pool, tenant, journal=JOURNAL)

        first = await map_batch(pool, publisher, TRACER, [replay(failure, 1)])
        second = await map_batch(pool, publisher, TRACER, [replay(failure, 2)])
        both = await map_batch(pool, publisher, TRACER, [replay(failure, 3), replay(failure, 4)])
        assert first.outcomes == {"journal": 1}
        assert second.outcomes == {"skipped": 1}
        assert both.outcomes == {"skipped": 2}
        lines = await pool.fetchval(
            "SELECT count(*) FROM journal_lines WHERE tenant_id = $1", tenant
        )
        balance = await pool.fetchval(
            "SELECT balance FROM reservations WHERE tenant_id = $1 AND ref = 'res-1'", tenant
        )
        assert (lines, balance) == (1, Decimal("100.00"))

    async def test_an_opening_balance_resynced_twice_is_applied_once_JRN_5(
        self, pool: asyncpg.Pool
    ) -> None:
        tenant = new_tenant()
        await configure(pool, tenant)
        opening = make_envelope(
            "ledger.opening_balance",
            {
                "reservation_ref": "res-9",
                "balance": "-50.00",
                "currency": "USD",
                "as_of": "2026-11-01",
            },
            source="cloudbeds",
        )
        publisher = MemoryPublisher()
        await map_batch(pool, publisher, TRACER, items(tenant, opening))
        (failure,) = publisher.errors
        await configure(pool, tenant, journal=JOURNAL)
        await map_batch(pool, publisher, TRACER, [replay(failure, 1)])
        again = MemoryPublisher()
        summary = await map_batch(pool, again, TRACER, [replay(failure, 2)])
        assert (summary.outcomes, again.errors) == ({"skipped": 1}, [])
