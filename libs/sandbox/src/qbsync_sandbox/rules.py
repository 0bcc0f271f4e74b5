"""Validation and normalisation of writes, one function per entity type.

Each ``normalise_*`` takes the merged request document (the stored one for updates)
and returns the document to store, with computed fields (totals, line ids, names in
references) filled in, or raises a QboFault.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from qbsync_sandbox.catalog import DUPLICATE_DOCNUMBER_ALLOWED, UNIQUE_DOCNUMBER
from qbsync_sandbox.clock import today
from qbsync_sandbox.faults import QboFault, business, required
from qbsync_sandbox.money import ZERO, amount, cents, to_decimal
from qbsync_sandbox.refs import ref_value, resolve
from qbsync_sandbox.seed import account_by_name, currency_ref
from qbsync_sandbox.store import Json, Realm

ACCOUNT_TYPES: dict[str, str] = {
    "Bank": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Receivable": "Asset",
    "Equity": "Equity",
    "Expense": "Expense",
    "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Long Term Liability": "Liability",
    "Other Current Liability": "Liability",
    "Income": "Revenue",
    "Other Income": "Revenue",
}
# The account types a direct (unlinked) deposit line may name (qbo-api.md, Deposit).
DEPOSIT_LINE_TYPES = frozenset(
    {
        "Income",
        "Other Income",
        "Expense",
        "Other Expense",
        "Other Current Asset",
        "Equity",
        "Cost of Goods Sold",
    }
)
# Where received money may land: Deposit, Payment, SalesReceipt, RefundReceipt.
CASH_TYPES = frozenset({"Bank", "Other Current Asset"})
# The paying account of a Purchase, by PaymentType.
PURCHASE_ACCOUNT_TYPES = {
    "Cash": frozenset({"Bank"}),
    "Check": frozenset({"Bank"}),
    "CreditCard": frozenset({"Credit Card"}),
}
# Accounts that may carry a foreign currency; all others are in the home currency.
FOREIGN_CURRENCY_TYPES = frozenset(
    {"Bank", "Credit Card", "Accounts Receivable", "Accounts Payable"}
)
# AccountSubType QBO assigns when only AccountType is given (qbo-api.md, Account).
DEFAULT_SUBTYPES = {
    "Bank": "CashOnHand",
    "Other Current Asset": "EmployeeCashAdvances",
    "Fixed Asset": "FurnitureAndFixtures",
    "Other Asset": "Licenses",
    "Equity": "OpeningBalanceEquity",
    "Expense": "Travel",
    "Other Expense": "Depreciation",
    "Cost of Goods Sold": "CostOfLaborCos",
    "Long Term Liability": "NotesPayable",
    "Other Current Liability": "OtherCurrentLiabilities",
    "Income": "OtherPrimaryIncome",
    "Other Income": "OtherInvestmentIncome",
    "Accounts Receivable": "AccountsReceivable",
    "Accounts Payable": "AccountsPayable",
    "Credit Card": "CreditCard",
}
SALES_TYPES = frozenset({"Invoice", "CreditMemo", "SalesReceipt", "RefundReceipt"})
# Customer name parts and their maximum lengths.
NAME_PARTS = (
    ("Title", 16),
    ("GivenName", 100),
    ("MiddleName", 100),
    ("FamilyName", 100),
    ("Suffix", 16),
)
AUTO_GENERATE = "AUTO_GENERATE"
AUTO_GENERATE_TYPES = frozenset({"Invoice", "SalesReceipt"})


class Context:
    """What a normaliser needs beyond the document."""

    def __init__(self, realm: Realm, old: Json | None, options: frozenset[str]) -> None:
        self.realm = realm
        self.old = old
        self.options = options

    @property
    def own_id(self) -> str | None:
        """Id of the entity being updated, None on create."""
        return None if self.old is None else str(self.old["Id"])


def length(doc: Json, element: str, maximum: int) -> None:
    """Reject strings longer than QBO allows (2050)."""
    value = doc.get(element)
    if isinstance(value, str) and len(value) > maximum:
        raise QboFault(
            "2050",
            "String length is either shorter or longer than supported by specification",
            f"String length specified does not match the supported length. Min:0 Max:{maximum} "
            f"supported. Supplied length:{len(value)}",
            element=element,
        )


def _enum(value: Any, allowed: set[str] | frozenset[str], element: str) -> str:
    if value not in allowed:
        raise QboFault(
            "2170",
            "Invalid Enumeration",
            f"Invalid Enumeration : {value} is not one of {', '.join(sorted(allowed))}",
            element=element,
        )
    return str(value)


def _duplicate_name(ctx: Context, entity: str, field: str, name: str) -> None:
    folded = name.casefold()
    for other in ctx.realm.entities[entity].values():
        if other["Id"] != ctx.own_id and str(other.get(field, "")).casefold() == folded:
            raise QboFault(
                "6240",
                "Duplicate Name Exists Error",
                f"The name supplied already exists. : {entity} Id={other['Id']} already uses "
                f"the name {name}. Choose a different name.",
                element=field,
            )


def _forbidden_characters(doc: Json, element: str, characters: str) -> None:
    """Reject names holding characters QBO reserves (":" separates levels of a name)."""
    value = doc.get(element)
    if not isinstance(value, str):
        return
    found = sorted({c for c in characters if c in value})
    if found:
        shown = ", ".join(repr(c) for c in found)
        raise business(f"{element} may not contain {shown}.", element)


def _account_of_type(
    account: Json | None, allowed: frozenset[str], element: str, what: str
) -> None:
    assert account is not None
    if account.get("AccountType") not in allowed:
        raise business(
            f"Account {account['Id']} is of type {account.get('AccountType')}; {what} must "
            f"be one of {', '.join(sorted(allowed))}.",
            element,
        )


def _email(doc: Json, element: str) -> None:
    email = doc.get(element)
    if not isinstance(email, dict) or not email.get("Address"):
        return
    address = str(email["Address"])
    if len(address) > 100:
        length({element: address}, element, 100)
    local, _, domain = address.partition("@")
    if not local or "." not in domain:
        raise QboFault(
            "2210",
            "Invalid Email Address format",
            f"The email address {address} is not a valid RFC 822 address.",
            element=element,
        )


def _home(realm: Realm) -> str:
    return realm.home_currency


def _multicurrency(realm: Realm) -> bool:
    prefs = realm.singleton("Preferences")
    return bool(prefs.get("CurrencyPrefs", {}).get("MultiCurrencyEnabled"))


# ---------------------------------------------------------------- name lists


def normalise_customer(doc: Json, ctx: Context) -> Json:
    """Customer: DisplayName unique (6240, case-insensitive), currency fixed after create."""
    for part, maximum in NAME_PARTS:
        length(doc, part, maximum)
        _forbidden_characters(doc, part, ":\t\n")
    name = doc.get("DisplayName")
    if not name:
        # Built from the name parts; CompanyName alone does not name a customer.
        parts = [doc.get(k) for k, _ in NAME_PARTS]
        name = " ".join(str(p) for p in parts if p)
    if not name or not str(name).strip():
        raise required("DisplayName")
    doc["DisplayName"] = str(name)
    length(doc, "DisplayName", 500)
    _forbidden_characters(doc, "DisplayName", ":\t\n")
    length(doc, "CompanyName", 100)
    _duplicate_name(ctx, "Customer", "DisplayName", doc["DisplayName"])
    doc["FullyQualifiedName"] = doc["DisplayName"]
    doc.setdefault("Active", True)
    doc.setdefault("Job", False)
    doc.setdefault("BillWithParent", False)
    doc.setdefault("Taxable", False)
    doc.setdefault("PreferredDeliveryMethod", "Print")
    if ctx.old is not None:
        # CurrencyRef is read-only after create.
        doc["CurrencyRef"] = ctx.old.get("CurrencyRef", currency_ref(_home(ctx.realm)))
    else:
        code = ref_value(doc.get("CurrencyRef")) or _home(ctx.realm)
        if code != _home(ctx.realm) and not _multicurrency(ctx.realm):
            raise business(
                f"Currency {code} can only be used when multicurrency is enabled.", "CurrencyRef"
            )
        doc["CurrencyRef"] = currency_ref(code)
    _email(doc, "PrimaryEmailAddr")
    return doc


def _named(doc: Json, ctx: Context, entity: str, maximum: int = 100) -> None:
    name = doc.get("Name")
    if not name or not str(name).strip():
        raise required("Name")
    length(doc, "Name", maximum)
    _duplicate_name(ctx, entity, "Name", str(name))
    doc["FullyQualifiedName"] = str(name)
    doc.setdefault("Active", True)


def normalise_item(doc: Json, ctx: Context) -> Json:
    """Item: unique Name, a Type (required since minorversion 4), valid account references."""
    _named(doc, ctx, "Item")
    if doc.get("Type") in (None, ""):
        raise required("Type")
    doc["Type"] = _enum(
        doc.get("Type"),
        {"Service", "NonInventory", "Inventory", "Category", "Group"},
        "Type",
    )
    if doc["Type"] == "Group" and ctx.old is None:
        raise business("Group items (bundles) cannot be created through the API.", "Type")
    if ctx.old is not None and ctx.old.get("TrackQtyOnHand") and not doc.get("TrackQtyOnHand"):
        raise business("TrackQtyOnHand cannot be turned off once on.", "TrackQtyOnHand")
    if doc["Type"] == "Inventory":
        if not doc.get("TrackQtyOnHand"):
            raise business("An Inventory item must track its quantity on hand.", "TrackQtyOnHand")
        for needed in ("QtyOnHand", "InvStartDate"):
            if doc.get(needed) is None:
                raise required(needed)
        doc["AssetAccountRef"], _ = resolve(
            ctx.realm, doc.get("AssetAccountRef"), "Account", "AssetAccountRef", needed=True
        )
    if doc["Type"] in ("Service", "NonInventory", "Inventory"):
        ref, _ = resolve(
            ctx.realm, doc.get("IncomeAccountRef"), "Account", "IncomeAccountRef", needed=True
        )
        doc["IncomeAccountRef"] = ref
    if doc.get("ExpenseAccountRef") is not None:
        doc["ExpenseAccountRef"], _ = resolve(
            ctx.realm, doc["ExpenseAccountRef"], "Account", "ExpenseAccountRef"
        )
    if doc.get("UnitPrice") is not None:
        doc["UnitPrice"] = to_decimal(doc["UnitPrice"], "UnitPrice")
    return doc


def normalise_account(doc: Json, ctx: Context) -> Json:
    """Account: unique Name, known AccountType; Classification and default subtype derived."""
    _named(doc, ctx, "Account")
    _forbidden_characters(doc, "Name", '":')
    _forbidden_characters(doc, "AcctNum", ":")
    if not doc.get("AccountType"):
        raise QboFault(
            "6010",
            "Required param missing, need to supply the required value for the API",
            "An account needs an AccountType (and may give an AccountSubType).",
            element="AccountType",
        )
    doc["AccountType"] = _enum(doc["AccountType"], set(ACCOUNT_TYPES), "AccountType")
    doc["Classification"] = ACCOUNT_TYPES[doc["AccountType"]]
    if not doc.get("AccountSubType"):
        doc["AccountSubType"] = DEFAULT_SUBTYPES[doc["AccountType"]]
    doc.setdefault("SubAccount", False)
    doc.setdefault("CurrentBalance", ZERO)
    if ctx.old is not None:
        doc["CurrencyRef"] = ctx.old.get("CurrencyRef")
    else:
        code = ref_value(doc.get("CurrencyRef")) or _home(ctx.realm)
        if code != _home(ctx.realm):
            if not _multicurrency(ctx.realm):
                raise business(
                    f"Currency {code} can only be used when multicurrency is enabled.",
                    "CurrencyRef",
                )
            if doc["AccountType"] not in FOREIGN_CURRENCY_TYPES:
                raise business(
                    f"An account of type {doc['AccountType']} is always in the home currency.",
                    "CurrencyRef",
                )
        doc["CurrencyRef"] = currency_ref(code)
    return doc


def normalise_simple_list(entity: str) -> Callable[[Json, Context], Json]:
    """Class, Department: a unique Name is all they need."""

    def normalise(doc: Json, ctx: Context) -> Json:
        _named(doc, ctx, entity)
        doc.setdefault("SubClass" if entity == "Class" else "SubDepartment", False)
        return doc

    return normalise


def normalise_payment_method(doc: Json, ctx: Context) -> Json:
    """PaymentMethod: unique Name and a CREDIT_CARD / NON_CREDIT_CARD type."""
    _named(doc, ctx, "PaymentMethod", 31)
    doc["Type"] = _enum(
        doc.get("Type", "NON_CREDIT_CARD"), {"CREDIT_CARD", "NON_CREDIT_CARD"}, "Type"
    )
    return doc


# ---------------------------------------------------------------- transactions


def _header(doc: Json, ctx: Context, entity: str, customer: Json | None) -> None:
    realm = ctx.realm
    prefs = realm.singleton("Preferences")
    custom = bool(prefs.get("SalesFormsPrefs", {}).get("CustomTxnNumbers"))
    length(doc, "DocNumber", 21)
    length(doc, "PrivateNote", 4000)
    auto = doc.get("DocNumber") == AUTO_GENERATE and entity in AUTO_GENERATE_TYPES
    if auto or (doc.get("DocNumber") in (None, "") and entity in UNIQUE_DOCNUMBER and not custom):
        realm.auto_doc_number += 1
        doc["DocNumber"] = str(realm.auto_doc_number)
    number = doc.get("DocNumber")
    check = entity in UNIQUE_DOCNUMBER or (
        entity in DUPLICATE_DOCNUMBER_ALLOWED and "allowduplicatedocnum" not in ctx.options
    )
    if number not in (None, "") and custom and check:
        for other in realm.entities[entity].values():
            if other["Id"] != ctx.own_id and other.get("DocNumber") == number:
                raise QboFault(
                    "6140",
                    "Duplicate Document Number Error",
                    f"Duplicate Document Number Error : DocNumber={number} is already used by "
                    f"TxnType={entity} with TxnId={other['Id']}. Supply another number.",
                    element="DocNumber",
                )
    txn_date = doc.get("TxnDate") or today()
    try:
        date.fromisoformat(str(txn_date))
    except ValueError:
        raise business(f"TxnDate {txn_date} is not a valid date.", "TxnDate") from None
    doc["TxnDate"] = str(txn_date)
    home = _home(realm)
    wanted = ref_value(doc.get("CurrencyRef"))
    if customer is not None:
        own = ref_value(customer.get("CurrencyRef")) or home
        if wanted is not None and wanted != own:
            raise business(
                f"The transaction currency {wanted} differs from the currency {own} of "
                f"customer {customer['Id']}.",
                "CurrencyRef",
            )
        wanted = own
    code = wanted or home
    if code != home and not _multicurrency(realm):
        raise business(f"Currency {code} needs multicurrency enabled.", "CurrencyRef")
    doc["CurrencyRef"] = currency_ref(code)
    rate = doc.get("ExchangeRate")
    # Home-currency transactions are always at 1. A foreign one without a rate is booked
    # at 1 too, as QBO documents (the FX = 1 trap integrations fall into).
    doc["ExchangeRate"] = (
        Decimal(1) if code == home or rate is None else to_decimal(rate, "ExchangeRate")
    )
    if doc["ExchangeRate"] <= 0:
        raise business("ExchangeRate must be greater than zero.", "ExchangeRate")
    if doc.get("DepartmentRef") is not None:
        doc["DepartmentRef"], _ = resolve(
            realm, doc["DepartmentRef"], "Department", "DepartmentRef"
        )


def _line_ids(lines: list[Json], old: Json | None) -> None:
    """Keep ids of lines that exist on the stored entity; number the others."""
    known = {str(line.get("Id")) for line in (old or {}).get("Line", []) if line.get("Id")}
    used = {int(i) for i in known if i.isdigit()}
    counter = max(used, default=0)
    for line in lines:
        line_id = str(line.get("Id", ""))
        if line_id in known and line_id.isdigit() and int(line_id) > 0:
            continue
        counter += 1
        line["Id"] = str(counter)
    for number, line in enumerate(lines, start=1):
        line["LineNum"] = number


def _lines(doc: Json) -> list[Json]:
    lines = doc.get("Line")
    if lines is None:
        return []
    if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
        raise business("Line must be a list of objects.", "Line")
    return lines


def _qty_times_price(line: Json, detail: Json, prefix: str) -> None:
    """Fill or check a line's Amount against Qty x UnitPrice (6070 when they differ)."""
    qty = detail.get("Qty")
    price = detail.get("UnitPrice")
    qty_d = None if qty is None else to_decimal(qty, f"{prefix}.Qty")
    price_d = None if price is None else to_decimal(price, f"{prefix}.UnitPrice")
    if line.get("Amount") is None:
        if qty_d is None or price_d is None:
            raise required("Line.Amount")
        line["Amount"] = cents(qty_d * price_d)
    line["Amount"] = amount(line["Amount"], "Line.Amount")
    if qty_d is not None and price_d is not None and cents(qty_d * price_d) != line["Amount"]:
        raise QboFault(
            "6070",
            "Amount is not equal to UnitPrice * Qty",
            f"Amount calculation error : Amount {line['Amount']} does not equal "
            f"UnitPrice {price_d} * Qty {qty_d}.",
            element="Line.Amount",
        )


