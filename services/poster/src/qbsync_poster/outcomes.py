"""What a command's execution ends in, and the records published for it.

Every success becomes a `PostedRecord` on qbsync.posted.v1; every failure an
`ErrorRecord` on qbsync.errors.v1 (stage poster, one record per command id, the
command's bytes kept so a resync republishes it).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from qbsync_core.commands import PostingCommand
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import (
    CONNECTION_FIELD,
    ErrorRecord,
    QboFault,
    Reason,
    Stage,
    encode_payload,
    record_id_for,
)
from qbsync_core.tracing import current_traceparent
from qbsync_qbo import QboError, QboHttpError, QboTransportError

MARKER_PREFIX = "qbsync:"
"""Start of the `[qbsync:<command id>]` marker the poster puts in PrivateNote."""


class PostedRecord(BaseModel):
    """One QBO write the poster made, on qbsync.posted.v1 (keyed by tenant id)."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(default="posted", description="'posted' (back-sync uses its own type).")
    tenant_id: str
    realm_id: str
    command_id: str
    event_id: str
    upstream_ref: str
    entity: str = Field(description="QBO entity type, e.g. Invoice.")
    operation: str
    qbo_id: str
    doc_number: str | None = None
    sync_token: str | None = None
    repeat: bool = Field(
        default=False, description="True when the command was already done (re-published)."
    )
    trace_id: str | None = None
    posted_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class BackSyncRecord(BaseModel):
    """A payment recorded in QBO against synced invoices (SET-7), on qbsync.posted.v1."""

    model_config = ConfigDict(frozen=True)

    type: str = "payment.recorded_in_qbo"
    tenant_id: str
    realm_id: str
    qbo_payment_id: str
    total: str = Field(description="TotalAmt as an exact decimal string.")
    currency: str | None = None
    txn_date: str | None = None
    payment_ref_num: str | None = None
    invoices: list[dict[str, str]] = Field(
        description="Per linked synced invoice: upstream_ref, qbo_id, amount."
    )
    operation: str = Field(description="Create or Update, from the webhook.")


@dataclass
class Failure:
    """A command that did not take effect (or took it with a discrepancy)."""

    category: ErrorCategory
    cause: str
    reasons: list[Reason] = field(default_factory=list)
    fault: QboFault | None = None
    retriable: bool = False
    customer_ref: str | None = None


class CommandFailed(Exception):
    """Raised inside execution to end a command with `failure`."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.cause)
        self.failure = failure


def fail(
    category: ErrorCategory,
    cause: str,
    *,
    field_path: str = "",
    exc: QboError | None = None,
    retriable: bool = False,
    customer_ref: str | None = None,
) -> CommandFailed:
    """Build the exception ending a command with an error record."""
    return CommandFailed(
        Failure(
            category,
            cause,
            [Reason(field=field_path, message=cause)],
            fault_of(exc),
            retriable,
            customer_ref,
        )
    )


def fault_of(exc: QboError | None) -> QboFault | None:
    """QBO's fault (code, element, message, detail) of an error, if it came from QBO."""
    if not isinstance(exc, QboHttpError) or not exc.fault.errors:
        return None
    first = exc.fault.errors[0]
    return QboFault(
        code=first.code, element=first.element, message=first.message, detail=first.detail
    )


def connection_failure(cause: str, exc: QboError | None = None) -> Failure:
    """An Account error about the QBO connection itself (ERR-2)."""
    return Failure(
        ErrorCategory.ACCOUNT,
        cause,
        [Reason(field=CONNECTION_FIELD, message=cause)],
        fault_of(exc),
        retriable=True,
    )


def failure_from_qbo(command: PostingCommand, exc: QboError) -> Failure:
    """The error record content for a QBO fault nothing more specific handled."""
    if isinstance(exc, QboTransportError):
        return Failure(
            command.category,
            f"QBO did not answer {command.operation} {command.entity} (outcome unknown; "
            "a retry looks the entity up before writing)",
            [Reason(field="", message=str(exc))],
            None,
            retriable=True,
        )
    fault = fault_of(exc)
    text = str(exc)
    if fault is not None:
        text = f"QBO {fault.code}: {fault.message}" + (f" ({fault.detail})" if fault.detail else "")
        if fault.element:
            text += f" [element {fault.element}]"
    return Failure(
        command.category,
        f"{command.operation} {command.entity} {command.upstream_ref} refused: {text}",
        [Reason(field=(fault.element or "") if fault else "", message=text)],
        fault,
        retriable=bool(getattr(exc, "retriable", False)),
    )


def trace_id_of(traceparent: str | None) -> str | None:
    """The trace id of a W3C traceparent header value."""
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) >= 4 and len(parts[1]) == 32 else None


def error_record(command: PostingCommand, raw: bytes, failure: Failure) -> ErrorRecord:
    """The error record of a failed command (the same command always maps to one record)."""
    trace_id = trace_id_of(command.traceparent)
    return ErrorRecord(
        record_id=record_id_for(Stage.POSTER, command.command_id),
        tenant_id=command.tenant_id,
        category=failure.category,
        stage=Stage.POSTER,
        cause=failure.cause[:500],
        reasons=failure.reasons,
        source=command.source,
        event_id=command.event_id,
        payload_b64=encode_payload(raw),
        retriable=failure.retriable,
        trace_id=trace_id,
        # Inside the command's span (see dispatch) the record hangs under it; outside
        # (no connection) under the mapper's span that sent the command.
        traceparent=current_traceparent(trace_id) or command.traceparent,
        qbo_fault=failure.fault,
        command_id=command.command_id,
        customer_ref=failure.customer_ref
        or (command.customer.upstream_ref if command.customer else None),
    )
