"""The entity catalog: which QBO entities exist and what may be done with each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EntityKind:
    """Static facts about one QBO entity type."""

    name: str
    name_list: bool = False
    transaction: bool = False
    writable: bool = True
    deletable: bool = False
    singleton: bool = False
    cdc: bool = True


KINDS: dict[str, EntityKind] = {
    kind.name.lower(): kind
    for kind in (
        EntityKind("Customer", name_list=True),
        EntityKind("Item", name_list=True),
        EntityKind("Account", name_list=True),
        EntityKind("Class", name_list=True),
        EntityKind("Department", name_list=True),
        EntityKind("PaymentMethod", name_list=True),
        EntityKind("TaxCode", name_list=True, writable=False, cdc=False),
        EntityKind("TaxRate", name_list=True, writable=False, cdc=False),
        EntityKind("Invoice", transaction=True, deletable=True),
        EntityKind("Payment", transaction=True, deletable=True),
        EntityKind("CreditMemo", transaction=True, deletable=True),
        EntityKind("RefundReceipt", transaction=True, deletable=True),
        EntityKind("SalesReceipt", transaction=True, deletable=True),
        EntityKind("Purchase", transaction=True, deletable=True),
        EntityKind("Deposit", transaction=True, deletable=True),
        EntityKind("JournalEntry", transaction=True, deletable=True),
        EntityKind("Preferences", singleton=True),
        EntityKind("CompanyInfo", singleton=True),
    )
}

# DocNumber must be unique per entity type for these when custom numbers are on.
UNIQUE_DOCNUMBER = frozenset({"Invoice", "CreditMemo", "SalesReceipt", "RefundReceipt"})
# These accept include=allowduplicatedocnum.
DUPLICATE_DOCNUMBER_ALLOWED = frozenset({"Purchase", "JournalEntry"})
# Types that may be voided and the URL form QBO documents for them.
VOIDABLE_BY_OPERATION = frozenset({"Invoice"})
VOIDABLE_BY_INCLUDE = frozenset({"Payment", "SalesReceipt"})


def kind_for(segment: str) -> EntityKind | None:
    """Look up an entity by its URL segment or query name (case-insensitive)."""
    return KINDS.get(segment.lower())
