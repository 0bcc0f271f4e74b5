"""Exact JSON in and out: numbers stay Decimal, never float (money end to end).

FastAPI's body parsing uses `json.loads`, which turns `1.0825000000000000001` into
the float 1.0825; these helpers read numbers as Decimal and write them back as the
same text, so an event handed over HTTP keeps the digits it was sent with.
"""

import json
from decimal import Decimal
from typing import Any


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads(text: bytes | str) -> Any:
    """Parse JSON; non-integer numbers become Decimal, NaN and Infinity are refused.

    Raises:
        ValueError: not JSON (json.JSONDecodeError) or NaN / Infinity.
    """
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


def dumps(value: Any) -> str:
    """Compact JSON of what `loads` gives; a Decimal is written as its exact number text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)
