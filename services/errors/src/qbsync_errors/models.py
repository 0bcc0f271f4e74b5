"""Shapes the errors API reads and returns (also what storage hands back)."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import QboFault, Reason, Stage


class Status(StrEnum):
    """Where an error stands."""

    OPEN = "open"
    """Waiting: for an automatic retry or an operator."""
    RESOLVED = "resolved"
    """An action was taken (resync, account resolution); reopens if the failure repeats."""
    SKIPPED = "skipped"
    """No more retries and no notifications, even if the failure repeats."""


class ErrorFilter(BaseModel):
    """Which errors a list, count or bulk action applies to; unset fields match all."""

    tenant: str | None = Field(default=None, description="Tenant id.")
    category: ErrorCategory | None = None
    status: Status | None = None
    text: str | None = Field(
        default=None, description="Case-insensitive substring of cause, reasons, ids."
    )


class ErrorSummary(BaseModel):
    """One error as lists show it."""

    record_id: str
    tenant_id: str | None
    category: ErrorCategory
    stage: Stage
    cause: str
    status: Status
    resolution: str | None
    attempts: int = Field(description="How many times this failure was reported.")
    retriable: bool
    next_retry_at: datetime | None
    first_seen_at: datetime
    last_seen_at: datetime


class ErrorDetail(ErrorSummary):
    """One error in full, with its original payload."""

    reasons: list[Reason]
    qbo_fault: QboFault | None
    source: str | None
    event_id: str | None
    command_id: str | None
    customer_ref: str | None
    trace_id: str | None
    payload_b64: str = Field(description="The original payload, byte for byte, base64.")
    payload_text: str | None = Field(description="The payload as UTF-8 text, when it is.")
    resyncs: int = Field(description="Replays so far (operator and automatic).")
    auto_retries: int
    first_occurred_at: datetime
    last_occurred_at: datetime
    resolved_at: datetime | None


class ErrorPage(BaseModel):
    """A page of errors, newest report first."""

    items: list[ErrorSummary]
    total: int
    limit: int
    offset: int


class Counts(BaseModel):
    """Open errors per category: the "orange banner" (ERR-5, ERR-6)."""

    tenant: str | None
    open_total: int
    by_category: dict[ErrorCategory, int]
    paused_tenants: list[str] = Field(
        description="Tenants paused because their QBO connection keeps failing."
    )


class AuditEntry(BaseModel):
    """One audited action."""

    id: int
    at: datetime
    key_id: str = Field(description="Who: the API key that acted.")
    tenant_id: str | None
    record_id: str | None
    action: str
    detail: dict[str, Any]


class Webhook(BaseModel):
    """A notification endpoint of a tenant."""

    webhook_id: str
    tenant_id: str
    url: str
    created_at: datetime


class NewWebhook(Webhook):
    """A webhook as created: its signing secret is shown this once."""

    secret: str = Field(description="HMAC-SHA256 key of the qbsync-signature header.")


class StoppedCustomer(BaseModel):
    """A customer whose transactions are held (CUS-8)."""

    tenant_id: str
    customer_ref: str
    stopped_by: str
    stopped_at: datetime
