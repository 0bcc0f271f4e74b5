"""Bookkeeping: payment applications, derived balances, postings, trial balance, AR aging."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from qbsync_sandbox.money import ZERO, cents
from qbsync_sandbox.refs import ref_value
from qbsync_sandbox.seed import account_by_name
from qbsync_sandbox.store import Json, Realm

DEBIT_NORMAL = frozenset({"Asset", "Expense"})


# ---------------------------------------------------------------- applications


def unlink_payment(realm: Realm, payment_id: str) -> set[tuple[str, str]]:
    """Remove a payment's applications; return the targets whose balance changed."""
    touched: set[tuple[str, str]] = set()
    for target, applied in realm.applications.items():
        if applied.pop(payment_id, None) is not None:
            touched.add(target)
    return touched


def link_payment(realm: Realm, payment: Json) -> set[tuple[str, str]]:
    """Record a payment's applications; return the targets touched."""
    touched: set[tuple[str, str]] = set()
    for line in payment.get("Line", []):
        for link in line.get("LinkedTxn", []):
            target = (str(link["TxnType"]), str(link["TxnId"]))
            if line["Amount"] != ZERO:
                realm.applications[target][str(payment["Id"])] = line["Amount"]
            touched.add(target)
    return touched


def refresh_targets(realm: Realm, targets: set[tuple[str, str]]) -> None:
    """Recompute Balance and LinkedTxn of invoices / credit memos after a payment change."""
    for entity, entity_id in targets:
        doc = realm.get(entity, entity_id)
        if doc is None:
            continue
        applied = realm.applications.get((entity, entity_id), {})
        balance = doc["TotalAmt"] - sum(applied.values(), ZERO)
        links = [{"TxnId": pid, "TxnType": "Payment"} for pid in sorted(applied, key=int)]
        if doc.get("Balance") == balance and doc.get("LinkedTxn", []) == links:
            continue
        doc["Balance"] = balance
        if entity == "CreditMemo":
            doc["RemainingCredit"] = balance
        if links:
            doc["LinkedTxn"] = links
        else:
            doc.pop("LinkedTxn", None)
        # A linked payment changes the invoice in QBO too: its SyncToken moves on.
        realm.bump(doc)


def remove_application_to(realm: Realm, entity: str, entity_id: str) -> None:
    """Detach every payment line that applies to a voided invoice or credit memo."""
    applied = realm.applications.pop((entity, entity_id), {})
    for payment_id in applied:
        payment = realm.get("Payment", payment_id)
        if payment is None:
            continue
        kept = [
            line
            for line in payment.get("Line", [])
            if not any(
                link.get("TxnType") == entity and str(link.get("TxnId")) == entity_id
                for link in line.get("LinkedTxn", [])
            )
        ]
        payment["Line"] = kept
        net = sum(
            (
                line["Amount"] if line["LinkedTxn"][0]["TxnType"] == "Invoice" else -line["Amount"]
                for line in kept
            ),
            ZERO,
        )
        payment["UnappliedAmt"] = payment["TotalAmt"] - net
        realm.bump(payment)


# ---------------------------------------------------------------- postings


def _acct(realm: Realm, name: str) -> str:
    return str(account_by_name(realm, name)["Id"])


def _item_account(realm: Realm, detail: Json, key: str = "IncomeAccountRef") -> str:
    item = realm.get("Item", ref_value(detail.get("ItemRef")))
    fallback = "Services" if key == "IncomeAccountRef" else "Office Expenses"
    if item is None or ref_value(item.get(key)) is None:
        return _acct(realm, fallback)
    return str(ref_value(item.get(key)))


def _sales_credits(realm: Realm, doc: Json) -> list[tuple[str, Decimal]]:
    """Income side of a sales form as (account, signed credit amount)."""
    out: list[tuple[str, Decimal]] = []
    for line in doc.get("Line", []):
        kind = line.get("DetailType")
        if kind == "SalesItemLineDetail":
            out.append((_item_account(realm, line["SalesItemLineDetail"]), line["Amount"]))
        elif kind == "DiscountLineDetail":
            account = ref_value(line["DiscountLineDetail"].get("DiscountAccountRef"))
            out.append((str(account), -line["Amount"]))
    tax = doc.get("TxnTaxDetail", {}).get("TotalTax", ZERO)
    if tax:
        out.append((_acct(realm, "Sales Tax Payable"), tax))
    return out


