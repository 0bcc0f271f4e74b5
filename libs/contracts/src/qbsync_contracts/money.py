"""Decimal money and ISO 4217 currency helpers.

QBO stores amounts with at most two decimal places, so qbsync refuses anything
finer at intake (CUR-1) instead of rounding it somewhere downstream (CUR-4).
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from iso4217 import Currency

QBO_MAX_DECIMALS = 2
CENT = Decimal("0.01")


class MoneyError(ValueError):
    """An amount or currency that qbsync cannot carry to QBO unchanged."""


@cache  # about 170 codes; looked up twice per amount-bearing event
def currency_exponent(code: str) -> int:
    """Return the ISO 4217 minor-unit exponent of `code` (USD -> 2, JPY -> 0, KWD -> 3).

    Raises:
        MoneyError: `code` is not an active ISO 4217 alpha-3 code, or has no minor unit.
    """
    try:
        currency = Currency(code)
    except ValueError:
        raise MoneyError(f"{code!r} is not an ISO 4217 currency code") from None
    exponent = currency.exponent
    if exponent is None:
        raise MoneyError(f"{code} has no minor unit (not a currency QBO can post)")
    return int(exponent)


def check_currency(code: str) -> str:
    """Return `code` if QBO can post it: ISO 4217 with at most two decimals (CUR-1)."""
    exponent = currency_exponent(code)
    if exponent > QBO_MAX_DECIMALS:
        raise MoneyError(
            f"{code} has {exponent} decimal places; QuickBooks Online accepts at most "
            f"{QBO_MAX_DECIMALS} (CUR-1)"
        )
    return code


def to_decimal(value: object) -> Decimal:
    """Convert a JSON string, int or Decimal to Decimal; floats are refused (they are inexact)."""
    if isinstance(value, bool | float):
        raise MoneyError("amounts must be strings or exact numbers, never floats")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise MoneyError(f"{value!r} is not a number") from None
    else:
        raise MoneyError(f"{type(value).__name__} is not an amount")
    if not result.is_finite():
        raise MoneyError("amounts must be finite")
    return result


def decimal_places(amount: Decimal) -> int:
    """Number of significant decimal places of `amount` (1.50 -> 1, 2 -> 0)."""
    exponent = amount.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def check_places(amount: Decimal, places: int = QBO_MAX_DECIMALS) -> Decimal:
    """Return `amount` if it has at most `places` significant decimals, else raise."""
    if decimal_places(amount) > places:
        raise MoneyError(f"{amount} has more than {places} decimal places (CUR-1)")
    return amount


def quantize_cents(amount: Decimal) -> Decimal:
    """Round to cents, half up, as QBO displays amounts; for computed values only."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
