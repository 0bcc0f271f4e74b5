"""Wire shapes of the QBO API: URL parameters, request bodies and response parsing.

Pure functions, no I/O; `client` sends what these build and decodes with them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import orjson

from qbsync_qbo.errors import QboError, QboHttpError
from qbsync_qbo.faults import fault_from_json
from qbsync_qbo.models import BatchItemResult, Fault, QboEntity, QueryPage

MAX_REQUESTID = 50
"""QBO rejects longer requestids (error 6000)."""
MAX_BATCH_REQUESTID = 36
"""Limit for the requestid of a `/batch` request."""
PAGE_SIZE = 1000
"""QBO's MAXRESULTS cap."""

# Entities voided with a sparse update plus `include=void`; others use `operation=void`.
VOID_BY_UPDATE = frozenset({"payment", "salesreceipt", "billpayment"})


INT64 = 2**63


def _json_default(value: object) -> object:
    # Dates and datetimes never get here: orjson writes them in ISO format itself.
    if isinstance(value, Decimal):
        if not value.is_finite():
            # Not a JSON number: sent as text, so QBO refuses that one item, as it would
            # any other bad amount (a float NaN would go out as null and pass).
            return str(value)
        # QBO amounts have at most 15 significant digits ("10.5 format"), which a float
        # carries exactly, written as the shortest text that round-trips. orjson's ints
        # stop at 64 bits; a larger whole number goes out as a float for QBO to refuse.
        if value == value.to_integral_value() and -INT64 <= value < INT64:
            return int(value)
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(body: Any) -> bytes:
    """Serialise a request body to UTF-8 JSON; Decimal amounts and dates are accepted.

    orjson: the stdlib encoder was a few percent of the poster's CPU. A float goes out
    as a shortest round-trip text of the same value (`json` wrote 1e-05, orjson
    0.00001), a str-enum key (`Entity.INVOICE`) as its value, a date in ISO format.
    """
    return orjson.dumps(body, default=_json_default, option=orjson.OPT_NON_STR_KEYS)


def loads(raw: bytes) -> Any:
    """Parse a response body, keeping amounts exact as Decimal."""
    return json.loads(raw, parse_float=Decimal)


_QUERY_META = frozenset({"startPosition", "maxResults", "totalCount"})

WriteOperation = Literal["create", "update", "delete", "void"]


@dataclass(frozen=True)
class WriteOp:
    """One independent write for `QboClient.write_many`.

    Attributes:
        operation: create, update (send `sparse: true` in the body for a sparse update),
            delete or void (body carries `Id` and `SyncToken`).
        entity_type: QBO entity name, e.g. "Invoice".
        body: The entity JSON.
        requestid: Deterministic id of this write (≤50 chars), used when the write is
            sent on its own; batched writes share a requestid derived from theirs.
    """

    operation: WriteOperation
    entity_type: str
    body: dict[str, Any]
    requestid: str


@dataclass(frozen=True)
class WriteResult:
    """The outcome of one `WriteOp`: the entity QBO returned, or the error."""

    op: WriteOp
    entity: QboEntity | None = None
    error: QboError | None = None


def check_requestid(requestid: str, limit: int = MAX_REQUESTID) -> str:
    """Validate a requestid: non-empty and at most `limit` characters."""
    if not requestid or len(requestid) > limit:
        raise ValueError(f"requestid must be 1..{limit} chars, got {len(requestid)}")
    return requestid


def resource(entity_type: str) -> str:
    """URL segment of an entity: its lowercased name (`salesreceipt`)."""
    return entity_type.lower()


def write_params(op: WriteOperation, entity_type: str) -> dict[str, str]:
    """Query parameters that select the write operation."""
    if op == "delete":
        return {"operation": "delete"}
    if op == "void":
        if resource(entity_type) in VOID_BY_UPDATE:
            return {"operation": "update", "include": "void"}
        return {"operation": "void"}
    return {}


def write_body(op: WriteOperation, entity_type: str, body: dict[str, Any]) -> dict[str, Any]:
    """The body to send for a write (payment-like voids are sparse updates)."""
    if op == "void" and resource(entity_type) in VOID_BY_UPDATE:
        return {**body, "sparse": True}
    return body


def entity_from(data: dict[str, Any], entity_type: str) -> QboEntity:
    """The entity inside a `{"<Entity>": {...}, "time": ...}` envelope."""
    if entity_type in data and isinstance(data[entity_type], dict):
        return QboEntity.of(entity_type, data[entity_type])
    for key, value in data.items():  # QBO may answer with a different casing
        if key.lower() == entity_type.lower() and isinstance(value, dict):
            return QboEntity.of(key, value)
    raise QboHttpError(f"response carries no {entity_type}: {list(data)}", status_code=200)


def query_page(raw: dict[str, Any]) -> QueryPage:
    """Parse a `QueryResponse` object (possibly empty)."""
    entity_type: str | None = None
    entities: list[QboEntity] = []
    for key, value in raw.items():
        if key not in _QUERY_META and isinstance(value, list):
            entity_type = key
            entities = [QboEntity.of(key, v) for v in value if isinstance(v, dict)]
    return QueryPage(
        entity_type=entity_type,
        entities=entities,
        start_position=raw.get("startPosition"),
        max_results=raw.get("maxResults"),
        total_count=raw.get("totalCount"),
    )


def batch_item(raw: dict[str, Any]) -> BatchItemResult:
    """Parse one `BatchItemResponse` entry."""
    bid = str(raw.get("bId", ""))
    fault = fault_from_json(raw)
    if fault is not None:
        return BatchItemResult.model_construct(bid=bid, fault=fault)
    if isinstance(raw.get("QueryResponse"), dict):
        return BatchItemResult.model_construct(bid=bid, query=query_page(raw["QueryResponse"]))
    for key, value in raw.items():
        if key != "bId" and isinstance(value, dict):
            return BatchItemResult.model_construct(bid=bid, entity=QboEntity.of(key, value))
    return BatchItemResult.model_construct(bid=bid, fault=Fault(type="Unknown"))
