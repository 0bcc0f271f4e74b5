"""Symbolic references in command bodies: find them, and replace them with QBO ids.

`{"$ref": "<upstream ref>"}` becomes `{"value": "<QBO id>"}` (sibling keys such as
`"type"` kept), or the bare id under `TxnId`; `{"$item": "<name>"}` becomes
`{"value": "<item id>"}`. Amounts arrive as exact decimal strings and leave as Decimal,
which the QBO client writes as JSON numbers.
"""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

NUMERIC_FIELDS = frozenset(
    {
        "Amount",
        "UnitPrice",
        "Qty",
        "TotalAmt",
        "TotalTax",
        "ExchangeRate",
        "DiscountPercent",
        "DiscountAmt",
        "TaxAmount",
        "TaxPercent",
        "NetAmountTaxable",
    }
)


Symbols = tuple[frozenset[str], frozenset[str]]
"""A body's upstream refs and item names."""


class Unresolved(LookupError):
    """A `$ref` or `$item` has no QBO id yet."""


def symbols(body: Any) -> Symbols:
    """The upstream refs and item names a body refers to.

    Args:
        body: A command body (any JSON value).

    Returns:
        (refs, item names).
    """
    refs: set[str] = set()
    items: set[str] = set()
    # A loop over containers only (no call per scalar): this runs three times per command.
    # Exact type checks: bodies are parsed JSON, and isinstance's ABC path is the cost here.
    todo = [body]
    while todo:
        node = todo.pop()
        kind = type(node)
        if kind is dict:
            ref, item = node.get("$ref"), node.get("$item")
            if type(ref) is str:
                refs.add(ref)
            if type(item) is str:
                items.add(item)
            values = node.values()
        elif kind is list:
            values = node
        else:
            continue
        todo += [v for v in values if type(v) is dict or type(v) is list]
    return frozenset(refs), frozenset(items)


def _number(value: str) -> Decimal | str:
    try:
        return Decimal(value)
    except InvalidOperation:
        return value


def substitute(body: Any, refs: Mapping[str, str], items: Mapping[str, str]) -> Any:
    """A copy of `body` with every symbol replaced by its QBO id.

    Raises:
        Unresolved: a symbol is missing from `refs` / `items`.
    """

    def one(key: str | None, node: Any) -> Any:
        kind = type(node)  # exact types: bodies are parsed JSON (see `symbols`)
        if kind is dict:
            if "$ref" in node:
                ref = node["$ref"]
                if ref not in refs:
                    raise Unresolved(ref)
                if key == "TxnId":
                    return refs[ref]
                rest = {k: v for k, v in node.items() if k != "$ref"}
                return {**rest, "value": refs[ref]}
            if "$item" in node:
                name = node["$item"]
                if name not in items:
                    raise Unresolved(f"item {name}")
                rest = {k: v for k, v in node.items() if k != "$item"}
                return {**rest, "value": items[name]}
            return {k: one(k, v) for k, v in node.items()}
        if kind is list:
            return [one(key, v) for v in node]
        if kind is str and key in NUMERIC_FIELDS:
            return _number(node)
        return node

    return one(None, body)
