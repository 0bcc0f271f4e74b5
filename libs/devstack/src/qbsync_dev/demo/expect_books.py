"""Expected outcome of the journal-mode hotel and of the studio, replayed from events."""

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from qbsync_dev.demo.books import TenantExpected
from qbsync_dev.demo.model import JSON, Planted
from qbsync_dev.demo.tenants import (
    AR,
    BANK_CHARGES,
    CHECKING,
    DISCOUNTS,
    GUEST_DEPOSITS,
    HOME_CURRENCY,
    JOURNAL_DEFAULT_PAYMENT,
    JOURNAL_PAYMENTS,
    JOURNAL_REVENUE,
    JOURNAL_ZONE,
    REFUNDS,
    SALES_TAX,
    STUDIO_CATEGORIES,
)

D0 = Decimal(0)
RAISES = frozenset({"revenue", "tax", "fee", "refund"})
"""Ledger kinds that raise a reservation's balance (owed); payments and adjustments lower it."""


def _problem(out: TenantExpected, event: JSON, category: str, what: str) -> None:
    out.problems.append(Planted(event["tenant_id"], event["event_id"], category, what))


def journal_expected(events: list[JSON]) -> TenantExpected:
    """JRN-1..6: FIFO balances per reservation, lines per business day, one entry a day.

    A charge first uses up what was prepaid (Dr Guest Deposits), the rest is owed
    (Dr A/R); a payment first clears what is owed (Cr A/R), the rest is prepaid
    (Cr Guest Deposits). The other side is the posting's own account.
    """
    out = TenantExpected()
    zone = ZoneInfo(JOURNAL_ZONE)
    balance: dict[str, Decimal] = defaultdict(Decimal)
    days: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for event in events:
        data = event["data"]
        if event["type"] == "ledger.opening_balance":
            balance[data["reservation_ref"]] = Decimal(data["balance"])
            continue
        if data["currency"] != HOME_CURRENCY:
            _problem(out, event, "Validation", "journal mode posts the home currency only")
            continue
        if data.get("method") == "cash_register":
            continue  # JRN-6
        day = f"J{datetime.fromisoformat(data['posted_at']).astimezone(zone):%Y%m%d}"
        res, kind, amount = data["reservation_ref"], data["kind"], Decimal(data["amount"])
        method = JOURNAL_PAYMENTS.get(data.get("method") or "", JOURNAL_DEFAULT_PAYMENT)
        before = balance[res]
        lines: list[tuple[str, Decimal]] = []
        if kind in RAISES:
            prepaid = min(amount, max(D0, -before))
            lines += [(GUEST_DEPOSITS, prepaid), (AR, amount - prepaid)]
            revenue = JOURNAL_REVENUE.get(data.get("category") or "", JOURNAL_REVENUE["Rooms"])
            other = {
                "revenue": revenue,
                "tax": SALES_TAX,
                "fee": JOURNAL_REVENUE["Rooms"],
                "refund": method,
            }[kind]
            lines.append((other, -amount))
            balance[res] = before + amount
        else:
            owed = min(amount, max(D0, before))
            lines += [(AR, -owed), (GUEST_DEPOSITS, -(amount - owed))]
            lines.append((method if kind == "payment" else DISCOUNTS, amount))
            balance[res] = before - amount
        for account, value in lines:
            days[day][account] += value
            out.post(account, value)
    for number, nets in sorted(days.items()):
        debits = sum((v for v in nets.values() if v > 0), D0)
        if debits:
            out.entity("JournalEntry", number)
            out.journal_days[number] = debits
        if nets[AR]:
            out.entities["Customer"]["Guests"] = 1  # ar_customer on A/R lines
    return out


def studio_expected(events: list[JSON]) -> TenantExpected:
    """PAY-7..9: a Deposit per payout (fees a negative line), fee and refund Expenses."""
    out = TenantExpected()
    for event in events:
        data, kind = event["data"], event["type"]
        if kind == "payout.settled":
            unmapped = {x["revenue_category"] for x in data["lines"]} - set(STUDIO_CATEGORIES)
            if unmapped:
                _problem(out, event, "Mapping", f"unmapped categories {sorted(unmapped)}")
                continue
            out.entity("Deposit", f"{data['processor']} payout {data['ref']}")
            out.post(CHECKING, Decimal(data["net"]))
            out.post(BANK_CHARGES, Decimal(data["fees"]))
            for line in data["lines"]:
                out.post(STUDIO_CATEGORIES[line["revenue_category"]], -Decimal(line["amount"]))
        elif kind == "fee.charged":
            if data.get("payout_ref"):
                continue  # its payout carries it
            out.entity("Purchase", f"{data['processor']} fee {data['ref']}")
            out.move(BANK_CHARGES, CHECKING, Decimal(data["amount"]))
        elif kind == "payment.refunded":
            out.entity("Purchase", f"Refund {data['ref']}")
            out.move(REFUNDS, CHECKING, Decimal(data["amount"]))
        else:
            raise ValueError(f"the studio model has no rule for {kind}")
    return out
