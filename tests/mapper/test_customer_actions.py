"""CUS-8 from the errors service: stop syncing a customer, and resume.

The errors service publishes `stop_syncing` / `resume_syncing` operator actions on
qbsync.commands.v1; the mapper consumes them (its own group), holds the customer's
later documents as not synced (not posted, not errors) and maps them on resume. The
broker test is in test_service_real.py, beside the session's mapper app (an app
started earlier in the session would export test_exports_real's tenants itself).
"""

import uuid
from typing import Any

import asyncpg
import pytest
from qbsync_core.commands import Entity
from qbsync_core.records import OperatorAction, OperatorActionType
from qbsync_mapper.mapping import apply_customer_action, map_batch
from qbsync_mapper.rules.customers import upstream_customer_ref

from tests.fixtures.events import make_invoice_issued
from tests.mapper.test_mapping_real import TRACER, MemoryPublisher, configure, items, pool

__all__ = ["pool"]


def action(tenant: str, kind: OperatorActionType, customer_ref: str) -> OperatorAction:
    return OperatorAction(
        action=kind, tenant_id=tenant, record_id="r-1", customer_ref=customer_ref, actor="key-1"
    )


def invoice_of(customer: str, ref: str) -> dict[str, Any]:
    return make_invoice_issued(data={"ref": ref, "number": ref, "customer": {"ref": customer}})


class TestCustomerRef:
    def test_the_symbolic_ref_of_an_error_names_the_upstream_customer_in_every_currency(
        self,
    ) -> None:
        assert upstream_customer_ref("acme", "customer:acme:guest-17:USD") == "guest-17"
        assert upstream_customer_ref("acme", "customer:acme:a:b:EUR") == "a:b"
        assert upstream_customer_ref("acme", "customer:acme:guest-17") == "guest-17"
        assert upstream_customer_ref("acme", "guest-17") == "guest-17"
        assert upstream_customer_ref("acme", "customer:other:g:USD") == "customer:other:g:USD"


@pytest.mark.postgres
class TestOnTheDatabase:
    async def test_stop_holds_later_documents_and_resume_maps_them_CUS_8(
        self, pool: asyncpg.Pool
    ) -> None:
        tenant = f"t-{uuid.uuid4().hex[:10]}"
        await configure(pool, tenant, customers={"do_not_sync": ["listed"]})
        publisher = MemoryPublisher()
        stop = action(tenant, OperatorActionType.STOP_SYNCING, f"customer:{tenant}:guest-17:USD")
        await apply_customer_action(pool, publisher, TRACER, stop)
        await apply_customer_action(pool, publisher, TRACER, stop)  # a redelivery: no change
        summary = await map_batch(
            pool,
            publisher,
            TRACER,
            items(tenant, invoice_of("guest-17", "f-1"), invoice_of("listed", "f-2")),
        )
        assert (summary.held, publisher.commands, publisher.errors) == (2, [], [])

        for customer in ("guest-17", "listed"):
            resume = action(tenant, OperatorActionType.RESUME_SYNCING, customer)
            await apply_customer_action(pool, publisher, TRACER, resume)
        # The operator's resume maps the stopped customer's invoice; the one the settings
        # document lists stays held (the document still says so).
        assert [(c.entity, c.upstream_ref) for c in publisher.commands] == [
            (Entity.INVOICE, f"invoice:{tenant}:f-1")
        ]
        assert publisher.errors == []
        held = await pool.fetchval(
            "SELECT count(*) FROM held_events WHERE tenant_id = $1 AND reason = 'do_not_sync'",
            tenant,
        )
        assert held == 1
