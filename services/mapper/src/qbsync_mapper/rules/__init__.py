"""Pure mapping rules: one accepted event in, posting commands and error records out.

No I/O here: `map_event` reads the tenant's settings and the loaded part of its
state, changes that state in memory, and returns what to publish. The same event
with the same state always gives the same commands (ids and bodies).
"""

from qbsync_contracts.events import (
    CreditNoteIssued,
    CreditNoteVoided,
    CustomerUpserted,
    Event,
    EventType,
    FeeCharged,
    InvoiceIssued,
    InvoiceUpdated,
    InvoiceVoided,
    LedgerOpeningBalance,
    LedgerPosted,
    PaymentReceived,
    PaymentRefunded,
    PaymentVoided,
    PayoutSettled,
    parse_event_json,
)
from qbsync_core.commands import Entity, Operation
from qbsync_core.errors import ErrorCategory

from qbsync_mapper.rules.core import Mapping
from qbsync_mapper.rules.customers import do_not_sync, resolve_customer
from qbsync_mapper.rules.documents import (
    map_credit_note,
    map_credit_note_void,
    map_invoice,
    map_invoice_void,
)
from qbsync_mapper.rules.ledger import map_ledger, map_opening
from qbsync_mapper.rules.payments import map_payment, map_payment_void, map_refund
from qbsync_mapper.rules.payouts import map_fee, map_payout
from qbsync_mapper.rules.state import DocKind, HeldEvent, HoldReason, TenantState
from qbsync_mapper.tenants import DocumentType, TenantSettings

__all__ = ["Mapping", "event_refs", "map_event"]

_DOCUMENT_TYPE = {
    EventType.CUSTOMER_UPSERTED: DocumentType.CUSTOMER,
    EventType.INVOICE_ISSUED: DocumentType.INVOICE,
    EventType.INVOICE_UPDATED: DocumentType.INVOICE,
    EventType.INVOICE_VOIDED: DocumentType.INVOICE,
    EventType.CREDIT_NOTE_ISSUED: DocumentType.CREDIT_NOTE,
    EventType.CREDIT_NOTE_VOIDED: DocumentType.CREDIT_NOTE,
    EventType.PAYMENT_RECEIVED: DocumentType.PAYMENT,
    EventType.PAYMENT_REFUNDED: DocumentType.REFUND,
    EventType.PAYMENT_VOIDED: DocumentType.PAYMENT,
}


def event_refs(event: Event) -> set[str]:
    """Upstream document refs an event reads or writes (storage loads their state)."""
    data = event.data
    refs = {
        value
        for name in ("ref", "invoice_ref", "credited_invoice_ref", "reservation_ref")
        if isinstance(value := getattr(data, name, None), str)
    }
    return refs


def _customer_of(event: Event, state: TenantState) -> str | None:
    """The upstream customer ref of the event's document, from the event or the state."""
    customer = getattr(event.data, "customer", None)
    if customer is not None:
        return str(customer.ref)
    ref = getattr(event.data, "ref", None)
    for kind in DocKind:
        doc = state.get(kind, ref) if isinstance(ref, str) else None
        if doc is not None:
            return doc.customer_ref
    return None


def _document_type(event: Event, state: TenantState) -> DocumentType | None:
    if isinstance(event, PaymentVoided) and state.get(DocKind.REFUND, event.data.ref):
        return DocumentType.REFUND
    return _DOCUMENT_TYPE.get(EventType(event.type))


def map_event(
    event: Event,
    raw: bytes,
    settings: TenantSettings,
    state: TenantState,
    *,
    traceparent: str | None = None,
    trace_id: str | None = None,
    released: bool = False,
) -> list[Mapping]:
    """Map one event, and any held payments it releases, in the order to publish them.

    Args:
        event: the parsed event.
        raw: its exact bytes (kept in error records and holds).
        settings: the tenant's settings.
        state: the tenant's loaded state; changed in place.
        traceparent: W3C trace context to put on the commands.
        trace_id: the trace id to keep in error records.
        released: the event was held and is mapped now that it can be.

    Returns:
        The event's mapping first, then one per payment it released (PAY-3).
    """
    m = Mapping(event, raw, settings, state, traceparent=traceparent, trace_id=trace_id)
    # Part 2 types are not customer documents: no DOC-9 type filter, no do-not-sync customer.
    if isinstance(event, FeeCharged):
        map_fee(m, event)
        return [m]
    if isinstance(event, PayoutSettled):
        map_payout(m, event)
        return [m]
    if isinstance(event, LedgerPosted):
        map_ledger(m, event)
        return [m]
    if isinstance(event, LedgerOpeningBalance):
        map_opening(m, event)
        return [m]
    kind = _document_type(event, state)
    if kind is None:
        m.hold(HoldReason.UNSUPPORTED, event.type)
        return [m]
    if not settings.exports(kind):
        m.skip(f"type-not-exported:{kind.value}")
        return [m]
    customer = _customer_of(event, state)
    if do_not_sync(m, customer):
        m.hold(HoldReason.DO_NOT_SYNC, customer or "")
        return [m]
    mappings = [m]
    if isinstance(event, CustomerUpserted):
        resolution = resolve_customer(m, event.data.customer)
        if resolution is not None:
            m.command(
                Operation.ENSURE,
                Entity.CUSTOMER,
                resolution.upstream_ref,
                ErrorCategory.ACCOUNT,
                body=resolution.create,
                customer=resolution,
            )
    elif isinstance(event, InvoiceIssued | InvoiceUpdated):
        if map_invoice(m, event):
            mappings.extend(_release_payments(event.data.ref, settings, state, trace_id))
    elif isinstance(event, InvoiceVoided):
        map_invoice_void(m, event)
    elif isinstance(event, CreditNoteIssued):
        map_credit_note(m, event)
    elif isinstance(event, CreditNoteVoided):
        map_credit_note_void(m, event)
    elif isinstance(event, PaymentReceived):
        map_payment(m, event, released=released)
    elif isinstance(event, PaymentRefunded):
        map_refund(m, event)
    elif isinstance(event, PaymentVoided):
        map_payment_void(m, event)
    return mappings


def _release_payments(
    invoice_ref: str, settings: TenantSettings, state: TenantState, trace_id: str | None
) -> list[Mapping]:
    """Map the payments held for the invoice just issued, oldest first (PAY-3)."""
    out: list[Mapping] = []
    for held in state.take_awaiting(invoice_ref):
        out.extend(map_held(held, settings, state, trace_id=trace_id))
    return out


def map_held(
    held: HeldEvent, settings: TenantSettings, state: TenantState, *, trace_id: str | None = None
) -> list[Mapping]:
    """Map an event that was held, now that it can be."""
    event = parse_event_json(held.payload)
    return map_event(
        event,
        held.payload,
        settings,
        state,
        traceparent=held.traceparent,
        trace_id=trace_id,
        released=True,
    )
