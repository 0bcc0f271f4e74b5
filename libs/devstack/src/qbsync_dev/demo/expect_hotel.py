"""Expected outcome of the document-mode hotel, replayed from its events.

A small model of what the settings say and what QBO books: invoices Dr A/R and Cr
each item's income account (tax to Sales Tax Payable), payments Dr the deposit
account of their method, refunds Dr Refunds, credit memos the reverse of invoices;
voided documents count as entities but book nothing, deleted ones neither.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from qbsync_contracts.money import MoneyError, check_currency

from qbsync_dev.demo.books import TenantExpected
from qbsync_dev.demo.model import JSON, DeletedCustomer, Planted
from qbsync_dev.demo.tenants import (
    AR,
    HOTEL_DEFAULT_DEPOSIT,
    HOTEL_DEPOSITS,
    HOTEL_ITEM_RULES,
    HOTEL_ITEMS,
    REFUNDS,
    SALES_TAX,
    SPA_RULE,
)

ITEM_ACCOUNT = dict(HOTEL_ITEMS)
D0 = Decimal(0)


def item_for(line: JSON, *, map_spa: bool = False) -> str | None:
    """The item of a line by the most specific (group, category) rule, as the mapper picks."""
    rules = [*HOTEL_ITEM_RULES, *([SPA_RULE] if map_spa else [])]
    found = [
        (category is not None, item)
        for group, category, item in rules
        if group == line.get("revenue_group")
        and (category is None or category == line.get("revenue_category"))
    ]
    return max(found)[1] if found else None


def display_name(customer: JSON) -> str:
    """The QBO DisplayName of a customer under number + currency matching (CUS-3)."""
    return f"{customer.get('company') or customer['name']}/{customer['currency']}"


def deposit_account(method: str) -> str:
    """PAY-1: (method, currency) rule, else the default."""
    return HOTEL_DEPOSITS.get(method, HOTEL_DEFAULT_DEPOSIT)


@dataclass
class HotelModel:
    """Replays the hotel's events."""

    out: TenantExpected = field(default_factory=TenantExpected)
    invoices: dict[str, JSON] = field(default_factory=dict)
    voided: set[str] = field(default_factory=set)
    payments: dict[str, JSON] = field(default_factory=dict)
    credits: dict[str, JSON] = field(default_factory=dict)
    refunds: dict[str, JSON] = field(default_factory=dict)
    deleted_customers: set[str] = field(default_factory=set)

    def _problem(self, event: JSON, category: str, what: str) -> None:
        self.out.problems.append(Planted(event["tenant_id"], event["event_id"], category, what))

    def event(self, event: JSON) -> None:
        """Apply one event, in publish order."""
        data, kind = event["data"], event["type"]
        currency = data.get("currency")
        if currency is not None:
            try:
                check_currency(currency)
            except MoneyError:
                self._problem(event, "Validation", f"{currency} has more than 2 decimals (CUR-1)")
                return
        handler = getattr(self, "_on_" + kind.replace(".", "_"))
        handler(event, data)

    def _on_invoice_issued(self, event: JSON, data: JSON) -> None:
        if any(item_for(line) is None for line in data["lines"]):
            self._problem(event, "Mapping", "a line's revenue group has no item mapping")
        elif data["customer"]["ref"] in self.deleted_customers:
            self._problem(event, "Account", "the customer was deleted in QBO (CUS-7)")
        else:
            self.invoices[data["ref"]] = data

    def _on_invoice_updated(self, event: JSON, data: JSON) -> None:
        del event
        assert data["ref"] in self.invoices, "the demo only edits posted folios"
        self.invoices[data["ref"]] = data

    def _on_invoice_voided(self, event: JSON, data: JSON) -> None:
        del event
        self.voided.add(data["ref"])
        self.voided.update(r for r, p in self.payments.items() if p["invoice_ref"] == data["ref"])

    def _on_payment_received(self, event: JSON, data: JSON) -> None:
        del event
        self.payments[data["ref"]] = data  # held until its folio closes (PAY-3)

    def _on_payment_refunded(self, event: JSON, data: JSON) -> None:
        del event
        self.refunds[data["ref"]] = data

    def _on_payment_voided(self, event: JSON, data: JSON) -> None:
        del event
        if data["ref"] in self.refunds:
            del self.refunds[data["ref"]]  # the refund's Expense is deleted (PAY-4)
        else:
            self.voided.add(data["ref"])

    def _on_credit_note_issued(self, event: JSON, data: JSON) -> None:
        del event
        invoice = self.invoices[data["credited_invoice_ref"]]
        paid = sum(
            (
                Decimal(p["amount"])
                for p in self.payments.values()
                if p["invoice_ref"] == invoice["ref"]
            ),
            D0,
        )
        # A credit covering the open balance would also be applied (a zero Payment, DOC-6).
        assert Decimal(data["total"]) < Decimal(invoice["total"]) - paid, "apply not modelled"
        self.credits[data["ref"]] = data

    def _on_credit_note_voided(self, event: JSON, data: JSON) -> None:
        del data
        self._problem(event, "Invoice", "QBO cannot void a credit memo via the API (DOC-8)")

    def _book_sales(self, doc: JSON, sign: Decimal) -> None:
        """Invoice (+1) or credit memo (-1): A/R against income and tax."""
        out = self.out
        out.post(AR, sign * Decimal(doc["total"]))
        for line in doc["lines"]:
            item = item_for(line)
            assert item is not None
            out.post(ITEM_ACCOUNT[item], -sign * Decimal(line["amount"]))
        out.post(SALES_TAX, -sign * Decimal(doc.get("tax_total") or 0))

    def finish(self) -> TenantExpected:
        """Entities and balances of everything that ends up posted."""
        out = self.out
        for ref, invoice in self.invoices.items():
            out.entity("Invoice", invoice["number"])
            out.entities["Customer"][display_name(invoice["customer"])] = 1
            if ref not in self.voided:
                self._book_sales(invoice, Decimal(1))
        for credit in self.credits.values():
            out.entity("CreditMemo", credit["number"])
            self._book_sales(credit, Decimal(-1))
        for ref, payment in self.payments.items():
            if payment["invoice_ref"] not in self.invoices:
                continue  # held for a folio that never posted: neither posted nor an error
            out.entity("Payment", ref)
            if ref not in self.voided:
                out.move(deposit_account(payment["method"]), AR, Decimal(payment["amount"]))
        for ref, refund in self.refunds.items():
            out.entity("Purchase", f"Refund {ref}")
            out.entities["Customer"][display_name(refund["customer"])] = 1
            out.move(REFUNDS, deposit_account(refund["method"]), Decimal(refund["amount"]))
        return out


def hotel_expected(
    events: list[JSON], later: list[JSON], deleted: DeletedCustomer
) -> TenantExpected:
    """Replay the hotel's events; `later` ones come after `deleted` was deleted in QBO."""
    model = HotelModel()
    for event in events:
        model.event(event)
    model.deleted_customers.add(deleted.customer_ref)
    for event in later:
        model.event(event)
    return model.finish()
