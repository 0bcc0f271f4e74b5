"""Journal mode (JRN-1..JRN-6): ledger postings folded into one JournalEntry per business day.

Pure functions. A reservation's balance is positive when the guest owes money
(Accounts Receivable) and negative when the guest has prepaid (Deposits, a
liability). Each posting moves the balance; which of AR and Deposits it moves
depends on the balance at that moment, FIFO in posting order (JRN-4):

* a charge (revenue, tax, fee) or a refund raises the balance: it first uses up
  the prepaid part (debit Deposits), the rest is owed (debit AR);
* a payment or an adjustment lowers the balance: it first clears what is owed
  (credit AR), the rest is prepaid (credit Deposits).

An amount that crosses zero is split between both. The other side of every
posting is the posting's own account (revenue by category, tax, fees, the
payment method's account), so every posting balances on its own (JRN-2), and so
does any sum of postings: a day's entry, an adjusting entry, all entries.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from qbsync_contracts.events import LedgerKind

from qbsync_mapper.tenants import JournalSettings

ZERO = Decimal(0)


class Posting(StrEnum):
    """`JournalEntryLineDetail.PostingType`."""

    DEBIT = "Debit"
    CREDIT = "Credit"


class Side(StrEnum):
    """The two reservation-balance accounts of JRN-4."""

    AR = "accounts_receivable"
    DEPOSITS = "deposits"


RAISES_BALANCE = frozenset({LedgerKind.REVENUE, LedgerKind.TAX, LedgerKind.FEE, LedgerKind.REFUND})
"""Kinds that raise what the guest owes; the others (payment, adjustment) lower it."""


@dataclass(frozen=True)
class Leg:
    """One movement of AR or Deposits."""

    side: Side
    posting: Posting
    amount: Decimal


@dataclass(frozen=True)
class JournalLine:
    """One debit or credit on an account; `customer` marks the AR line (QBO needs a Customer)."""

    account: str
    posting: Posting
    amount: Decimal
    customer: bool = False

    def as_json(self) -> dict[str, Any]:
        """Stored form (amount as exact text)."""
        return {
            "account": self.account,
            "posting": self.posting.value,
            "amount": str(self.amount),
            "customer": self.customer,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> "JournalLine":
        """Read the stored form."""
        return cls(
            str(value["account"]),
            Posting(value["posting"]),
            Decimal(str(value["amount"])),
            bool(value.get("customer", False)),
        )


def split(balance: Decimal, amount: Decimal, raises: bool) -> tuple[Decimal, list[Leg]]:
    """Move a reservation balance by `amount`, as AR and Deposits legs (JRN-4).

    Args:
        balance: the reservation's balance before the posting (+ owed, - prepaid).
        amount: the posting's amount (positive).
        raises: the posting raises the balance (charge, refund) or lowers it.

    Returns:
        The new balance and one or two legs (two when the amount crosses zero).
    """
    legs: list[Leg] = []
    if raises:
        prepaid = max(-balance, ZERO)
        from_deposits = min(amount, prepaid)
        if from_deposits:
            legs.append(Leg(Side.DEPOSITS, Posting.DEBIT, from_deposits))
        if amount - from_deposits:
            legs.append(Leg(Side.AR, Posting.DEBIT, amount - from_deposits))
        return balance + amount, legs
    owed = max(balance, ZERO)
    from_ar = min(amount, owed)
    if from_ar:
        legs.append(Leg(Side.AR, Posting.CREDIT, from_ar))
    if amount - from_ar:
        legs.append(Leg(Side.DEPOSITS, Posting.CREDIT, amount - from_ar))
    return balance - amount, legs


def counter_line(
    journal: JournalSettings,
    kind: LedgerKind,
    amount: Decimal,
    *,
    category: str | None = None,
    method: str | None = None,
) -> JournalLine:
    """The posting's own side: the account that earns, collects or pays it."""
    revenue = journal.default_revenue_account
    payment = journal.payment_accounts.get(method or "", journal.default_payment_account)
    account, posting = {
        LedgerKind.REVENUE: (journal.revenue_accounts.get(category or "", revenue), Posting.CREDIT),
        LedgerKind.TAX: (journal.tax_account, Posting.CREDIT),
        LedgerKind.FEE: (journal.fee_account or revenue, Posting.CREDIT),
        LedgerKind.PAYMENT: (payment, Posting.DEBIT),
        LedgerKind.REFUND: (payment, Posting.CREDIT),
        LedgerKind.ADJUSTMENT: (journal.adjustment_account or revenue, Posting.DEBIT),
    }[kind]
    return JournalLine(account, posting, amount)


