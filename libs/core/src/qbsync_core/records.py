"""Messages services exchange besides the public events: error records and QBO notices.

`ErrorRecord` is the one shape every stage publishes to `qbsync.errors.v1`; the
errors service stores it. Its `record_id` is deterministic, so the same failure
repeating updates one record instead of piling up copies.
"""

import base64
import hashlib
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from qbsync_core.errors import ErrorCategory


class Stage(StrEnum):
    """Where in the pipeline a failure happened (resync replays from there)."""

    INGEST = "ingest"
    """Intake: parsing and validation."""
    MAPPER = "mapper"
    """Mapping an accepted event to posting commands."""
    POSTER = "poster"
    """Posting a command to QBO."""


class Reason(BaseModel):
    """One broken rule: the field path it concerns and what is wrong."""

    model_config = ConfigDict(frozen=True)

    field: str = Field(description="Dotted path of the field, or '' for the whole payload.")
    message: str


CONNECTION_FIELD = "connection"
"""`Reason.field` that marks an Account error as a failed QBO connection (authentication).

The errors service pauses a tenant whose connection has failed this way for longer
than a set period, instead of retrying and notifying on every event.
"""


class QboFault(BaseModel):
    """The fault QBO answered with, when a failure came from the QBO API."""

    model_config = ConfigDict(frozen=True)

    code: str | None = Field(default=None, description="QBO's error code, e.g. '6240'.")
    element: str | None = Field(default=None, description="The element QBO blames, if any.")
    message: str = Field(default="", description="QBO's short message.")
    detail: str | None = Field(default=None, description="QBO's detail text.")


class ErrorRecord(BaseModel):
    """A failure, with everything an operator needs to understand and replay it."""

    model_config = ConfigDict(frozen=True)

    record_id: str
    tenant_id: str | None
    category: ErrorCategory
    stage: Stage
    cause: str = Field(description="One-line summary for lists.")
    reasons: list[Reason] = Field(default_factory=list)
    source: str | None = None
    event_id: str | None = None
    payload_b64: str = Field(description="The original payload, byte for byte, base64.")
    retriable: bool = False
    trace_id: str | None = None
    traceparent: str | None = Field(
        default=None,
        description=(
            "W3C traceparent of the span that raised it: the errors service handles the "
            "record as a child of that span, in the event's trace."
        ),
    )
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    qbo_fault: QboFault | None = Field(
        default=None, description="QBO's fault, when the failure came from the QBO API."
    )
    command_id: str | None = Field(
        default=None, description="The posting command that failed (stage poster)."
    )
    customer_ref: str | None = Field(
        default=None,
        description="Upstream customer ref an Account error concerns (account actions need it).",
    )

    @field_validator("payload_b64")
    @classmethod
    def _is_base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except ValueError:
            raise ValueError("payload_b64 is not base64") from None
        return value

    @property
    def payload(self) -> bytes:
        """The original payload bytes."""
        return base64.b64decode(self.payload_b64)


def encode_payload(raw: bytes) -> str:
    """Base64 of `raw`, for `ErrorRecord.payload_b64`."""
    return base64.b64encode(raw).decode("ascii")


def record_id_for(stage: Stage, *parts: str | bytes) -> str:
    """Deterministic id of a failure: the same input failing at one stage maps to one record."""
    digest = hashlib.sha256(stage.value.encode())
    for part in parts:
        digest.update(b"\x00")
        digest.update(part if isinstance(part, bytes) else part.encode())
    return digest.hexdigest()[:32]


class QboPaymentNotice(BaseModel):
    """A QBO webhook saying a Payment changed; the poster fetches it for back-sync (SET-7)."""

    model_config = ConfigDict(frozen=True)

    kind: str = "qbo.payment.changed"
    realm_id: str
    entity_id: str
    operation: str
    last_updated: str | None = None


OPERATOR_ACTION_KIND = "qbsync.operator-action"
"""`qbsync-kind` header value of an `OperatorAction` on `qbsync.commands.v1`."""


class OperatorActionType(StrEnum):
    """What an operator decided in the errors service, for the mapper and poster to apply."""

    LINK_CUSTOMER = "link_customer"
    """Use the existing QBO customer `qbo_customer_id` for `customer_ref` (ERR-4)."""
    CREATE_CUSTOMER = "create_customer"
    """Create a new QBO customer for `customer_ref` (ERR-4)."""
    STOP_SYNCING = "stop_syncing"
    """Hold this customer's transactions; report no errors for them (CUS-8)."""
    RESUME_SYNCING = "resume_syncing"
    """Undo `stop_syncing`: post the customer's held transactions (CUS-8)."""
    DELETE_SERVICE = "delete_service"
    """Forget the failing service (QBO item) so it is created again (ERR-3)."""
    PAUSE_TENANT = "pause_tenant"
    """The tenant's QBO connection keeps failing authentication: hold its commands."""
    RESUME_TENANT = "resume_tenant"
    """The connection is fixed: post the tenant's held commands again."""


class OperatorAction(BaseModel):
    """A control message the errors service publishes on `qbsync.commands.v1`, keyed by tenant.

    It takes effect when the mapper or poster handles it; the errors service only
    records and publishes the decision.
    """

    model_config = ConfigDict(frozen=True)

    kind: str = OPERATOR_ACTION_KIND
    action: OperatorActionType
    tenant_id: str
    record_id: str | None = Field(default=None, description="The error record acted on.")
    customer_ref: str | None = Field(default=None, description="Upstream customer ref.")
    qbo_customer_id: str | None = Field(default=None, description="For link_customer.")
    actor: str = Field(description="Who decided: the API key id.")
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
