r"""Build QBO `SELECT` statements with correctly escaped literals.

QBO string literals are single-quoted and use backslash escapes, so both `\\` and `'`
must be escaped (peers that escaped only `'` let a trailing backslash swallow the closing
quote: python-quickbooks #319). Everything else, including U+2019 (right single quote), colons and
non-ASCII, passes through unchanged; httpx URL-encodes the statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

_IDENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")

Scalar = str | int | Decimal | bool | date | datetime


def quote_literal(value: str) -> str:
    r"""Quote a string as a QBO query literal.

    Args:
        value: Any text, e.g. a customer's DisplayName.

    Returns:
        The literal with surrounding quotes, e.g. `'O\\'Brien'`.
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def literal(value: Scalar) -> str:
    """Render a Python value as a QBO query literal.

    Args:
        value: str, int, Decimal, bool, date or aware datetime.

    Returns:
        The literal text (strings and dates quoted, numbers bare, booleans lowercase).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("QBO datetimes must be timezone-aware")
        return quote_literal(value.isoformat())
    if isinstance(value, date):
        return quote_literal(value.isoformat())
    return quote_literal(value)


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a QBO identifier: {name!r}")
    return name


@dataclass(frozen=True)
class Cond:
    """A comparison other than `=`: `Cond("LIKE", "Acme%")`, `Cond("IN", ["1", "2"])`."""

    op: str
    value: Scalar | Iterable[Scalar]

    def render(self, column: str) -> str:
        """Render `column <op> <literal>`."""
        op = self.op.upper()
        if op == "IN":
            if isinstance(self.value, str) or not isinstance(self.value, Iterable):
                raise ValueError("IN needs a list of values")
            values = [literal(v) for v in self.value]
            if not values:
                raise ValueError("IN needs at least one value")
            return f"{column} IN ({', '.join(values)})"
        if op not in {"=", "<", ">", "<=", ">=", "LIKE"}:
            raise ValueError(f"QBO queries do not support operator {self.op!r}")
        if isinstance(self.value, Iterable) and not isinstance(self.value, str):
            raise TypeError(f"{op} needs a single value")
        return f"{column} {op} {literal(self.value)}"


@dataclass(frozen=True)
class Select:
    """A `SELECT` statement; `str(select)` renders it without paging."""

    entity: str
    where: Mapping[str, Scalar | Cond] = field(default_factory=dict)
    order_by: str | None = None
    count: bool = False

    def render(self, start_position: int | None = None, max_results: int | None = None) -> str:
        """Render the statement, optionally with STARTPOSITION (1-based) and MAXRESULTS."""
        what = "COUNT(*)" if self.count else "*"
        # Identifiers are validated and literals escaped, so formatting is safe here.
        parts = [f"SELECT {what} FROM {_ident(self.entity)}"]  # noqa: S608
        if self.where:
            conds = [
                (v if isinstance(v, Cond) else Cond("=", v)).render(_ident(k))
                for k, v in self.where.items()
            ]
            # QBO supports only AND between conditions.
            parts.append("WHERE " + " AND ".join(conds))
        if self.order_by:
            column, _, direction = self.order_by.partition(" ")
            direction = direction.strip().upper()
            if direction not in {"", "ASC", "DESC"}:
                raise ValueError(f"bad ORDERBY direction {direction!r}")
            parts.append(f"ORDERBY {_ident(column)}" + (f" {direction}" if direction else ""))
        if start_position is not None:
            parts.append(f"STARTPOSITION {int(start_position)}")
        if max_results is not None:
            parts.append(f"MAXRESULTS {int(max_results)}")
        return " ".join(parts)

    def __str__(self) -> str:
        return self.render()


def select(
    entity: str,
    where: Mapping[str, Scalar | Cond] | None = None,
    *,
    order_by: str | None = None,
) -> Select:
    """Start a `SELECT * FROM entity` statement.

    Args:
        entity: QBO entity name (case-sensitive), e.g. "Customer".
        where: Column -> value (equality) or `Cond`; joined with AND.
        order_by: Column, optionally followed by ASC or DESC.

    Returns:
        The statement; pass it to `QboClient.query`/`query_all`, or `str()` it.
    """
    return Select(entity=entity, where=dict(where or {}), order_by=order_by)


def count(entity: str, where: Mapping[str, Scalar | Cond] | None = None) -> Select:
    """Start a `SELECT COUNT(*) FROM entity` statement."""
    return Select(entity=entity, where=dict(where or {}), count=True)
