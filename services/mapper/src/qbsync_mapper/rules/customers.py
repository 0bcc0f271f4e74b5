"""Customers (CUS-1..CUS-8): how the poster finds or creates the QBO customer.

The mapper never knows QBO ids; it tells the poster how to resolve the customer.
"""

import re

from qbsync_contracts.events import Customer
from qbsync_core.commands import CustomerResolution, MatchStrategy, customer_number_note
from qbsync_core.errors import ErrorCategory

from qbsync_mapper.rules.core import Mapping

# QBO refuses ':' , tabs and newlines in DisplayName; replace them rather than fail.
_DISPLAY_NAME_BANNED = str.maketrans({":": "-", "\t": " ", "\n": " ", "\r": " "})
MAX_DISPLAY_NAME = 500


def display_name(text: str) -> str:
    """`text` made acceptable as a QBO DisplayName."""
    return text.translate(_DISPLAY_NAME_BANNED).strip()[:MAX_DISPLAY_NAME]


def customer_ref(m: Mapping, customer: Customer) -> str:
    """Symbolic ref of the QBO customer of `customer`: one per currency (CUS-3, CUR-2)."""
    return m.ref("customer", f"{customer.ref}:{customer.currency}")


def resolve_customer(m: Mapping, customer: Customer) -> CustomerResolution | None:
    """How to find or create the QBO customer, by the tenant's strategy (CUS-1..4, CUS-6).

    Returns None after reporting an Account error when the strategy needs a value the
    customer lacks (an e-mail for CUS-1, a number for CUS-3).
    """
    settings = m.settings.customers
    name = display_name(customer.company or customer.name)
    create: dict[str, object] = {"DisplayName": name}
    if customer.company:
        create["CompanyName"] = customer.company
    if customer.email:
        create["PrimaryEmailAddr"] = {"Address": customer.email}
    if m.settings.multicurrency:
        # Customer.CurrencyRef is read-only after create: set it now (CUR-2).
        create["CurrencyRef"] = {"value": customer.currency}
    lookup: dict[str, str]
    if settings.strategy is MatchStrategy.EMAIL:
        if not customer.email:
            m.fail(
                ErrorCategory.ACCOUNT,
                f"Customer {customer.name!r} has no e-mail address, and this tenant matches "
                "QuickBooks customers by e-mail.",
                code="customer-without-email",
                field="data.customer.email",
                customer_ref=customer_ref(m, customer),
            )
            return None
        lookup = {"email": customer.email}
    elif settings.strategy is MatchStrategy.DISPLAY_NAME:
        lookup = {"display_name": name}
    else:
        if not customer.number:
            m.fail(
                ErrorCategory.ACCOUNT,
                f"Customer {customer.name!r} has no customer number, and this tenant matches "
                "QuickBooks customers by number and currency.",
                code="customer-without-number",
                field="data.customer.number",
                customer_ref=customer_ref(m, customer),
            )
            return None
        name = display_name(f"{customer.company or customer.name}/{customer.currency}")
        create["DisplayName"] = name
        create["Notes"] = customer_number_note(customer.number)
        # The name to use when `name` is taken by another number's customer (CUS-3).
        numbered = display_name(
            f"{customer.company or customer.name} ({customer.number})/{customer.currency}"
        )
        lookup = {
            "display_name": name,
            "numbered_display_name": numbered,
            "number": customer.number,
            "currency": customer.currency,
        }
    return CustomerResolution(
        upstream_ref=customer_ref(m, customer),
        strategy=settings.strategy,
        lookup=lookup,
        auto_create=settings.auto_create,
        create=create,
    )


def do_not_sync(m: Mapping, customer_ref_upstream: str | None) -> bool:
    """Whether the customer's transactions are held (CUS-8).

    Held when the settings list the customer or an operator stopped syncing it in
    the errors service (`stop_syncing`, kept in `stopped_customers`).
    """
    return customer_ref_upstream is not None and (
        customer_ref_upstream in m.settings.customers.do_not_sync
        or customer_ref_upstream in m.state.stopped_customers
    )


_CURRENCY_SUFFIX = re.compile(r"(?P<ref>.+):[A-Z]{3}")


def upstream_customer_ref(tenant_id: str, ref: str) -> str:
    """The upstream customer ref an operator action names.

    Errors carry the poster's symbolic `customer:<tenant>:<ref>:<currency>` (one QBO
    customer per currency, CUS-3); do-not-sync applies to the upstream customer in
    every currency, so the symbolic form is reduced to `<ref>`. A bare ref is kept.
    """
    prefix = f"customer:{tenant_id}:"
    if not ref.startswith(prefix):
        return ref
    rest = ref[len(prefix) :]
    match = _CURRENCY_SUFFIX.fullmatch(rest)
    return match["ref"] if match else rest
