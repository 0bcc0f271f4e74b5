"""Posting commands on `qbsync.commands.v1`: what the mapper asks the poster to do in QBO.

A command is one QBO write (create, update, void, delete, send, apply, or ensure a
customer/item exists). Commands are keyed by tenant id, so one tenant's commands
reach the poster in the order the mapper produced them. Every id is deterministic
(`command_id_for`): mapping the same event again gives the same ids and bodies, so
the poster can treat a repeat as already done.

References between documents are symbolic, never QBO ids: the body holds
`{"$ref": "<upstream ref>"}` wherever QBO expects a reference to a document or
customer the poster tracks in its entity ledger, and `{"$item": "<name>"}` for an
item the poster finds (or an earlier `ensure` command created) by name. The
poster replaces each with `{"value": "<QBO id>"}` before the write.
"""

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from qbsync_core.errors import ErrorCategory

COMMAND_SPEC_V1: Literal["qbsync.command/1"] = "qbsync.command/1"
COMMAND_NAMESPACE = uuid.UUID("6f1d3c2e-8a4b-5c6d-9e0f-1a2b3c4d5e6f")
"""uuid5 namespace of command ids (fixed forever: changing it changes every id)."""


class Operation(StrEnum):
    """What the poster does with the command's entity."""

    ENSURE = "ensure"
    """Find the entity (customer, item) by its lookup; create it when allowed and missing."""
    CREATE = "create"
    """Create the entity from `body`."""
    UPDATE = "update"
    """Sparse update of the entity already posted for `upstream_ref` (with its SyncToken)."""
    VOID = "void"
    """Void the entity posted for `upstream_ref` (Invoice, Payment)."""
    DELETE = "delete"
    """Delete the entity posted for `upstream_ref` (e.g. a refund's Purchase)."""
    SEND = "send"
    """E-mail the posted invoice through QBO (`/invoice/{id}/send`), to `body.BillEmail`."""
    APPLY = "apply"
    """Apply a credit memo to an invoice: a zero-total Payment linking both (`body`)."""


class Entity(StrEnum):
    """QBO entity types a command writes."""

    CUSTOMER = "Customer"
    ITEM = "Item"
    INVOICE = "Invoice"
    CREDIT_MEMO = "CreditMemo"
    PAYMENT = "Payment"
    PURCHASE = "Purchase"
    DEPOSIT = "Deposit"
    """A processor payout (PAY-8..PAY-10)."""
    JOURNAL_ENTRY = "JournalEntry"
    """A business day's summary entry in journal mode (JRN-*)."""


class MatchStrategy(StrEnum):
    """How the poster finds the QBO customer of an upstream customer (CUS-1..3, CUS-4)."""

    EMAIL = "email"
    """By primary e-mail address (CUS-1)."""
    DISPLAY_NAME = "display_name"
    """By DisplayName equal to the upstream organisation or person name (CUS-2)."""
    NUMBER_CURRENCY = "number_currency"
    """By DisplayName `<name>/<currency>`, checked against the number (CUS-3).

    One QBO customer per currency. QBO has no customer-number field, so the number goes
    in the customer's Notes (`customer_number_note`); a `<name>/<currency>` customer
    noting another number belongs to another upstream customer, and this one is then
    `<name> (<number>)/<currency>`.
    """


CUSTOMER_NUMBER_NOTE = "Customer number "
"""How the upstream customer number is written in a QBO customer's Notes (CUS-3)."""


def customer_number_note(number: str) -> str:
    """The Notes line that records an upstream customer number (CUS-3)."""
    return f"{CUSTOMER_NUMBER_NOTE}{number}"


def noted_customer_number(notes: object) -> str | None:
    """The customer number a QBO customer's Notes record, if any."""
    for line in str(notes or "").splitlines():
        if line.startswith(CUSTOMER_NUMBER_NOTE):
            return line[len(CUSTOMER_NUMBER_NOTE) :].strip()
    return None


class CustomerResolution(BaseModel):
    """How to turn an upstream customer into a QBO customer id (CUS-1..CUS-7).

    The poster first looks `upstream_ref` up in its entity ledger (CUS-5: once matched,
    never searched again). If the ledger's customer is deleted or inactive in QBO it
    fails the command with an Account error (CUS-7). Otherwise it searches QBO with
    `lookup` by `strategy`; when nothing matches it creates `create` if `auto_create`,
    else it fails with an Account error (CUS-6). Lookup values are raw text: the
    poster escapes them for QBO's query language.
    """

    model_config = ConfigDict(frozen=True)

    upstream_ref: str = Field(description="customer:<tenant>:<customer ref>:<currency>")
    strategy: MatchStrategy
    lookup: dict[str, str] = Field(
        description=(
            "Values to search by: email, display_name, number, currency; for "
            "number_currency also numbered_display_name (CUS-3)."
        )
    )
    auto_create: bool
    create: dict[str, Any] = Field(description="QBO Customer body to create when none matches.")
    on_inactive: Literal["error"] = Field(
        default="error", description="A deleted/inactive linked customer is an Account error."
    )


class PostingCommand(BaseModel):
    """One QBO write, as published on `qbsync.commands.v1` (keyed by tenant id)."""

    model_config = ConfigDict(frozen=True)

    spec: Literal["qbsync.command/1"] = COMMAND_SPEC_V1
    command_id: str = Field(description="Deterministic uuid5 (see command_id_for).")
    tenant_id: str
    realm_id: str = Field(description="The tenant's QBO company.")
    event_id: str = Field(description="The upstream event this command came from.")
    source: str
    event_type: str
    sequence: int = Field(ge=0, description="Position of this command within its event.")
    operation: Operation
    entity: Entity
    upstream_ref: str = Field(description="Symbolic ref of the entity, e.g. invoice:<t>:<ref>.")
    body: dict[str, Any] = Field(
        default_factory=dict,
        description='QBO JSON with symbolic refs ({"$ref": ...}, {"$item": ...}).',
    )
    customer: CustomerResolution | None = Field(
        default=None, description='How to resolve {"$ref": customer.upstream_ref} in body.'
    )
    depends_on: list[str] = Field(
        default_factory=list, description="Upstream refs that must be posted first."
    )
    category: ErrorCategory = Field(description="Error category of a failure of this command.")
    expected_total: Decimal | None = Field(
        default=None,
        description="Upstream total; a different QBO TotalAmt is reported, not absorbed (CUR-4).",
    )
    auto_renumber: bool = Field(
        default=False, description="On duplicate DocNumber (6140), renumber instead of failing."
    )
    occurred_at: datetime = Field(description="Business time of the event.")
    traceparent: str | None = Field(default=None, description="W3C trace context of the mapping.")


def command_id_for(
    tenant_id: str, source: str, event_id: str, sequence: int, operation: str, entity: str
) -> str:
    """The deterministic id of the `sequence`-th command of one event.

    Args:
        tenant_id: the event's tenant.
        source: the event's upstream system.
        event_id: the event's id (unique per tenant and source).
        sequence: position of the command within the event's commands.
        operation: the command's operation.
        entity: the command's QBO entity type.
    """
    name = "\x00".join((tenant_id, source, event_id, str(sequence), operation, entity))
    return str(uuid.uuid5(COMMAND_NAMESPACE, name))
