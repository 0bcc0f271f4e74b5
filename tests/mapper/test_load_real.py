"""10,000 mixed events for 50 tenants on the real broker and database.

The commands on qbsync.commands.v1 must be, per tenant, exactly what the pure rules
give for the tenant's events in order (ids, bodies and order), and a forced
redelivery of half the events must add no command.
"""

import json
import random
import uuid
from typing import Any

import pytest
from qbsync_contracts import parse_event_json
from qbsync_mapper.rules import map_event
from qbsync_mapper.rules.state import TenantState

from tests.fixtures.events import make_customer, make_envelope, make_invoice_issued
from tests.mapper.conftest import Mapper
from tests.mapper.helpers import tenant_settings
from tests.mapper.test_service_real import put_settings

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

TENANTS = 50
EVENTS_PER_TENANT = 200
JSON = dict[str, Any]


def _payment(tenant: str, ref: str, invoice: str, amount: str) -> JSON:
    return make_envelope(
        "payment.received",
        {
            "ref": ref,
            "customer": make_customer(),
            "currency": "USD",
            "amount": amount,
            "method": "card",
            "received_at": "2026-11-20T19:00:00+00:00",
            "invoice_ref": invoice,
        },
        tenant_id=tenant,
    )


def _folio(tenant: str, k: int) -> list[JSON]:
    """One folio's events; the pattern varies with k (PAY-3, DOC-6, DOC-7, PAY-4...)."""
    f, pay = f"f-{k}", f"p-{k}"
    invoice = make_invoice_issued(tenant_id=tenant, data={"ref": f, "number": str(1000 + k)})
    pattern = k % 5
    if pattern == 0:
        return [invoice, _payment(tenant, pay, f, "291.50")]
    if pattern == 1:
        return [
            _payment(tenant, pay, f, "100.00"),
            invoice,
            make_invoice_issued(
                tenant_id=tenant, type="invoice.updated", data={"ref": f, "number": str(1000 + k)}
            ),
        ]
    if pattern == 2:
        credit = {
            "ref": f"c-{k}",
            "number": f"C{k}",
            "customer": make_customer(),
            "currency": "USD",
            "issue_date": "2026-11-21",
            "total": "291.50",
            "lines": [
                {"description": "x", "quantity": 1, "unit_price": "291.50", "amount": "291.50"}
            ],
            "credited_invoice_ref": f,
        }
        return [invoice, make_envelope("credit_note.issued", credit, tenant_id=tenant)]
    if pattern == 3:
        return [
            invoice,
            _payment(tenant, pay, f, "291.50"),
            make_envelope("invoice.voided", {"ref": f}, tenant_id=tenant),
        ]
    refund = {
        "ref": f"r-{k}",
        "currency": "USD",
        "amount": "20",
        "method": "card",
        "refunded_at": "2026-11-22T09:00:00+00:00",
    }
    return [
        make_envelope("payment.refunded", refund, tenant_id=tenant),
        make_envelope("payment.voided", {"ref": f"r-{k}"}, tenant_id=tenant),
    ]


def tenant_events(tenant: str) -> list[tuple[bytes, JSON]]:
    events: list[JSON] = []
    k = 0
    while len(events) < EVENTS_PER_TENANT:
        events.extend(_folio(tenant, k))
        k += 1
    return [(json.dumps(e).encode(), e) for e in events[:EVENTS_PER_TENANT]]


def expected_commands(tenant: str, events: list[tuple[bytes, JSON]]) -> list[tuple[str, Any]]:
    settings = tenant_settings(tenant_id=tenant)
    state = TenantState()
    out: list[tuple[str, Any]] = []
    for raw, _ in events:
        for m in map_event(parse_event_json(raw), raw, settings, state):
            assert not m.errors, m.errors
            out.extend((c.command_id, c.model_dump(mode="json")["body"]) for c in m.commands)
    return out


async def test_ten_thousand_events_keep_per_tenant_order_and_redelivery_adds_nothing(
    mapper: Mapper,
) -> None:
    run = uuid.uuid4().hex[:6]
    tenants = [f"load-{run}-{i}" for i in range(TENANTS)]
    for tenant in tenants:
        assert (await put_settings(mapper, tenant)).status_code == 200
    per_tenant = {t: tenant_events(t) for t in tenants}
    expected = {t: expected_commands(t, per_tenant[t]) for t in tenants}
    total = sum(len(v) for v in expected.values())

    # Interleave tenants, as upstream traffic would, keeping each tenant's own order.
    rng = random.Random(5)
    queues = {t: list(per_tenant[t]) for t in tenants}
    interleaved: list[tuple[bytes, JSON]] = []
    while queues:
        tenant = rng.choice(sorted(queues))
        interleaved.append(queues[tenant].pop(0))
        if not queues[tenant]:
            del queues[tenant]
    assert len(interleaved) == TENANTS * EVENTS_PER_TENANT == 10_000
    await mapper.publish_raw([(raw, event, None) for raw, event in interleaved])

    prefix = f"load-{run}-".encode()
    found = await mapper.commands.wait_for(
        lambda r: (r.key or b"").startswith(prefix), total, timeout=45
    )
    assert len(found) == total

    # Forced redelivery of half the events, then one new event per tenant as a marker:
    # per-tenant order means the half was consumed when the marker's command arrives.
    await mapper.publish_raw([(raw, event, None) for raw, event in interleaved[::2]])
    markers = [
        make_envelope("customer.upserted", {"customer": make_customer()}, tenant_id=t)
        for t in tenants
    ]
    await mapper.publish_raw([(json.dumps(m).encode(), m, None) for m in markers])
    found = await mapper.commands.wait_for(
        lambda r: (r.key or b"").startswith(prefix), total + TENANTS, timeout=30
    )
    assert len(found) == total + TENANTS

    ids = [json.loads(r.value)["command_id"] for r in found if r.value]
    assert len(ids) == len(set(ids)), "duplicate command ids"
    for tenant in tenants:
        got = mapper.commands_of(tenant)
        assert [(c["command_id"], c["body"]) for c in got[:-1]] == expected[tenant]
        assert got[-1]["entity"] == "Customer"
    assert not [r for r in mapper.errors.records if (r.key or b"").startswith(prefix)]
