"""Amount parsing: exact decimals, at most two decimal places, QBO's 10.5 number format."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from qbsync_sandbox.faults import QboFault

CENT = Decimal("0.01")
ZERO = Decimal(0)


def to_decimal(value: object, element: str) -> Decimal:
    """Parse a JSON number (or numeric string) exactly.

    Raises:
        QboFault: 2040-style invalid number (code 6000, see README) when not a number.
    """
    if isinstance(value, bool) or value is None:
        raise _invalid(element, value)
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _invalid(element, value) from None
    if not number.is_finite():
        raise _invalid(element, value)
    return number


def amount(value: object, element: str) -> Decimal:
    """Parse a currency amount; more than two decimals or over 15 digits is a fault.

    QBO documents amounts as "max 15 digits in 10.5 format" but rounds currency to
    cents; an amount with sub-cent precision is rejected here (code 6000, documented
    in the README as our choice) so integrations learn to round before posting.
    """
    number = to_decimal(value, element)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and number != number.quantize(CENT):
        raise QboFault(
            "6000",
            "A business validation error has occurred while processing your request",
            f"Business Validation Error: {element} {value} has more than two decimal places.",
            element=element,
        )
    if abs(number) >= Decimal(10) ** 10:
        raise QboFault(
            "6000",
            "A business validation error has occurred while processing your request",
            f"Business Validation Error: {element} {value} exceeds the 10.5 number format.",
            element=element,
        )
    return number.quantize(CENT)


def cents(value: Decimal) -> Decimal:
    """Round half up to cents."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _invalid(element: str, value: object) -> QboFault:
    return QboFault(
        "6000",
        "A business validation error has occurred while processing your request",
        f"Business Validation Error: {element} has an invalid number value {value!r}.",
        element=element,
    )
