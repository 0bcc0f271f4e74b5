"""Pure intake rules: decode, validate against contract v1, explain every rejection.

No I/O here. Each payload is the exact bytes of one event (a Kafka value, or one
element of an HTTP array), so an error record can keep it byte for byte.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from qbsync_contracts import Event, EventType, parse_event
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import ErrorRecord, Reason, Stage, encode_payload, record_id_for

MAX_EVENT_BYTES = 500_000
"""Larger payloads are refused before parsing (a folio is kilobytes). With base64
and the record around it, an error record still fits Kafka's default 1 MB message."""

MAX_KEPT_PAYLOAD_BYTES = 64_000
"""Of a payload refused for its size, this much is kept in its error record."""

MAX_REASONS = 50
"""Reasons listed per rejected event; the rest are counted in one more reason. A 300 kB
event of empty lines breaks hundreds of thousands of rules: listing them all made a
21 MB error record that Kafka refuses, and the batch was retried forever."""

MAX_REASON_CHARS = 500
"""Longest field path or message kept in a reason (a message may quote the input)."""


@dataclass(frozen=True)
class Valid:
    """A payload that satisfies contract v1."""

    event: Event
    raw: bytes
    carrier: Mapping[str, str] = field(default_factory=dict)
    """Trace context the upstream message carried (Kafka headers), if any."""

    @property
    def key(self) -> tuple[str, str, str]:
        """The dedupe key (tenant_id, source, event_id)."""
        return (self.event.tenant_id, self.event.source, self.event.event_id)


@dataclass(frozen=True)
class Invalid:
    """A payload that breaks the contract, with every reason."""

    raw: bytes
    reasons: tuple[Reason, ...]
    decoded: Any = None
    """The decoded JSON value when the bytes were JSON (to name tenant and event ids)."""


def _field_path(loc: tuple[int | str, ...]) -> str:
    # pydantic puts the discriminator tag first (e.g. "invoice.issued"); drop it.
    parts = [str(p) for p in loc]
    if parts and "." in parts[0]:
        parts = parts[1:]
    return ".".join(parts)


_EVENT_TYPES = ", ".join(t.value for t in EventType)


def _short(text: str) -> str:
    return text if len(text) <= MAX_REASON_CHARS else f"{text[:MAX_REASON_CHARS]}..."


def _reason(error: ErrorDetails) -> Reason:
    if error["type"] == "union_tag_invalid":
        tag = _short(repr(error.get("ctx", {}).get("tag")))
        return Reason(field="type", message=f"unknown event type {tag}; one of: {_EVENT_TYPES}")
    if error["type"] == "union_tag_not_found":
        return Reason(field="type", message=f"type is required; one of: {_EVENT_TYPES}")
    return Reason(
        field=_short(_field_path(error["loc"])),
        message=_short(error["msg"].removeprefix("Value error, ")),
    )


def _reasons(error: ValidationError) -> tuple[Reason, ...]:
    details = error.errors(include_url=False)
    reasons = [_reason(e) for e in details[:MAX_REASONS]]
    if len(details) > MAX_REASONS:
        more = len(details) - MAX_REASONS
        reasons.append(Reason(field="", message=f"{more} more problems not listed"))
    return tuple(reasons)


def validate(raw: bytes) -> Valid | Invalid:
    """Decode and validate one event's bytes; never raises."""
    if len(raw) > MAX_EVENT_BYTES:
        return Invalid(
            raw, (Reason(field="", message=f"event larger than {MAX_EVENT_BYTES} bytes"),)
        )
    try:
        decoded = json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return Invalid(raw, (Reason(field="", message=f"not UTF-8 JSON: {exc}"),))
    return validate_decoded(raw, decoded)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def validate_decoded(raw: bytes, decoded: Any) -> Valid | Invalid:
    """Validate an already-decoded event whose exact bytes are `raw`."""
    if not isinstance(decoded, dict):
        return Invalid(raw, (Reason(field="", message="an event must be a JSON object"),), decoded)
    # Cheap pre-check on the bytes before walking every string.
    if (b"u0000" in raw or b"\x00" in raw) and _has_nul(decoded):
        reason = Reason(field="", message="NUL characters are not allowed in any text field")
        return Invalid(raw, (reason,), decoded)
    try:
        return Valid(parse_event(decoded), raw)
    except ValidationError as exc:
        return Invalid(raw, _reasons(exc), decoded)
    except RecursionError:
        return Invalid(raw, (Reason(field="", message="nested too deeply"),), decoded)


