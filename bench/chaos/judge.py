"""Compare the emulator's state with the expected ledger, and the open errors with the planted.

An entity is *lost* when the ledger expects it and QBO has none, *duplicated* for every
copy beyond the first (and for anything QBO holds that no event asked for), *wrong* when
it exists once but an amount, its customer, its link or its balance differs.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from bench.chaos.workload import TenantPlan

Json = dict[str, Any]


@dataclass
class Verdict:
    lost: int = 0
    duplicated: int = 0
    wrong: int = 0
    checked: int = 0
    samples: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.lost == self.duplicated == self.wrong == 0

    def note(self, kind: str, text: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.samples) < 20:
            self.samples.append(f"{kind}: {text}")

    def add(self, other: "Verdict") -> None:
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.wrong += other.wrong
        self.checked += other.checked
        self.samples += other.samples[: max(0, 20 - len(self.samples))]


def _money(value: object) -> Decimal:
    return Decimal(str(value))


def _counted(kind: str, verdict: Verdict, tenant: str, have: Counter[str], want: set[str]) -> None:
    for key in want - have.keys():
        verdict.note("lost", f"{tenant} {kind} {key}")
    for key, count in have.items():
        if key not in want:
            verdict.duplicated += count
            verdict.samples.append(f"duplicated: {tenant} unexpected {kind} {key} x{count}")
        elif count > 1:
            verdict.duplicated += count - 1
            verdict.samples.append(f"duplicated: {tenant} {kind} {key} x{count}")


def judge_tenant(plan: TenantPlan, entities: dict[str, list[Json]]) -> Verdict:
    """The verdict on one realm's export (`entities` of `GET /_admin/realms/{r}/export`)."""
    verdict = Verdict()
    t = plan.tenant
    customers = [c for c in entities.get("Customer", []) if c.get("Active", True)]
    names = {str(c["Id"]): str(c["DisplayName"]) for c in customers}
    _counted("customer", verdict, t, Counter(names.values()), plan.customers)
    invoices = entities.get("Invoice", [])
    _counted(
        "invoice",
        verdict,
        t,
        Counter(str(i.get("DocNumber")) for i in invoices),
        set(plan.invoices),
    )
    numbers = {str(i["Id"]): str(i.get("DocNumber")) for i in invoices}
    for invoice in invoices:
        want = plan.invoices.get(str(invoice.get("DocNumber")))
        if want is None:
            continue
        got = (
            _money(invoice["TotalAmt"]),
            names.get(str(invoice["CustomerRef"]["value"])),
            _money(invoice.get("Balance", 0)),
        )
        if got != (want.total, want.customer, want.total - want.paid):
            verdict.note("wrong", f"{t} invoice {want.number}: {got} != {want}")
    payments = entities.get("Payment", [])
    _counted(
        "payment",
        verdict,
        t,
        Counter(str(p.get("PaymentRefNum")) for p in payments),
        set(plan.payments),
    )
    for payment in payments:
        expected = plan.payments.get(str(payment.get("PaymentRefNum")))
        if expected is None:
            continue
        links = [
            (numbers.get(str(link["TxnId"])), _money(line["Amount"]))
            for line in payment.get("Line", [])
            for link in line.get("LinkedTxn", [])
        ]
        got_payment = (
            _money(payment["TotalAmt"]),
            names.get(str(payment["CustomerRef"]["value"])),
            links,
        )
        if got_payment != (
            expected.amount,
            expected.customer,
            [(expected.invoice_number, expected.amount)],
        ):
            verdict.note("wrong", f"{t} payment {expected.ref}: {got_payment} != {expected}")
    verdict.checked = len(plan.customers) + len(plan.invoices) + len(plan.payments)
    return verdict


async def judge(
    emulator: httpx.AsyncClient, plans: list[TenantPlan], realms: dict[str, str]
) -> Verdict:
    """The verdict over every tenant (`realms`: tenant -> realm id)."""
    verdict = Verdict()
    for plan in plans:
        response = await emulator.get(f"/_admin/realms/{realms[plan.tenant]}/export")
        response.raise_for_status()
        verdict.add(judge_tenant(plan, response.json()["entities"]))
    return verdict


@dataclass
class ErrorsVerdict:
    planted: int
    planted_open: int = 0
    unplanted_open: int = 0
    recorded: int = 0
    """Every error record the errors service holds for these tenants, any status."""
    samples: list[str] = field(default_factory=list)


async def judge_errors(errors: httpx.AsyncClient, plans: list[TenantPlan]) -> ErrorsVerdict:
    """Open errors of the run's tenants, split into planted and not planted."""
    verdict = ErrorsVerdict(planted=sum(len(p.planted) for p in plans))
    for plan in plans:
        page = await _page(errors, {"tenant": plan.tenant, "limit": 500})
        verdict.recorded += int(page["total"])
        for item in page["items"]:
            if item["status"] != "open":
                continue
            detail = (await errors.get(f"/v1/errors/{item['record_id']}")).json()
            if _event_id(detail) in plan.planted:
                verdict.planted_open += 1
            else:
                verdict.unplanted_open += 1
                if len(verdict.samples) < 10:
                    verdict.samples.append(f"{plan.tenant} {item['stage']}: {item['cause'][:200]}")
    return verdict


def _event_id(detail: Json) -> str | None:
    """The record's event id, else the one its payload names (a refused event has none)."""
    if detail.get("event_id"):
        return str(detail["event_id"])
    try:
        payload = json.loads(detail.get("payload_text") or "")
    except ValueError:
        return None
    return str(payload.get("event_id")) if isinstance(payload, dict) else None


async def _page(errors: httpx.AsyncClient, params: dict[str, str | int]) -> Json:
    response = await errors.get("/v1/errors", params=params)
    response.raise_for_status()
    page: Json = response.json()
    return page