def ledger_lines(
    journal: JournalSettings,
    balance: Decimal,
    kind: LedgerKind,
    amount: Decimal,
    *,
    category: str | None = None,
    method: str | None = None,
) -> tuple[Decimal, list[JournalLine]]:
    """The balanced journal lines of one ledger posting, and the reservation's new balance."""
    new_balance, legs = split(balance, amount, kind in RAISES_BALANCE)
    lines = [counter_line(journal, kind, amount, category=category, method=method)]
    for leg in legs:
        if leg.side is Side.AR:
            lines.append(JournalLine(journal.accounts_receivable, leg.posting, leg.amount, True))
        else:
            lines.append(JournalLine(journal.deposits, leg.posting, leg.amount))
    return new_balance, lines


def signed(line: JournalLine) -> Decimal:
    """Debit positive, credit negative."""
    return line.amount if line.posting is Posting.DEBIT else -line.amount


def summarise(lines: Iterable[JournalLine]) -> list[JournalLine]:
    """Net lines per account into summary lines (JRN-1), dropping accounts that net to zero.

    Netting keeps the balance: debits minus credits is the same before and after.
    Accounts keep the order of their first line, so the same lines give the same entry.
    """
    net: dict[tuple[str, bool], Decimal] = {}
    for line in lines:
        key = (line.account, line.customer)
        net[key] = net.get(key, ZERO) + signed(line)
    return [
        JournalLine(account, Posting.DEBIT if value > 0 else Posting.CREDIT, abs(value), customer)
        for (account, customer), value in net.items()
        if value
    ]


def is_balanced(lines: Iterable[JournalLine]) -> bool:
    """Total debits equal total credits (JRN-2)."""
    return sum((signed(line) for line in lines), ZERO) == ZERO


def doc_number(day: date, seq: int) -> str:
    """`J20261120` for a day's entry, `J20261120-1` for its first adjusting entry."""
    return f"J{day:%Y%m%d}" + (f"-{seq}" if seq else "")


def entry_body(
    day: date,
    seq: int,
    lines: list[JournalLine],
    *,
    customer_ref: str,
    currency: Mapping[str, Any],
) -> dict[str, Any]:
    """The QBO JournalEntry of one business day (`seq` 0) or an adjusting entry for it.

    Args:
        day: the business day (tenant time zone).
        seq: 0 for the day's entry; 1, 2, ... for adjusting entries of late postings (JRN-3).
        lines: summary lines (balanced).
        customer_ref: symbolic ref of the QBO customer on AR lines.
        currency: CurrencyRef fields.
    """
    body: dict[str, Any] = {
        "TxnDate": day.isoformat(),
        "DocNumber": doc_number(day, seq),
        "PrivateNote": (
            f"qbsync daily summary {day.isoformat()}"
            if seq == 0
            else f"qbsync adjusting entry {seq} for {day.isoformat()} (late postings)"
        ),
        **currency,
        "Line": [],
    }
    for line in lines:
        detail: dict[str, Any] = {
            "PostingType": line.posting.value,
            "AccountRef": {"value": line.account},
        }
        if line.customer:
            detail["Entity"] = {"Type": "Customer", "EntityRef": {"$ref": customer_ref}}
        body["Line"].append(
            {
                "Amount": f"{line.amount.quantize(Decimal('0.01'))}",
                "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": detail,
            }
        )
    return body
