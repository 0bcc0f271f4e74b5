"""Event models exactly as `event-contract.md` v1 defines them.

Every message is an envelope whose `data` depends on `type`; the union of all
event classes is discriminated on `type` and parsed through `EVENT_ADAPTER`.
Unknown extra fields are ignored (the contract allows additive optional fields).
"""

import json
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    model_validator,
)

from qbsync_contracts.fields import (
    CurrencyCode,
    DocNumber,
    ExchangeRate,
    Money,
    NonNegativeMoney,
    PositiveMoney,
    Quantity,
    Ref,
)

SPEC_V1 = "qbsync.event/1"


class EventType(StrEnum):
    """Every event type of contract v1."""

    CUSTOMER_UPSERTED = "customer.upserted"
    """A customer was created or changed upstream."""
    INVOICE_ISSUED = "invoice.issued"
    """An invoice or folio was closed."""
    INVOICE_UPDATED = "invoice.updated"
    """A posted invoice changed; data is its full new state."""
    INVOICE_VOIDED = "invoice.voided"
    """An invoice was voided."""
    CREDIT_NOTE_ISSUED = "credit_note.issued"
    """A credit note (negative correction) was issued."""
    CREDIT_NOTE_VOIDED = "credit_note.voided"
    """A credit note was voided."""
    PAYMENT_RECEIVED = "payment.received"
    """A payment was received."""
    PAYMENT_REFUNDED = "payment.refunded"
    """Money was refunded."""
    PAYMENT_VOIDED = "payment.voided"
    """A payment or refund was voided."""
    FEE_CHARGED = "fee.charged"
    """A payment processor charged a fee."""
    PAYOUT_SETTLED = "payout.settled"
    """A processor payout reached the bank."""
    LEDGER_POSTED = "ledger.posted"
    """A reservation ledger line (journal mode)."""
    LEDGER_OPENING_BALANCE = "ledger.opening_balance"
    """A reservation's opening balance (journal mode)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Customer(_Model):
    """An upstream customer as carried by documents and payments."""

    ref: Ref = Field(description="Upstream customer id.")
    name: Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
    email: (
        Annotated[str, StringConstraints(max_length=100, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
        | None
    ) = None
    number: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="Upstream customer number, matched with currency by CUS-3."
    )
    company: Annotated[str, StringConstraints(max_length=500)] | None = None
    currency: CurrencyCode


class Line(_Model):
    """A document line; `amount` must equal quantity x unit_price exactly (CUR-4)."""

    description: Annotated[str, StringConstraints(max_length=4000)]
    quantity: Quantity
    unit_price: Quantity
    amount: Money
    service_type: str | None = None
    revenue_group: str | None = None
    revenue_category: str | None = None
    tax_code: str | None = None
    class_: str | None = Field(default=None, alias="class")

    @model_validator(mode="after")
    def _amount_is_quantity_times_price(self) -> Self:
        expected = self.quantity * self.unit_price
        if expected != self.amount:
            raise ValueError(
                f"amount {self.amount} is not quantity x unit_price = {expected} (CUR-4)"
            )
        return self


def _check_same_currency(customer: Customer | None, currency: str) -> None:
    if customer is not None and customer.currency != currency:
        raise ValueError(
            f"customer currency {customer.currency} differs from document currency {currency}; "
            "a QBO customer has exactly one currency (CUR-2)"
        )


def _check_total(lines: list[Line], tax_total: Decimal | None, total: Decimal) -> None:
    expected = sum((line.amount for line in lines), Decimal(0)) + (tax_total or Decimal(0))
    if expected != total:
        raise ValueError(f"total {total} is not the sum of lines and tax = {expected} (CUR-4)")


class InvoiceData(_Model):
    """Data of `invoice.issued` and `invoice.updated` (the full document)."""

    ref: Ref
    number: DocNumber
    customer: Customer
    currency: CurrencyCode
    exchange_rate: ExchangeRate | None = None
    issue_date: date
    due_date: date | None = None
    lines: Annotated[list[Line], Field(min_length=1)]
    tax_total: NonNegativeMoney | None = None
    total: NonNegativeMoney
    bill_email: (
        Annotated[str, StringConstraints(max_length=100, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
        | None
    ) = None
    send: bool = False
    private_note: Annotated[str, StringConstraints(max_length=4000)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_same_currency(self.customer, self.currency)
        _check_total(self.lines, self.tax_total, self.total)
        if self.due_date is not None and self.due_date < self.issue_date:
            raise ValueError(f"due_date {self.due_date} is before issue_date {self.issue_date}")
        return self


class CreditNoteData(_Model):
    """Data of `credit_note.issued`; amounts are positive, the type says it is a credit."""

    ref: Ref
    number: DocNumber
    customer: Customer
    currency: CurrencyCode
    exchange_rate: ExchangeRate | None = None
    issue_date: date
    lines: Annotated[list[Line], Field(min_length=1)]
    tax_total: NonNegativeMoney | None = None
    total: NonNegativeMoney
    credited_invoice_ref: Ref | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_same_currency(self.customer, self.currency)
        _check_total(self.lines, self.tax_total, self.total)
        return self


class RefData(_Model):
    """Data of the void events: the upstream ref of what is voided."""

    ref: Ref


class CustomerData(_Model):
    """Data of `customer.upserted`."""

    customer: Customer


class PaymentData(_Model):
    """Data of `payment.received`."""

    ref: Ref
    customer: Customer
    currency: CurrencyCode
    exchange_rate: ExchangeRate | None = None
    amount: PositiveMoney
    method: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    received_at: AwareDatetime
    invoice_ref: Ref | None = None
    transferred_from_ref: Ref | None = Field(
        default=None, description="Set when moved between folios; reported, not posted (PAY-6)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_same_currency(self.customer, self.currency)
        return self


class RefundData(_Model):
    """Data of `payment.refunded`."""

    ref: Ref
    customer: Customer | None = None
    currency: CurrencyCode
    exchange_rate: ExchangeRate | None = None
    amount: PositiveMoney
    method: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    refunded_at: AwareDatetime
    original_payment_ref: Ref | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_same_currency(self.customer, self.currency)
        return self


class FeeData(_Model):
    """Data of `fee.charged`."""

    ref: Ref
    currency: CurrencyCode
    exchange_rate: ExchangeRate | None = None
    amount: PositiveMoney
    processor: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    charged_at: AwareDatetime
    description: Annotated[str, StringConstraints(max_length=4000)] | None = None
    payout_ref: Ref | None = None


class PayoutLine(_Model):
    """One revenue category's share of a payout."""

    revenue_category: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    amount: Money
    payment_ref: Ref | None = None
    customer: Customer | None = None


