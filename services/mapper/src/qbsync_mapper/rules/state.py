"""What the mapper remembers per tenant, as the pure rules see it (storage persists it)."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DocKind(StrEnum):
    """Kinds of upstream documents the mapper tracks."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    PAYMENT = "payment"
    REFUND = "refund"
    FEE = "fee"
    PAYOUT = "payout"


class DocStatus(StrEnum):
    """Where a tracked document stands."""

    ISSUED = "issued"
    """Commands to post it were published."""
    VOIDED = "voided"
    """Commands to void (or delete) it were published."""
    HELD = "held"
    """A payment waiting for its invoice (PAY-3)."""
    SKIPPED = "skipped"
    """Dated before the tenant's export-from date (SET-2) or of a type not exported (DOC-9)."""


class DocState(BaseModel):
    """One upstream document as far as the mapper is concerned."""

    model_config = ConfigDict(extra="ignore")

    kind: DocKind
    ref: str
    status: DocStatus
    currency: str
    total: Decimal = Decimal(0)
    number: str | None = None
    customer_ref: str | None = None
    customer: dict[str, Any] | None = Field(
        default=None, description="CustomerResolution of the document (payments reuse it)."
    )
    invoice_ref: str | None = None
    settled: Decimal = Field(
        default=Decimal(0), description="Invoice: payments and credits applied to it."
    )
    payments: list[str] = Field(default_factory=list, description="Invoice: its payments' refs.")

    @property
    def open_balance(self) -> Decimal:
        """What is still owed on an invoice."""
        return max(self.total - self.settled, Decimal(0))


class HoldReason(StrEnum):
    """Why an event waits in the mapper instead of becoming commands."""

    NO_SETTINGS = "no_settings"
    """The tenant has no settings yet; released when settings are applied."""
    AWAITING_INVOICE = "awaiting_invoice"
    """A payment before its invoice (PAY-3); released when the invoice is issued."""
    DO_NOT_SYNC = "do_not_sync"
    """The customer is marked do-not-sync (CUS-8); released when syncing is turned back on."""
    UNSUPPORTED = "unsupported"
    """Held by part 1 for types it did not map (fees, payouts, journal mode); part 2
    releases these before the tenant's next events."""


@dataclass(frozen=True)
class HeldEvent:
    """An event kept for later, with what is needed to map it then."""

    reason: HoldReason
    key: str
    source: str
    event_id: str
    payload: bytes
    traceparent: str | None = None
    ref: str | None = None
    """The held document's own upstream ref."""
    held_id: int | None = None
    """The storage row id once persisted."""


@dataclass
class Reservation:
    """A reservation's position in journal mode: + owed (AR), - prepaid (Deposits) (JRN-4)."""

    ref: str
    currency: str
    balance: Decimal = Decimal(0)
    active: bool = False
    """A posting moved it (an opening balance after that is refused, JRN-5)."""


@dataclass(frozen=True)
class PendingLine:
    """Journal lines of one posting, waiting for their business day's entry (JRN-1)."""

    day: date
    currency: str
    event_id: str
    lines: list[dict[str, Any]]


@dataclass
class TenantState:
    """The part of a tenant's state a batch of events needs, loaded before mapping.

    Rules read and change it in memory; storage writes back `changed` documents,
    inserts `new_holds` and deletes `released` holds in the batch's transaction.
    """

    documents: dict[tuple[DocKind, str], DocState] = field(default_factory=dict)
    awaiting: dict[str, list[HeldEvent]] = field(default_factory=dict)
    """Held payments by the invoice ref they wait for."""
    changed: set[tuple[DocKind, str]] = field(default_factory=set)
    new_holds: list[HeldEvent] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    reservations: dict[str, Reservation] = field(default_factory=dict)
    """Journal mode: the reservations the batch touches (new ones are added)."""
    journal_lines: list[PendingLine] = field(default_factory=list)
    """Journal mode: lines mapped in this batch, for storage to append."""
    stopped_customers: set[str] = field(default_factory=set)
    """Upstream customer refs an operator stopped syncing (CUS-8, errors service)."""
    ledger_applied: set[tuple[str, str]] = field(default_factory=set)
    """(source, event_id) of the batch's ledger events already folded in, loaded before
    mapping; rules add the ones they fold, storage records those in `ledger_new`."""
    ledger_new: list[tuple[str, str]] = field(default_factory=list)

    def reservation(self, ref: str, currency: str) -> Reservation:
        """The reservation's position, a zero balance if never seen."""
        return self.reservations.setdefault(ref, Reservation(ref, currency))

    def get(self, kind: DocKind, ref: str) -> DocState | None:
        """The tracked document, if any."""
        return self.documents.get((kind, ref))

    def put(self, doc: DocState) -> None:
        """Track (or replace) a document and mark it for saving."""
        self.documents[(doc.kind, doc.ref)] = doc
        self.changed.add((doc.kind, doc.ref))

    def hold(self, held: HeldEvent) -> None:
        """Keep an event for later."""
        self.new_holds.append(held)
        if held.reason is HoldReason.AWAITING_INVOICE:
            self.awaiting.setdefault(held.key, []).append(held)

    def take_awaiting(self, invoice_ref: str) -> list[HeldEvent]:
        """Remove and return the payments held for `invoice_ref`, oldest first."""
        held = self.awaiting.pop(invoice_ref, [])
        for item in held:
            if item.held_id is not None:
                self.released.append(item.held_id)
            else:
                self.new_holds.remove(item)
        return held