def decode_quietly(raw: bytes) -> Any:
    """The JSON value of `raw`, or None when it is not JSON."""
    try:
        return json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None


def _claimed(decoded: Any, name: str) -> str | None:
    value = decoded.get(name) if isinstance(decoded, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 128 else None


def error_record(invalid: Invalid, *, tenant_id: str | None, trace_id: str | None) -> ErrorRecord:
    """The Validation error record of a rejected payload.

    Args:
        invalid: the rejection.
        tenant_id: the tenant it belongs to: the API key's on HTTP, else the one the
            payload claims (None when it names none).
        trace_id: the current trace, for the operator to follow.
    """
    first = invalid.reasons[0]
    more = f" (+{len(invalid.reasons) - 1} more)" if len(invalid.reasons) > 1 else ""
    where = f"{first.field}: " if first.field else ""
    return ErrorRecord(
        record_id=record_id_for(Stage.INGEST, tenant_id or "", invalid.raw),
        tenant_id=tenant_id,
        category=ErrorCategory.VALIDATION,
        stage=Stage.INGEST,
        cause=f"{where}{first.message}{more}",
        reasons=list(invalid.reasons),
        source=_claimed(invalid.decoded, "source"),
        event_id=_claimed(invalid.decoded, "event_id"),
        payload_b64=encode_payload(kept_payload(invalid.raw)),
        trace_id=trace_id,
    )


def kept_payload(raw: bytes) -> bytes:
    """`raw`, or its head when it is over the event size limit (the reason says so)."""
    return raw if len(raw) <= MAX_EVENT_BYTES else raw[:MAX_KEPT_PAYLOAD_BYTES]


def claimed_tenant(invalid: Invalid) -> str | None:
    """The tenant a rejected payload names, if it names a well-formed one."""
    tenant = _claimed(invalid.decoded, "tenant_id")
    if (
        tenant is None
        or len(tenant) > 64
        or not all(c.isdigit() or c == "-" or "a" <= c <= "z" for c in tenant)
    ):
        return None
    return tenant


def split_json_array(body: bytes) -> list[tuple[bytes, Any]]:
    """Split a JSON array into (exact bytes, decoded value) per element.

    Raises:
        ValueError: the body is not UTF-8 JSON, or not an array.
    """
    text = body.decode("utf-8")
    decoder = json.JSONDecoder(parse_float=Decimal)
    index = _skip_ws(text, 0)
    if index >= len(text) or text[index] != "[":
        raise ValueError("the body must be a JSON array of events")
    index = _skip_ws(text, index + 1)
    items: list[tuple[bytes, Any]] = []
    if index < len(text) and text[index] == "]":
        return _expect_end(text, index + 1, items)
    while True:
        value, end = decoder.raw_decode(text, index)
        items.append((text[index:end].encode("utf-8"), value))
        index = _skip_ws(text, end)
        if index < len(text) and text[index] == ",":
            index = _skip_ws(text, index + 1)
            continue
        if index < len(text) and text[index] == "]":
            return _expect_end(text, index + 1, items)
        raise ValueError(f"expected ',' or ']' at character {index}")


def _skip_ws(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\n\r":
        index += 1
    return index


def _expect_end(text: str, index: int, items: list[tuple[bytes, Any]]) -> list[tuple[bytes, Any]]:
    if _skip_ws(text, index) != len(text):
        raise ValueError("unexpected data after the JSON array")
    return items