class PayoutData(_Model):
    """Data of `payout.settled`; `net` must be sum(lines) - fees (CUR-4)."""

    ref: Ref
    processor: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    currency: CurrencyCode
    exchange_rate: ExchangeRate | None = None
    arrival_date: date
    lines: Annotated[list[PayoutLine], Field(min_length=1)]
    fees: NonNegativeMoney
    net: Money

    @model_validator(mode="after")
    def _net_is_lines_minus_fees(self) -> Self:
        expected = sum((line.amount for line in self.lines), Decimal(0)) - self.fees
        if expected != self.net:
            raise ValueError(f"net {self.net} is not sum(lines) - fees = {expected} (CUR-4)")
        return self


class LedgerKind(StrEnum):
    """What a journal-mode ledger line records."""

    REVENUE = "revenue"
    """Revenue charged to the reservation."""
    TAX = "tax"
    """Tax charged to the reservation."""
    FEE = "fee"
    """A fee charged to the reservation."""
    PAYMENT = "payment"
    """Money received from the guest."""
    REFUND = "refund"
    """Money returned to the guest."""
    ADJUSTMENT = "adjustment"
    """A correction of earlier charges (reduces what is owed)."""


class LedgerPostedData(_Model):
    """Data of `ledger.posted` (journal mode, JRN-*)."""

    ref: Ref
    reservation_ref: Ref
    kind: LedgerKind
    category: Annotated[str, StringConstraints(max_length=100)] | None = None
    amount: PositiveMoney
    currency: CurrencyCode
    posted_at: AwareDatetime
    method: Annotated[str, StringConstraints(max_length=64)] | None = None


