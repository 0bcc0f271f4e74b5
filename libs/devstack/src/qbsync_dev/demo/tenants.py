"""The three demo tenants: their QBO chart additions and their settings documents.

Settings name accounts by their QBO names here; `settings_document` swaps in the
ids the tenant's company gave them. The expected outcome reads the same tables,
so the demo and its check cannot drift apart.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

HOTEL = "harbour-hotel"
JOURNAL_HOTEL = "alfama-hotel"
STUDIO = "flow-studio"
TENANTS = (HOTEL, JOURNAL_HOTEL, STUDIO)
HOME_CURRENCY = "USD"

# Seeded accounts of every sandbox company (libs/sandbox seed.py).
AR = "Accounts Receivable (A/R)"
CHECKING = "Checking"
UNDEPOSITED = "Undeposited Funds"
SALES_TAX = "Sales Tax Payable"
REFUNDS = "Refunds"
BANK_CHARGES = "Bank Charges"
DISCOUNTS = "Discounts given"


@dataclass(frozen=True)
class Chart:
    """What the accountant adds to a fresh company before connecting it."""

    accounts: tuple[tuple[str, str], ...] = ()
    """(Name, AccountType)."""
    items: tuple[tuple[str, str], ...] = ()
    """(Item name, income account name)."""


@dataclass(frozen=True)
class DemoTenant:
    """One demo tenant: who it is and how it is configured."""

    tenant_id: str
    source: str
    label: str
    chart: Chart
    settings: dict[str, Any] = field(default_factory=dict)
    """The settings document with account *names* where ids go (see ACCOUNT_FIELDS)."""


# Hotel, document mode (Clock PMS): folios become invoices, items by revenue group+category.
HOTEL_ITEM_RULES = (
    ("Rooms", "Standard", "Room night"),
    ("Rooms", "Suite", "Suite night"),
    ("F&B", "Breakfast", "Breakfast"),
    ("F&B", "Minibar", "Minibar"),
)
SPA_RULE = ("Spa", None, "Spa treatment")
"""The mapping the hotel forgot: its spa folios fail until it is added (SET-4)."""
HOTEL_ITEMS = (
    ("Room night", "Room Revenue"),
    ("Suite night", "Room Revenue"),
    ("Breakfast", "F&B Revenue"),
    ("Minibar", "F&B Revenue"),
    ("Spa treatment", "Spa Revenue"),
)
HOTEL_TAX_RATE = 8
"""Percent; the rate of QBO's TAX code in a sandbox company."""
HOTEL_DEPOSITS = {"card": CHECKING}
HOTEL_DEFAULT_DEPOSIT = UNDEPOSITED

# Hotel, journal mode (Cloudbeds): one balanced JournalEntry per business day.
GUEST_DEPOSITS = "Guest Deposits"
JOURNAL_REVENUE = {"Rooms": "Room Revenue", "F&B": "F&B Revenue"}
JOURNAL_PAYMENTS = {"card": CHECKING}
JOURNAL_DEFAULT_PAYMENT = UNDEPOSITED
JOURNAL_ZONE = "Europe/Lisbon"

# Studio with Stripe payouts (Momence): one Deposit per payout.
STUDIO_CATEGORIES = {
    "Class packs": "Class Pack Revenue",
    "Recurring memberships": "Membership Revenue",
    "Virtual classes": "Virtual Class Revenue",
    "In-person classes": "In-person Class Revenue",
}


def _item_rules(rules: tuple[tuple[str, str | None, str], ...]) -> list[dict[str, str]]:
    out = []
    for group, category, item in rules:
        rule = {"revenue_group": group, "item": item}
        if category is not None:
            rule["revenue_category"] = category
        out.append(rule)
    return out


