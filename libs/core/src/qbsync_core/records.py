"""Messages services exchange besides the public events: error records and QBO notices.

`ErrorRecord` is the one shape every stage publishes to `qbsync.errors.v1`; the
errors service stores it. Its `record_id` is deterministic, so the same failure
repeating updates one record instead of piling up copies.
"""

import base64
import hashlib
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

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
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

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