class OpeningBalanceData(_Model):
    """Data of `ledger.opening_balance`: positive = owed by the guest, negative = prepaid.

    Seeds the reservation's AR / Deposits position in journal mode (JRN-5).
    """

    reservation_ref: Ref
    balance: Money
    currency: CurrencyCode
    as_of: date


class _Envelope(_Model):
    spec: Literal["qbsync.event/1"] = Field(description="Contract version marker.")
    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(
        description="Unique per (tenant_id, source); a repeat is a duplicate."
    )
    tenant_id: Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,64}$")] = Field(
        description="One tenant = one QBO company (realm)."
    )
    source: Annotated[str, StringConstraints(min_length=1, max_length=64)] = Field(
        description="The upstream system, e.g. clock-pms."
    )
    occurred_at: AwareDatetime = Field(description="RFC 3339 business time, with offset.")


class CustomerUpserted(_Envelope):
    """`customer.upserted`."""

    type: Literal[EventType.CUSTOMER_UPSERTED]
    data: CustomerData


class InvoiceIssued(_Envelope):
    """`invoice.issued`."""

    type: Literal[EventType.INVOICE_ISSUED]
    data: InvoiceData


class InvoiceUpdated(_Envelope):
    """`invoice.updated`."""

    type: Literal[EventType.INVOICE_UPDATED]
    data: InvoiceData


class InvoiceVoided(_Envelope):
    """`invoice.voided`."""

    type: Literal[EventType.INVOICE_VOIDED]
    data: RefData


class CreditNoteIssued(_Envelope):
    """`credit_note.issued`."""

    type: Literal[EventType.CREDIT_NOTE_ISSUED]
    data: CreditNoteData


class CreditNoteVoided(_Envelope):
    """`credit_note.voided`."""

    type: Literal[EventType.CREDIT_NOTE_VOIDED]
    data: RefData


class PaymentReceived(_Envelope):
    """`payment.received`."""

    type: Literal[EventType.PAYMENT_RECEIVED]
    data: PaymentData


class PaymentRefunded(_Envelope):
    """`payment.refunded`."""

    type: Literal[EventType.PAYMENT_REFUNDED]
    data: RefundData


class PaymentVoided(_Envelope):
    """`payment.voided`."""

    type: Literal[EventType.PAYMENT_VOIDED]
    data: RefData


class FeeCharged(_Envelope):
    """`fee.charged`."""

    type: Literal[EventType.FEE_CHARGED]
    data: FeeData


class PayoutSettled(_Envelope):
    """`payout.settled`."""

    type: Literal[EventType.PAYOUT_SETTLED]
    data: PayoutData


class LedgerPosted(_Envelope):
    """`ledger.posted`."""

    type: Literal[EventType.LEDGER_POSTED]
    data: LedgerPostedData


class LedgerOpeningBalance(_Envelope):
    """`ledger.opening_balance`."""

    type: Literal[EventType.LEDGER_OPENING_BALANCE]
    data: OpeningBalanceData


Event = Annotated[
    CustomerUpserted
    | InvoiceIssued
    | InvoiceUpdated
    | InvoiceVoided
    | CreditNoteIssued
    | CreditNoteVoided
    | PaymentReceived
    | PaymentRefunded
    | PaymentVoided
    | FeeCharged
    | PayoutSettled
    | LedgerPosted
    | LedgerOpeningBalance,
    Field(discriminator="type"),
]
"""Any v1 event, discriminated on `type`."""

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(payload: object) -> Event:
    """Validate an already-decoded JSON value as a v1 event.

    Raises:
        pydantic.ValidationError: with one entry per broken rule, each naming its field path.
    """
    return EVENT_ADAPTER.validate_python(payload)


def parse_event_json(raw: bytes | str) -> Event:
    """Decode and validate one JSON event; JSON numbers become Decimal, never float.

    Raises:
        json.JSONDecodeError / UnicodeDecodeError: not JSON text.
        pydantic.ValidationError: JSON that breaks the contract.
    """
    return parse_event(json.loads(raw, parse_float=Decimal))


def event_json_schema() -> dict[str, object]:
    """The published JSON Schema of one v1 event (validation mode)."""
    schema = EVENT_ADAPTER.json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://qbsync.dev/schema/event-v1.schema.json",
        "title": "qbsync event v1",
        **schema,
    }
