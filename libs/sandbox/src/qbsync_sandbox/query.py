r"""The QBO query language: ``SELECT * | COUNT(*) FROM Entity [WHERE ..] [ORDERBY ..] ...``.

Supported as QBO documents it: one entity, conditions joined by AND only, the
operators =, <, >, <=, >=, IN and LIKE (``%`` wildcard), ORDERBY with ASC/DESC,
STARTPOSITION (1-based) and MAXRESULTS (capped at 1000). String literals use single
quotes; ``\\'`` is a quote and ``\\\\`` a backslash inside them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from qbsync_sandbox.clock import parse_moment
from qbsync_sandbox.faults import QboFault

MAX_RESULTS = 1000
DEFAULT_MAX_RESULTS = 100
OPERATORS = ("<=", ">=", "=", "<", ">")


@dataclass
class Condition:
    """One ``field op value`` term."""

    path: str
    op: str
    value: Any


@dataclass
class Query:
    """A parsed statement."""

    entity: str
    count: bool = False
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)
    start: int = 1
    max_results: int = DEFAULT_MAX_RESULTS


def parse_error(detail: str) -> QboFault:
    """QueryParserError (4000)."""
    return QboFault(
        "4000", "Error parsing query", f"QueryParserError: {detail}", fault_type="ValidationFault"
    )


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:\\.|[^'\\])*')|(?P<op><=|>=|!=|=|<|>)|(?P<punct>[(),*])"
    r"|(?P<word>[^\s'(),=<>!*]+))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip() == "":
                break
            raise parse_error(f"Encountered an unexpected character at position {pos}.")
        kind = match.lastgroup or "word"
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body) and body[i + 1] in "'\\":
            out.append(body[i + 1])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise parse_error("The statement ended unexpectedly.")
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].upper() == word:
            self.pos += 1
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.keyword(word):
            found = self.peek()
            raise parse_error(f"Expected {word} but found {found[1] if found else 'end'}.")

    def literal(self) -> Any:
        kind, text = self.next()
        if kind == "str":
            return _unquote(text)
        if kind == "word":
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            try:
                return Decimal(text)
            except InvalidOperation:
                pass
        raise parse_error(f"Expected a literal value but found {text}.")

    def parse(self) -> Query:
        self.expect("SELECT")
        count = False
        if self.keyword("COUNT"):
            for expected in ("(", "*", ")"):
                if self.next()[1] != expected:
                    raise parse_error("Malformed COUNT(*).")
            count = True
        elif self.next()[1] != "*":
            raise parse_error("Only SELECT * and SELECT COUNT(*) are supported.")
        self.expect("FROM")
        kind, entity = self.next()
        if kind != "word":
            raise parse_error("Expected an entity name after FROM.")
        query = Query(entity=entity, count=count)
        if self.keyword("WHERE"):
            query.where.append(self.condition())
            while self.keyword("AND"):
                query.where.append(self.condition())
            if self.keyword("OR"):
                raise parse_error("OR is not supported; use IN or several queries.")
        if self.keyword("ORDERBY") or (self.keyword("ORDER") and self.keyword("BY")):
            while True:
                _, path = self.next()
                descending = self.keyword("DESC")
                if not descending:
                    self.keyword("ASC")
                query.order.append((path, descending))
                token = self.peek()
                if not token or token[1] != ",":
                    break
                self.pos += 1
        if self.keyword("STARTPOSITION"):
            query.start = self.integer("STARTPOSITION")
        if self.keyword("MAXRESULTS"):
            query.max_results = min(self.integer("MAXRESULTS"), MAX_RESULTS)
        if self.peek() is not None:
            raise parse_error(f"Unexpected token {self.peek()[1]}.")  # type: ignore[index]
        return query

    def integer(self, name: str) -> int:
        _, text = self.next()
        if not text.isdigit() or int(text) < 1:
            raise parse_error(f"{name} needs a positive integer.")
        return int(text)

    def condition(self) -> Condition:
        kind, path = self.next()
        if kind != "word":
            raise parse_error(f"Expected a property name but found {path}.")
        token = self.next()
        if token[0] == "op":
            if token[1] == "!=":
                raise parse_error("The operator != is not supported; QBO has no negation.")
            return Condition(path, token[1], self.literal())
        word = token[1].upper()
        if word == "LIKE":
            value = self.literal()
            if not isinstance(value, str):
                raise parse_error("LIKE needs a string.")
            return Condition(path, "LIKE", value)
        if word == "IN":
            if self.next()[1] != "(":
                raise parse_error("IN needs a parenthesised list.")
            values = [self.literal()]
            while True:
                punct = self.next()[1]
                if punct == ")":
                    break
                if punct != ",":
                    raise parse_error("Malformed IN list.")
                values.append(self.literal())
            return Condition(path, "IN", values)
        raise parse_error(f"Unsupported operator {token[1]}.")


def parse(text: str) -> Query:
    """Parse a statement.

    Raises:
        QboFault: 4000 QueryParserError.
    """
    return _Parser(text).parse()


def lookup(doc: dict[str, Any], path: str) -> Any:
    """Resolve a dotted, case-insensitive property path; references compare by value."""
    current: Any = doc
    for part in path.split("."):
        if not isinstance(current, dict):
            return None
        key = next((k for k in current if k.lower() == part.lower()), None)
        if key is None:
            return None
        current = current[key]
    if isinstance(current, dict) and "value" in current:
        return current["value"]
    return current


def _compare(left: Any, right: Any) -> int | None:
    """Three-way compare; numbers, then dates, then case-insensitive text."""
    if left is None:
        return None
    if isinstance(right, bool) or isinstance(left, bool):
        return 0 if bool(left) == right else 1
    try:
        a, b = Decimal(str(left)), Decimal(str(right))
        return (a > b) - (a < b)
    except InvalidOperation:
        pass
    if isinstance(left, str) and isinstance(right, str) and right[:4].isdigit():
        ma, mb = parse_moment(left), parse_moment(right)
        if ma is not None and mb is not None:
            return (ma > mb) - (ma < mb)
    a_text, b_text = str(left).casefold(), str(right).casefold()
    return (a_text > b_text) - (a_text < b_text)


def _like(value: Any, pattern: str) -> bool:
    if value is None:
        return False
    regex = "".join(".*" if part == "%" else re.escape(part) for part in re.split("(%)", pattern))
    return re.fullmatch(regex, str(value), flags=re.IGNORECASE | re.DOTALL) is not None


def matches(doc: dict[str, Any], condition: Condition) -> bool:
    """Evaluate one condition against a document."""
    value = lookup(doc, condition.path)
    if condition.op == "LIKE":
        return _like(value, str(condition.value))
    if condition.op == "IN":
        return any(_compare(value, option) == 0 for option in condition.value)
    result = _compare(value, condition.value)
    if result is None:
        return False
    return {
        "=": result == 0,
        "<": result < 0,
        ">": result > 0,
        "<=": result <= 0,
        ">=": result >= 0,
    }[condition.op]


def sort_key(value: Any) -> tuple[int, Any]:
    """Order mixed values: numbers, then text; missing values last."""
    if value is None:
        return (2, "")
    try:
        return (0, Decimal(str(value)))
    except InvalidOperation:
        return (1, str(value).casefold())
