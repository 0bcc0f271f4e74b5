"""Currency of documents and payments (CUR-2): the tenant's currencies and the event's rate."""

from decimal import Decimal
from typing import Any

from qbsync_core.errors import ErrorCategory

from qbsync_mapper.rules.core import Mapping


def currency_fields(
    m: Mapping, currency: str, exchange_rate: Decimal | None, category: ErrorCategory
) -> dict[str, Any] | None:
    """CurrencyRef and ExchangeRate for a document, or None after reporting why not.

    A foreign-currency document needs multicurrency on and the event's exchange rate:
    QBO would default a missing rate to 1, which books the wrong home amount, so that
    is a Validation error, never a silent 1 (CUR-2).

    Args:
        m: the mapping of the event.
        currency: the document's currency.
        exchange_rate: the event's rate (home units per one unit of `currency`).
        category: the error category of the document.
    """
    settings = m.settings
    if currency == settings.home_currency:
        return {"CurrencyRef": {"value": currency}} if settings.multicurrency else {}
    if not settings.multicurrency:
        m.fail(
            category,
            f"The document is in {currency} but the QuickBooks company works only in "
            f"{settings.home_currency} (multicurrency is off in the tenant settings).",
            code="currency-not-enabled",
            field="data.currency",
        )
        return None
    if exchange_rate is None:
        m.fail(
            ErrorCategory.VALIDATION,
            f"The {currency} document has no exchange rate to {settings.home_currency}; "
            "qbsync never assumes a rate of 1.",
            code="missing-exchange-rate",
            field="data.exchange_rate",
        )
        return None
    return {"CurrencyRef": {"value": currency}, "ExchangeRate": str(exchange_rate)}