def _sales_lines(doc: Json, ctx: Context) -> Decimal:
    """Validate sales lines; return the TotalAmt before tax."""
    realm = ctx.realm
    kept: list[Json] = []
    subtotal = ZERO
    discounts: list[Json] = []
    for line in _lines(doc):
        kind = line.get("DetailType")
        if kind == "SubTotalLineDetail":
            continue  # recomputed below, as QBO does
        if kind == "SalesItemLineDetail":
            detail = line.setdefault("SalesItemLineDetail", {})
            ref = detail.get("ItemRef") or {"value": "1"}
            detail["ItemRef"], _ = resolve(
                realm, ref, "Item", "Line.SalesItemLineDetail.ItemRef", needed=True
            )
            _qty_times_price(line, detail, "Line.SalesItemLineDetail")
            for key, entity in (("TaxCodeRef", "TaxCode"), ("ClassRef", "Class")):
                if detail.get(key) is not None:
                    detail[key], _ = resolve(
                        realm, detail[key], entity, f"Line.SalesItemLineDetail.{key}"
                    )
            subtotal += line["Amount"]
        elif kind == "DiscountLineDetail":
            discounts.append(line)
        elif kind == "DescriptionOnly":
            line["Amount"] = amount(line.get("Amount", 0), "Line.Amount")
        else:
            raise QboFault(
                "2170",
                "Invalid Enumeration",
                f"Invalid Enumeration : DetailType {kind} is not valid on a sales line",
                element="Line.DetailType",
            )
        length(line, "Description", 4000)
        kept.append(line)
    total = subtotal
    for line in discounts:
        detail = line.setdefault("DiscountLineDetail", {})
        if detail.get("PercentBased"):
            pct = to_decimal(detail.get("DiscountPercent", 0), "DiscountPercent")
            line["Amount"] = cents(subtotal * pct / 100)
        line["Amount"] = amount(line.get("Amount", 0), "Line.Amount")
        ref = detail.get("DiscountAccountRef") or {
            "value": account_by_name(realm, "Discounts given")["Id"]
        }
        detail["DiscountAccountRef"], _ = resolve(
            realm, ref, "Account", "Line.DiscountLineDetail.DiscountAccountRef"
        )
        total -= line["Amount"]
    if not kept:
        raise required("Line")
    _line_ids(kept, ctx.old)
    kept.append({"Amount": subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    doc["Line"] = kept
    return total


def _tax(doc: Json) -> Decimal:
    detail = doc.get("TxnTaxDetail")
    if not isinstance(detail, dict):
        detail = {}
    tax = amount(detail.get("TotalTax", 0), "TxnTaxDetail.TotalTax")
    detail["TotalTax"] = tax
    doc["TxnTaxDetail"] = detail
    return tax


def _customer(doc: Json, ctx: Context, *, needed: bool) -> Json | None:
    ref, customer = resolve(
        ctx.realm, doc.get("CustomerRef"), "Customer", "CustomerRef", needed=needed
    )
    if ref is not None:
        doc["CustomerRef"] = ref
    return customer


def _applied(realm: Realm, entity: str, entity_id: str | None) -> Decimal:
    if entity_id is None:
        return ZERO
    return sum(realm.applications.get((entity, entity_id), {}).values(), ZERO)


def normalise_sales(entity: str) -> Callable[[Json, Context], Json]:
    """Invoice, CreditMemo, SalesReceipt, RefundReceipt."""

    def normalise(doc: Json, ctx: Context) -> Json:
        realm = ctx.realm
        customer = _customer(doc, ctx, needed=entity in ("Invoice", "CreditMemo"))
        _header(doc, ctx, entity, customer)
        total = _sales_lines(doc, ctx) + _tax(doc)
        if total < 0:
            raise business("The transaction total cannot be negative.", "TotalAmt")
        doc["TotalAmt"] = total
        doc["HomeTotalAmt"] = cents(total * doc["ExchangeRate"])
        applied = _applied(realm, entity, ctx.own_id)
        if entity in ("Invoice", "CreditMemo"):
            if total < applied:
                raise business(
                    f"The total {total} is less than the {applied} already applied to it.",
                    "TotalAmt",
                )
            doc["Balance"] = total - applied
            if entity == "CreditMemo":
                doc["RemainingCredit"] = total - applied
        else:
            doc["Balance"] = ZERO
        if entity == "Invoice":
            doc.setdefault("DueDate", doc["TxnDate"])
            doc.setdefault("EmailStatus", "NotSet")
            doc.setdefault("PrintStatus", "NotSet")
            doc.setdefault("AllowOnlineCreditCardPayment", False)
            doc.setdefault("AllowOnlineACHPayment", False)
            doc.setdefault("Deposit", ZERO)
            memo = doc.get("CustomerMemo")
            if isinstance(memo, dict):
                length(memo, "value", 1000)
            _email(doc, "BillEmail")
        if entity in ("SalesReceipt", "RefundReceipt"):
            default = None
            if entity == "SalesReceipt":
                default = {"value": account_by_name(realm, "Undeposited Funds")["Id"]}
            ref = doc.get("DepositToAccountRef") or default
            doc["DepositToAccountRef"], account = resolve(
                realm, ref, "Account", "DepositToAccountRef", needed=True
            )
            _account_of_type(account, CASH_TYPES, "DepositToAccountRef", "DepositToAccountRef")
        if doc.get("PaymentMethodRef") is not None:
            doc["PaymentMethodRef"], _ = resolve(
                realm, doc["PaymentMethodRef"], "PaymentMethod", "PaymentMethodRef"
            )
        return doc

    return normalise


def normalise_payment(doc: Json, ctx: Context) -> Json:
    """Payment: lines link invoices/credit memos of the same customer within their balance."""
    realm = ctx.realm
    customer = _customer(doc, ctx, needed=True)
    assert customer is not None
    _header(doc, ctx, "Payment", customer)
    if doc.get("TotalAmt") is None:
        raise required("TotalAmt")
    total = amount(doc["TotalAmt"], "TotalAmt")
    if total < 0:
        raise business("A payment amount cannot be negative.", "TotalAmt")
    doc["TotalAmt"] = total
    ref = doc.get("DepositToAccountRef") or {
        "value": account_by_name(realm, "Undeposited Funds")["Id"]
    }
    doc["DepositToAccountRef"], account = resolve(
        realm, ref, "Account", "DepositToAccountRef", needed=True
    )
    _account_of_type(account, CASH_TYPES, "DepositToAccountRef", "DepositToAccountRef")
    if doc.get("PaymentMethodRef") is not None:
        doc["PaymentMethodRef"], _ = resolve(
            realm, doc["PaymentMethodRef"], "PaymentMethod", "PaymentMethodRef"
        )
    net = ZERO
    seen: set[tuple[str, str]] = set()
    for line in _lines(doc):
        line["Amount"] = amount(line.get("Amount", 0), "Line.Amount")
        links = line.get("LinkedTxn") or []
        if len(links) != 1:
            raise business("Each payment line links exactly one transaction.", "Line.LinkedTxn")
        link = links[0]
        target_type = _enum(link.get("TxnType"), {"Invoice", "CreditMemo"}, "LinkedTxn.TxnType")
        target_id = str(link.get("TxnId", ""))
        target = realm.get(target_type, target_id)
        if target is None:
            raise QboFault(
                "610",
                "Object Not Found",
                f"Object Not Found : {target_type} {target_id} linked from this payment does "
                "not exist or was deleted.",
                element="Line.LinkedTxn.TxnId",
            )
        if ref_value(target.get("CustomerRef")) != customer["Id"]:
            raise QboFault(
                "620",
                "Transaction cannot be linked",
                f"{target_type} {target_id} belongs to another customer and cannot be linked "
                "to this payment.",
                element="Line.LinkedTxn.TxnId",
            )
        if (target_type, target_id) in seen:
            raise business(f"{target_type} {target_id} is linked twice.", "Line.LinkedTxn")
        seen.add((target_type, target_id))
        mine = realm.applications.get((target_type, target_id), {}).get(ctx.own_id or "", ZERO)
        available = target["TotalAmt"] - _applied(realm, target_type, target_id) + mine
        if line["Amount"] > available:
            raise business(
                f"The amount {line['Amount']} applied to {target_type} {target_id} exceeds its "
                f"open balance {available}.",
                "Line.Amount",
            )
        line["LinkedTxn"] = [{"TxnId": target_id, "TxnType": target_type}]
        net += line["Amount"] if target_type == "Invoice" else -line["Amount"]
    if net > total:
        raise business(f"The lines apply {net}, more than the payment amount {total}.", "TotalAmt")
    doc["UnappliedAmt"] = total - net
    doc.setdefault("ProcessPayment", False)
    return doc


def normalise_purchase(doc: Json, ctx: Context) -> Json:
    """Purchase (expense, check, card charge): Dr lines, Cr the payment account."""
    realm = ctx.realm
    doc["PaymentType"] = _enum(
        doc.get("PaymentType"), {"Cash", "Check", "CreditCard"}, "PaymentType"
    )
    doc["AccountRef"], paying = resolve(
        realm, doc.get("AccountRef"), "Account", "AccountRef", needed=True
    )
    _account_of_type(
        paying,
        PURCHASE_ACCOUNT_TYPES[doc["PaymentType"]],
        "AccountRef",
        f"the AccountRef of a {doc['PaymentType']} purchase",
    )
    customer = None
    entity_ref = doc.get("EntityRef")
    if isinstance(entity_ref, dict) and entity_ref.get("type", "Customer") == "Customer":
        ref, customer = resolve(realm, entity_ref, "Customer", "EntityRef")
        if ref is not None:
            doc["EntityRef"] = {**ref, "type": "Customer"}
    _header(doc, ctx, "Purchase", None)
    total = ZERO
    for line in _lines(doc):
        kind = line.get("DetailType")
        if kind != "ItemBasedExpenseLineDetail":
            line["Amount"] = amount(line.get("Amount", 0), "Line.Amount")
        if kind == "AccountBasedExpenseLineDetail":
            detail = line.setdefault("AccountBasedExpenseLineDetail", {})
            detail["AccountRef"], _ = resolve(
                realm,
                detail.get("AccountRef"),
                "Account",
                "Line.AccountBasedExpenseLineDetail.AccountRef",
                needed=True,
            )
        elif kind == "ItemBasedExpenseLineDetail":
            detail = line.setdefault("ItemBasedExpenseLineDetail", {})
            detail["ItemRef"], _ = resolve(
                realm,
                detail.get("ItemRef"),
                "Item",
                "Line.ItemBasedExpenseLineDetail.ItemRef",
                needed=True,
            )
            _qty_times_price(line, detail, "Line.ItemBasedExpenseLineDetail")
        else:
            raise QboFault(
                "2170",
                "Invalid Enumeration",
                f"Invalid Enumeration : DetailType {kind}",
                element="Line.DetailType",
            )
        total += line["Amount"]
    if not _lines(doc):
        raise required("Line")
    _line_ids(_lines(doc), ctx.old)
    del customer
    doc["TotalAmt"] = total
    doc.setdefault("Credit", False)
    return doc


def normalise_deposit(doc: Json, ctx: Context) -> Json:
    """Deposit: Dr the bank account, Cr line accounts or the linked payments' account."""
    realm = ctx.realm
    doc["DepositToAccountRef"], target = resolve(
        realm, doc.get("DepositToAccountRef"), "Account", "DepositToAccountRef", needed=True
    )
    _account_of_type(target, CASH_TYPES, "DepositToAccountRef", "a deposit's account")
    assert target is not None
    if target.get("AccountSubType") == "UndepositedFunds":
        raise business(
            "Select a bank account for this deposit, not Undeposited Funds.",
            "DepositToAccountRef",
        )
    _header(doc, ctx, "Deposit", None)
    total = ZERO
    for line in _lines(doc):
        line["Amount"] = amount(line.get("Amount", 0), "Line.Amount")
        links = line.get("LinkedTxn") or []
        if links:
            link = links[0]
            kind = _enum(link.get("TxnType"), {"Payment", "SalesReceipt"}, "LinkedTxn.TxnType")
            target_id = str(link.get("TxnId", ""))
            source = realm.get(kind, target_id)
            if source is None:
                raise QboFault(
                    "610",
                    "Object Not Found",
                    f"Object Not Found : {kind} {target_id} does not exist.",
                    element="Line.LinkedTxn.TxnId",
                )
            held = realm.get("Account", ref_value(source.get("DepositToAccountRef")))
            if held is None or held.get("AccountSubType") != "UndepositedFunds":
                raise business(
                    f"{kind} {target_id} was not received into Undeposited Funds, so there is "
                    "nothing to deposit.",
                    "Line.LinkedTxn",
                )
            holders = realm.deposited.get(target_id, set()) - {ctx.own_id or ""}
            if kind == "Payment" and holders:
                raise business(f"Payment {target_id} is already deposited.", "Line.LinkedTxn")
            line["LinkedTxn"] = [{"TxnId": target_id, "TxnType": kind, "TxnLineId": "0"}]
        else:
            line["DetailType"] = "DepositLineDetail"
            detail = line.setdefault("DepositLineDetail", {})
            ref, account = resolve(
                realm,
                detail.get("AccountRef"),
                "Account",
                "Line.DepositLineDetail.AccountRef",
                needed=True,
            )
            _account_of_type(
                account,
                DEPOSIT_LINE_TYPES,
                "Line.DepositLineDetail.AccountRef",
                "the account of a deposit line",
            )
            detail["AccountRef"] = ref
            entity = detail.get("Entity")
            if isinstance(entity, dict) and entity.get("type", "Customer") == "Customer":
                entity_ref, _ = resolve(realm, entity, "Customer", "Line.DepositLineDetail.Entity")
                if entity_ref is not None:
                    detail["Entity"] = {**entity_ref, "type": "Customer"}
            if detail.get("PaymentMethodRef") is not None:
                detail["PaymentMethodRef"], _ = resolve(
                    realm,
                    detail["PaymentMethodRef"],
                    "PaymentMethod",
                    "Line.DepositLineDetail.PaymentMethodRef",
                )
        total += line["Amount"]
    if not _lines(doc):
        raise required("Line")
    _line_ids(_lines(doc), ctx.old)
    doc["TotalAmt"] = total
    return doc


def normalise_journal(doc: Json, ctx: Context) -> Json:
    """JournalEntry: debits equal credits (6000, UNCONFIRMED code)."""
    realm = ctx.realm
    _header(doc, ctx, "JournalEntry", None)
    debits = credits = ZERO
    for line in _lines(doc):
        if line.get("DetailType", "JournalEntryLineDetail") == "DescriptionOnly":
            continue
        line["DetailType"] = "JournalEntryLineDetail"
        line["Amount"] = amount(line.get("Amount", 0), "Line.Amount")
        detail = line.setdefault("JournalEntryLineDetail", {})
        posting = _enum(
            detail.get("PostingType"),
            {"Debit", "Credit"},
            "Line.JournalEntryLineDetail.PostingType",
        )
        ref, account = resolve(
            realm,
            detail.get("AccountRef"),
            "Account",
            "Line.JournalEntryLineDetail.AccountRef",
            needed=True,
        )
        assert account is not None
        detail["AccountRef"] = ref
        entity = detail.get("Entity")
        if (
            isinstance(entity, dict)
            and entity.get("Type", "Customer") == "Customer"
            and (entity.get("EntityRef") is not None)
        ):
            eref, _ = resolve(
                realm,
                entity.get("EntityRef"),
                "Customer",
                "Line.JournalEntryLineDetail.Entity.EntityRef",
            )
            detail["Entity"] = {"Type": "Customer", "EntityRef": eref}
        elif account.get("AccountType") == "Accounts Receivable":
            raise business(
                "A line on an Accounts Receivable account needs a customer.",
                "Line.JournalEntryLineDetail.Entity",
            )
        elif account.get("AccountType") == "Accounts Payable":
            # A/P lines need a Vendor; vendors are not emulated, so any reference is unknown.
            if not isinstance(entity, dict) or entity.get("Type") != "Vendor":
                raise business(
                    "A line on an Accounts Payable account needs a vendor.",
                    "Line.JournalEntryLineDetail.Entity",
                )
            resolve(
                realm,
                entity.get("EntityRef"),
                "Vendor",
                "Line.JournalEntryLineDetail.Entity.EntityRef",
                needed=True,
            )
        if posting == "Debit":
            debits += line["Amount"]
        else:
            credits += line["Amount"]
    if debits == ZERO or credits == ZERO or debits != credits:
        raise business(
            f"Journal entry is out of balance: debits {debits}, credits {credits}.", "Line"
        )
    _line_ids(_lines(doc), ctx.old)
    doc["TotalAmt"] = debits
    doc.setdefault("Adjustment", False)
    return doc


def normalise_preferences(doc: Json, ctx: Context) -> Json:
    """Preferences: multicurrency cannot be switched off, the home currency never changes."""
    old = ctx.old or {}
    was = bool(old.get("CurrencyPrefs", {}).get("MultiCurrencyEnabled"))
    prefs = doc.setdefault("CurrencyPrefs", {})
    if bool(prefs.get("MultiCurrencyEnabled")) != was:
        # Multicurrency is switched on in the QBO UI only, and never off again.
        raise business(
            "Multicurrency can only be turned on in QuickBooks itself, and never off.",
            "CurrencyPrefs.MultiCurrencyEnabled",
        )
    prefs["HomeCurrency"] = {"value": ctx.realm.home_currency}
    return doc


def normalise_company_info(doc: Json, ctx: Context) -> Json:
    """CompanyInfo: a name is required."""
    if not doc.get("CompanyName"):
        raise required("CompanyName")
    del ctx
    return doc


NORMALISERS: dict[str, Callable[[Json, Context], Json]] = {
    "Customer": normalise_customer,
    "Item": normalise_item,
    "Account": normalise_account,
    "Class": normalise_simple_list("Class"),
    "Department": normalise_simple_list("Department"),
    "PaymentMethod": normalise_payment_method,
    "Invoice": normalise_sales("Invoice"),
    "CreditMemo": normalise_sales("CreditMemo"),
    "SalesReceipt": normalise_sales("SalesReceipt"),
    "RefundReceipt": normalise_sales("RefundReceipt"),
    "Payment": normalise_payment,
    "Purchase": normalise_purchase,
    "Deposit": normalise_deposit,
    "JournalEntry": normalise_journal,
    "Preferences": normalise_preferences,
    "CompanyInfo": normalise_company_info,
}
