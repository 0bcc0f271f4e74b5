"""The chaos run's events and the QBO state they must leave behind (issue 10).

Each tenant gets invoices, payments for some of them (some sent before their invoice,
so the mapper holds them: PAY-3) and a few planted failures: an amount with three
decimals (refused at intake, CUR-1) and a payment moved between folios (a Payment
error in the mapper, PAY-6). Only event kinds whose effect does not depend on arrival
order are used, because every event is sent 2-3 times over two intake paths whose
relative order nobody guarantees; the expected ledger is then a pure function of the
events.
"""

import json
import random
from dataclasses import dataclass, field
from decimal import Decimal

CENT = Decimal("0.01")
CUSTOMERS_PER_TENANT = 25
INVOICE_SHARE = Decimal("0.6")
PREPAID_SHARE = 0.1
"""Share of payments sent before their invoice (held by the mapper until it is issued)."""
OCCURRED_AT = "2026-11-20T10:00:00+00:00"


@dataclass(frozen=True)
class ExpectedInvoice:
    number: str
    customer: str
    """The QBO customer's DisplayName."""
    total: Decimal
    paid: Decimal = Decimal(0)


@dataclass(frozen=True)
class ExpectedPayment:
    ref: str
    customer: str
    amount: Decimal
    invoice_number: str


@dataclass
class TenantPlan:
    """One tenant's events in upstream order, and what QBO must hold afterwards."""

    tenant: str
    events: list[bytes] = field(default_factory=list)
    invoices: dict[str, ExpectedInvoice] = field(default_factory=dict)
    payments: dict[str, ExpectedPayment] = field(default_factory=dict)
    customers: set[str] = field(default_factory=set)
    planted: set[str] = field(default_factory=set)
    """event_ids of the events meant to fail."""


def _envelope(tenant: str, event_id: str, event_type: str, data: dict[str, object]) -> bytes:
    return json.dumps(
        {
            "spec": "qbsync.event/1",
            "event_id": event_id,
            "tenant_id": tenant,
            "source": "chaos",
            "type": event_type,
            "occurred_at": OCCURRED_AT,
            "data": data,
        },
        separators=(",", ":"),
    ).encode()


def _customer(tenant: str, index: int) -> dict[str, str]:
    return {
        "ref": f"c{index}",
        "name": f"Guest {index} of {tenant}",
        "email": f"guest{index}@{tenant}.example.com",
        "currency": "USD",
    }


def _payment_data(ref: str, customer: dict[str, str], amount: Decimal) -> dict[str, object]:
    return {
        "ref": ref,
        "customer": customer,
        "currency": "USD",
        "amount": str(amount),
        "method": "card",
        "received_at": "2026-11-21T10:00:00+00:00",
    }


def tenant_plan(
    tenant: str,
    events: int,
    planted: int,
    rng: random.Random,
    *,
    prefix: str = "",
    prepaid_share: float = PREPAID_SHARE,
    invoice_share: Decimal = INVOICE_SHARE,
) -> TenantPlan:
    """`events` events for `tenant`, `planted` of them meant to fail.

    `prefix` keeps event ids, refs and DocNumbers of a second workload for the same
    tenants apart from the first.
    """
    plan = TenantPlan(tenant)
    good = events - planted
    invoices = int((good * invoice_share).to_integral_value())
    payments = min(good - invoices, invoices)
    keyed: list[tuple[float, bytes]] = []
    totals: list[tuple[str, dict[str, str], Decimal]] = []
    for i in range(invoices):
        customer = _customer(tenant, rng.randrange(CUSTOMERS_PER_TENANT))
        lines: list[dict[str, str]] = []
        for n in range(rng.randint(1, 3)):
            quantity = rng.randint(1, 3)
            price = Decimal(rng.randint(100, 50_000)) * CENT
            lines.append(
                {
                    "description": f"Night {n + 1}",
                    "quantity": str(quantity),
                    "unit_price": str(price),
                    "amount": str(quantity * price),
                }
            )
        total = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
        number = f"{prefix}N{i:05d}"
        data: dict[str, object] = {
            "ref": f"{prefix}inv-{i}",
            "number": number,
            "customer": customer,
            "currency": "USD",
            "issue_date": "2026-11-20",
            "lines": lines,
            "total": str(total),
        }
        keyed.append((float(i), _envelope(tenant, f"{prefix}ev-inv-{i}", "invoice.issued", data)))
        totals.append((number, customer, total))
        plan.invoices[number] = ExpectedInvoice(number, customer["name"], total)
        plan.customers.add(customer["name"])
    for i in rng.sample(range(invoices), payments):
        number, customer, total = totals[i]
        amount = total if rng.random() < 0.7 else (total / 2).quantize(CENT)
        ref = f"{prefix}p-{i}"
        data = {**_payment_data(ref, customer, amount), "invoice_ref": f"{prefix}inv-{i}"}
        early = rng.random() < prepaid_share
        position = i - rng.uniform(0.5, 10) if early else i + rng.uniform(0.5, 30)
        event_id = f"{prefix}ev-pay-{i}"
        keyed.append((position, _envelope(tenant, event_id, "payment.received", data)))
        plan.payments[ref] = ExpectedPayment(ref, customer["name"], amount, number)
        plan.invoices[number] = ExpectedInvoice(number, customer["name"], total, amount)
    for k in range(planted):
        customer = _customer(tenant, 0)
        event_id = f"{prefix}ev-plant-{k}"
        if k % 2 == 0:  # CUR-1: three decimals are refused at intake
            data = _payment_data(f"bad-{k}", customer, Decimal("10.005"))
        else:  # PAY-6: a transfer between folios is a Payment error in the mapper
            data = {
                **_payment_data(f"moved-{k}", customer, Decimal(10)),
                "transferred_from_ref": "f-x",
            }
        keyed.append(
            (rng.uniform(0, invoices), _envelope(tenant, event_id, "payment.received", data))
        )
        plan.planted.add(event_id)
    keyed.sort(key=lambda pair: pair[0])
    plan.events = [raw for _, raw in keyed]
    return plan


def workload(
    tenants: list[str],
    events: int,
    planted_share: float,
    seed: int,
    *,
    prefix: str = "",
    prepaid_share: float = PREPAID_SHARE,
) -> list[TenantPlan]:
    """`events` events spread evenly over `tenants` (at least 2 planted each, if any)."""
    rng = random.Random(seed)
    per_tenant = events // len(tenants)
    planted = max(2, round(per_tenant * planted_share)) if planted_share > 0 else 0
    return [
        tenant_plan(t, per_tenant, planted, rng, prefix=prefix, prepaid_share=prepaid_share)
        for t in tenants
    ]


def event_ids(plan: TenantPlan) -> list[tuple[str, str]]:
    """(tenant, event id) of the plan's events that must reach QBO (not the planted ones)."""
    ids = (json.loads(raw)["event_id"] for raw in plan.events)
    return [(plan.tenant, event_id) for event_id in ids if event_id not in plan.planted]
