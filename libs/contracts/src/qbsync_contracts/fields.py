"""Field types shared by the event models: money, currency, identifiers."""

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from qbsync_contracts.money import MoneyError, check_currency, check_places

MAX_QBO_AMOUNT = Decimal("9999999999.99")
"""QBO amounts have at most 10 integer digits ("15 digits in 10.5 format")."""


def _money(value: Decimal) -> Decimal:
    if abs(value) > MAX_QBO_AMOUNT:
        raise ValueError(f"{value} is larger than QuickBooks Online accepts ({MAX_QBO_AMOUNT})")
    try:
        return check_places(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


def _currency(value: str) -> str:
    try:
        return check_currency(value)
    except MoneyError as exc:
        raise ValueError(str(exc)) from None


def _no_float(value: object) -> object:
    # json.loads(parse_float=Decimal) never yields floats; a Python caller might.
    if isinstance(value, float):
        raise ValueError("amounts must be JSON strings or exact numbers, not floats")  # noqa: TRY004 - pydantic reports ValueError
    return value


Money = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(allow_inf_nan=False),
    AfterValidator(_money),
]
"""An amount with at most two decimal places (CUR-1); sign depends on the field."""

PositiveMoney = Annotated[
    Money, Field(gt=0, description="Always positive; the type says the direction.")
]
NonNegativeMoney = Annotated[Money, Field(ge=0)]

Quantity = Annotated[Decimal, BeforeValidator(_no_float), Field(allow_inf_nan=False)]
"""A line quantity or unit price: exact, any number of decimals."""

CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    AfterValidator(_currency),
    Field(description="ISO 4217 alpha-3 code whose minor unit is at most 2 decimals (CUR-1)."),
]

ExchangeRate = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    Field(gt=0, allow_inf_nan=False, description="Home-currency units per one unit of `currency`."),
]

Ref = Annotated[str, StringConstraints(min_length=1, max_length=128, strip_whitespace=True)]
"""An upstream identifier."""

DocNumber = Annotated[
    str,
    StringConstraints(min_length=1, max_length=21, strip_whitespace=True),
    Field(description="Upstream document number, used as the QBO DocNumber (max 21 characters)."),
]
