"""Decimal money and ISO 4217 helpers (CUR-1, CUR-4)."""

from decimal import Decimal

import pytest
from qbsync_contracts.money import (
    MoneyError,
    check_currency,
    check_places,
    currency_exponent,
    decimal_places,
    quantize_cents,
    to_decimal,
)


class TestCurrency:
    @pytest.mark.parametrize(("code", "exponent"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3)])
    def test_exponent_comes_from_iso_4217(self, code: str, exponent: int) -> None:
        assert currency_exponent(code) == exponent

    def test_three_decimal_currency_is_refused_cur_1(self) -> None:
        with pytest.raises(MoneyError, match="KWD has 3 decimal places"):
            check_currency("KWD")

    def test_zero_decimal_currency_is_accepted(self) -> None:
        assert check_currency("JPY") == "JPY"

    def test_code_without_minor_unit_is_refused(self) -> None:
        with pytest.raises(MoneyError, match="no minor unit"):
            check_currency("XAU")


class TestAmounts:
    @pytest.mark.parametrize(("value", "places"), [("1.50", 1), ("2", 0), ("0.01", 2), ("1E+2", 0)])
    def test_decimal_places_ignores_trailing_zeros(self, value: str, places: int) -> None:
        assert decimal_places(Decimal(value)) == places

    def test_three_places_are_refused(self) -> None:
        with pytest.raises(MoneyError, match="more than 2 decimal places"):
            check_places(Decimal("0.001"))

    @pytest.mark.parametrize("value", [1.5, True, "abc", "Infinity", None])
    def test_to_decimal_refuses_inexact_or_non_numbers(self, value: object) -> None:
        with pytest.raises(MoneyError):
            to_decimal(value)

    def test_to_decimal_keeps_strings_exact(self) -> None:
        assert to_decimal("0.10") + to_decimal("0.20") == Decimal("0.30")

    def test_quantize_rounds_half_up(self) -> None:
        assert quantize_cents(Decimal("2.675")) == Decimal("2.68")
