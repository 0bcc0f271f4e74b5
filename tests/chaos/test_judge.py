"""The chaos judge sees every kind of damage (a judge that always says "exact" proves nothing)."""

import copy
import random
from decimal import Decimal
from typing import Any

from bench.chaos.judge import judge_tenant
from bench.chaos.workload import TenantPlan, tenant_plan

Json = dict[str, Any]


def _plan() -> TenantPlan:
    return tenant_plan("t-judge", 60, 4, random.Random(7))


def _export(plan: TenantPlan) -> dict[str, list[Json]]:
    """What QBO holds when every expected entity was posted exactly once."""
    customers = {name: str(i + 1) for i, name in enumerate(sorted(plan.customers))}
    invoice_ids = {number: str(i + 1) for i, number in enumerate(plan.invoices)}
    return {
        "Customer": [{"Id": i, "DisplayName": n, "Active": True} for n, i in customers.items()],
        "Invoice": [
            {
                "Id": invoice_ids[inv.number],
                "DocNumber": inv.number,
                "TotalAmt": str(inv.total),
                "Balance": str(inv.total - inv.paid),
                "CustomerRef": {"value": customers[inv.customer]},
            }
            for inv in plan.invoices.values()
        ],
        "Payment": [
            {
                "Id": str(i + 1),
                "PaymentRefNum": p.ref,
                "TotalAmt": str(p.amount),
                "CustomerRef": {"value": customers[p.customer]},
                "Line": [
                    {
                        "Amount": str(p.amount),
                        "LinkedTxn": [
                            {"TxnId": invoice_ids[p.invoice_number], "TxnType": "Invoice"}
                        ],
                    }
                ],
            }
            for i, p in enumerate(plan.payments.values())
        ],
    }


def test_the_workload_has_invoices_payments_and_planted_failures() -> None:
    plan = _plan()
    assert len(plan.events) == 60
    assert len(plan.planted) == 4
    assert plan.payments
    assert len(plan.invoices) > len(plan.payments)


def test_an_exact_export_is_exact() -> None:
    plan = _plan()
    verdict = judge_tenant(plan, _export(plan))
    assert verdict.exact, verdict.samples
    assert verdict.checked == len(plan.customers) + len(plan.invoices) + len(plan.payments)


def test_a_missing_invoice_is_lost_and_a_second_payment_duplicated() -> None:
    plan = _plan()
    export = _export(plan)
    paid = {p.invoice_number for p in plan.payments.values()}
    unpaid = next(number for number in plan.invoices if number not in paid)
    export["Invoice"] = [i for i in export["Invoice"] if i["DocNumber"] != unpaid]
    export["Payment"].append(copy.deepcopy(export["Payment"][0]))
    verdict = judge_tenant(plan, export)
    assert (verdict.lost, verdict.duplicated, verdict.wrong) == (1, 1, 0), verdict.samples


def test_an_unexpected_entity_counts_as_duplicated() -> None:
    plan = _plan()
    export = _export(plan)
    stray = copy.deepcopy(export["Invoice"][0]) | {"Id": "999", "DocNumber": "X-1"}
    export["Invoice"].append(stray)
    assert judge_tenant(plan, export).duplicated == 1


def test_wrong_amount_customer_balance_or_link_is_wrong() -> None:
    plan = _plan()
    damage = [
        ("Invoice", "TotalAmt", "0.01"),
        ("Invoice", "Balance", "-1"),
        ("Invoice", "CustomerRef", {"value": "999"}),
        ("Payment", "TotalAmt", str(Decimal("0.01"))),
        ("Payment", "Line", []),
    ]
    for entity, field, value in damage:
        export = _export(plan)
        export[entity][0][field] = value
        verdict = judge_tenant(plan, export)
        assert (verdict.lost, verdict.duplicated, verdict.wrong) == (0, 0, 1), (field, verdict)