def demo_tenants(week_start: date) -> dict[str, DemoTenant]:
    """The three tenants; nothing dated a month before the week is exported (SET-2)."""
    export_from = (week_start - timedelta(days=30)).isoformat()
    common = {"home_currency": HOME_CURRENCY, "multicurrency": False, "export_from": export_from}
    return {
        HOTEL: DemoTenant(
            HOTEL,
            "clock-pms",
            "hotel, document mode",
            Chart(
                accounts=(
                    ("Room Revenue", "Income"),
                    ("F&B Revenue", "Income"),
                    ("Spa Revenue", "Income"),
                ),
                items=HOTEL_ITEMS,
            ),
            {
                **common,
                "customers": {"strategy": "number_currency", "auto_create": True},
                "items": {"rules": _item_rules(HOTEL_ITEM_RULES)},
                "tax": {
                    "default": {"qbo_code": "NON", "rate": 0},
                    "codes": {"VAT": {"qbo_code": "TAX", "rate": HOTEL_TAX_RATE}},
                },
                "deposit_accounts": {
                    "default": HOTEL_DEFAULT_DEPOSIT,
                    "rules": [
                        {"method": m, "currency": HOME_CURRENCY, "account": a}
                        for m, a in HOTEL_DEPOSITS.items()
                    ],
                },
                "refund_accounts": {HOME_CURRENCY: REFUNDS},
                "time_zone": "Europe/Sofia",
            },
        ),
        JOURNAL_HOTEL: DemoTenant(
            JOURNAL_HOTEL,
            "cloudbeds",
            "hotel, journal mode",
            Chart(
                accounts=(
                    (GUEST_DEPOSITS, "Other Current Liability"),
                    ("Room Revenue", "Income"),
                    ("F&B Revenue", "Income"),
                )
            ),
            {
                **common,
                "customers": {"strategy": "display_name"},
                "tax": {"default": "NON"},
                "deposit_accounts": {"default": JOURNAL_DEFAULT_PAYMENT},
                "time_zone": JOURNAL_ZONE,
                # Days are exported once the whole week is mapped (see docs/demo.md).
                "schedule": "manual",
                "journal": {
                    "accounts_receivable": AR,
                    "deposits": GUEST_DEPOSITS,
                    "ar_customer": "Guests",
                    "revenue_accounts": JOURNAL_REVENUE,
                    "default_revenue_account": JOURNAL_REVENUE["Rooms"],
                    "tax_account": SALES_TAX,
                    "payment_accounts": JOURNAL_PAYMENTS,
                    "default_payment_account": JOURNAL_DEFAULT_PAYMENT,
                    "adjustment_account": DISCOUNTS,
                },
            },
        ),
        STUDIO: DemoTenant(
            STUDIO,
            "momence",
            "studio with payouts",
            Chart(accounts=tuple((name, "Income") for name in STUDIO_CATEGORIES.values())),
            {
                **common,
                "customers": {"strategy": "email"},
                "tax": {"default": "NON"},
                "deposit_accounts": {"default": CHECKING},
                "refund_accounts": {HOME_CURRENCY: REFUNDS},
                "fee_account": BANK_CHARGES,
                "payouts": {
                    "deposit_account": CHECKING,
                    "categories": {c: {"account": a} for c, a in STUDIO_CATEGORIES.items()},
                    "fees": "line",
                },
                "time_zone": "America/New_York",
            },
        ),
    }


def _ids(value: Any, accounts: dict[str, str]) -> Any:
    """Replace every string that names an account of the company by that account's id.

    Safe here because no item, category, customer or tax-code name of the demo is
    also an account name.
    """
    if isinstance(value, dict):
        return {k: _ids(v, accounts) for k, v in value.items()}
    if isinstance(value, list):
        return [_ids(v, accounts) for v in value]
    if isinstance(value, str) and value in accounts:
        return accounts[value]
    return value


def settings_document(
    tenant: DemoTenant,
    tenant_id: str,
    realm_id: str,
    accounts: dict[str, str],
    *,
    map_spa: bool = False,
) -> dict[str, Any]:
    """The tenant's settings with account ids from its company.

    Args:
        tenant: the demo tenant (its role).
        tenant_id: the actual tenant id (the role's, maybe with a suffix).
        realm_id: its QBO company.
        accounts: account name -> QBO id, as the company's chart lists them.
        map_spa: also map the spa (the fix of the hotel's planted Mapping error).
    """
    doc: dict[str, Any] = _ids(tenant.settings, accounts)
    if map_spa and "items" in doc:
        doc["items"] = {"rules": _item_rules((*HOTEL_ITEM_RULES, SPA_RULE))}
    doc["realm_id"] = realm_id
    doc["tenant_id"] = tenant_id
    return doc