def postings(realm: Realm, entity: str, doc: Json) -> list[tuple[str, Decimal]]:
    """Double-entry postings of one transaction as (account id, debit minus credit)."""
    rate = doc.get("ExchangeRate", Decimal(1))
    total = doc.get("TotalAmt", ZERO)
    out: list[tuple[str, Decimal]] = []
    if entity in ("Invoice", "CreditMemo", "SalesReceipt", "RefundReceipt"):
        sign = Decimal(1) if entity in ("Invoice", "SalesReceipt") else Decimal(-1)
        if entity in ("Invoice", "CreditMemo"):
            debit_account = _acct(realm, "Accounts Receivable (A/R)")
        else:
            debit_account = str(ref_value(doc.get("DepositToAccountRef")))
        out.append((debit_account, sign * total))
        out.extend((acct, -sign * value) for acct, value in _sales_credits(realm, doc))
    elif entity == "Payment":
        out.append((str(ref_value(doc.get("DepositToAccountRef"))), total))
        out.append((_acct(realm, "Accounts Receivable (A/R)"), -total))
    elif entity == "Purchase":
        sign = Decimal(-1) if doc.get("Credit") else Decimal(1)
        for line in doc.get("Line", []):
            if line.get("DetailType") == "AccountBasedExpenseLineDetail":
                acct = str(ref_value(line["AccountBasedExpenseLineDetail"].get("AccountRef")))
            else:
                acct = _item_account(
                    realm, line.get("ItemBasedExpenseLineDetail", {}), "ExpenseAccountRef"
                )
            out.append((acct, sign * line["Amount"]))
        out.append((str(ref_value(doc.get("AccountRef"))), -sign * total))
    elif entity == "Deposit":
        out.append((str(ref_value(doc.get("DepositToAccountRef"))), total))
        for line in doc.get("Line", []):
            links = line.get("LinkedTxn") or []
            if links:
                source = realm.get(links[0]["TxnType"], links[0]["TxnId"])
                acct = (
                    str(ref_value(source.get("DepositToAccountRef")))
                    if source
                    else _acct(realm, "Undeposited Funds")
                )
            else:
                acct = str(ref_value(line["DepositLineDetail"].get("AccountRef")))
            out.append((acct, -line["Amount"]))
    elif entity == "JournalEntry":
        for line in doc.get("Line", []):
            detail = line.get("JournalEntryLineDetail")
            if not detail:
                continue
            sign = Decimal(1) if detail["PostingType"] == "Debit" else Decimal(-1)
            out.append((str(ref_value(detail.get("AccountRef"))), sign * line["Amount"]))
    if rate != 1:
        out = [(acct, cents(value * rate)) for acct, value in out]
    return out


TXN_TYPES = (
    "Invoice",
    "CreditMemo",
    "SalesReceipt",
    "RefundReceipt",
    "Payment",
    "Purchase",
    "Deposit",
    "JournalEntry",
)


def account_balances(realm: Realm) -> dict[str, Decimal]:
    """Net debit (debit minus credit) per account id over all live transactions."""
    net: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for entity in TXN_TYPES:
        for doc in realm.entities[entity].values():
            for acct, value in postings(realm, entity, doc):
                net[acct] += value
    return net


def trial_balance(realm: Realm) -> Json:
    """Per-account debit/credit columns; total debits equal total credits."""
    net = account_balances(realm)
    rows: list[Json] = []
    total_debit = total_credit = ZERO
    for account in realm.all("Account"):
        value = net.get(str(account["Id"]), ZERO)
        debit = value if value > 0 else ZERO
        credit = -value if value < 0 else ZERO
        total_debit += debit
        total_credit += credit
        rows.append(
            {
                "account_id": account["Id"],
                "name": account["Name"],
                "account_type": account["AccountType"],
                "debit": debit,
                "credit": credit,
            }
        )
    return {
        "realm_id": realm.realm_id,
        "accounts": rows,
        "total_debit": total_debit,
        "total_credit": total_credit,
        "balanced": total_debit == total_credit,
    }


def customer_balances(realm: Realm) -> dict[str, Decimal]:
    """Open A/R per customer: open invoices minus unused credits and unapplied payments."""
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for entity, field, sign in (
        ("Invoice", "Balance", 1),
        ("CreditMemo", "Balance", -1),
        ("Payment", "UnappliedAmt", -1),
    ):
        for doc in realm.entities[entity].values():
            customer = ref_value(doc.get("CustomerRef"))
            if customer is not None:
                out[customer] += sign * doc.get(field, ZERO)
    return out


def ar_aging(realm: Realm, as_of: date) -> Json:
    """Open invoice balances per customer, bucketed by days past due."""
    buckets = ("current", "1-30", "31-60", "61-90", "91+")
    by_customer: dict[str, Json] = {}
    grand = ZERO
    for invoice in realm.all("Invoice"):
        if invoice.get("Balance", ZERO) == ZERO:
            continue
        customer_id = str(ref_value(invoice.get("CustomerRef")))
        customer = realm.get("Customer", customer_id) or {}
        due = date.fromisoformat(str(invoice.get("DueDate") or invoice["TxnDate"]))
        late = (as_of - due).days
        bucket = buckets[0] if late <= 0 else buckets[min(4, (late - 1) // 30 + 1)]
        row = by_customer.setdefault(
            customer_id,
            {
                "customer_id": customer_id,
                "name": customer.get("DisplayName", ""),
                "open_balance": ZERO,
                "buckets": dict.fromkeys(buckets, ZERO),
                "invoices": [],
            },
        )
        row["open_balance"] += invoice["Balance"]
        row["buckets"][bucket] += invoice["Balance"]
        row["invoices"].append(
            {
                "invoice_id": invoice["Id"],
                "doc_number": invoice.get("DocNumber"),
                "txn_date": invoice["TxnDate"],
                "due_date": due.isoformat(),
                "balance": invoice["Balance"],
                "bucket": bucket,
            }
        )
        grand += invoice["Balance"]
    return {
        "realm_id": realm.realm_id,
        "as_of": as_of.isoformat(),
        "customers": list(by_customer.values()),
        "total": grand,
    }


def present(realm: Realm, entity: str, docs: list[Json]) -> list[Json]:
    """Fill the fields QBO computes on read (customer and account balances)."""
    if entity == "Customer":
        balances = customer_balances(realm)
        for doc in docs:
            value = balances.get(str(doc["Id"]), ZERO)
            doc["Balance"] = value
            doc["BalanceWithJobs"] = value
    elif entity == "Account":
        net = account_balances(realm)
        for doc in docs:
            value = net.get(str(doc["Id"]), ZERO)
            if doc.get("Classification") not in DEBIT_NORMAL:
                value = -value
            doc["CurrentBalance"] = value
            doc["CurrentBalanceWithSubAccounts"] = value
    return docs
