"""The frame every mapping rule works in: one event, its tenant's settings and state.

A rule appends commands (`Mapping.command`), reports what it cannot do
(`Mapping.fail`), or holds the event; it never raises for a business reason.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from qbsync_contracts.events import Event
from qbsync_core.commands import (
    CustomerResolution,
    Entity,
    Operation,
    PostingCommand,
    command_id_for,
)
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import ErrorRecord, Reason, Stage, encode_payload, record_id_for

from qbsync_mapper.rules.state import HeldEvent, HoldReason, TenantState
from qbsync_mapper.tenants import TenantSettings

MAX_DOC_NUMBER = 21


@dataclass
class Mapping:
    """The mapping of one event: inputs, and the commands and errors it produced."""

    event: Event
    raw: bytes
    settings: TenantSettings
    state: TenantState
    traceparent: str | None = None
    trace_id: str | None = None
    commands: list[PostingCommand] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)
    outcome: str = "mapped"

    @property
    def tenant(self) -> str:
        """The event's tenant id."""
        return self.event.tenant_id

    def ref(self, kind: str, ref: str) -> str:
        """The symbolic upstream ref of a document, e.g. `invoice:<tenant>:<ref>`."""
        return f"{kind}:{self.tenant}:{ref}"

    def command(
        self,
        operation: Operation,
        entity: Entity,
        upstream_ref: str,
        category: ErrorCategory,
        *,
        body: dict[str, Any] | None = None,
        customer: CustomerResolution | None = None,
        depends_on: list[str] | None = None,
        expected_total: Decimal | None = None,
    ) -> PostingCommand:
        """Append the next command of this event (its id follows from its position)."""
        sequence = len(self.commands)
        event = self.event
        command = PostingCommand(
            command_id=command_id_for(
                event.tenant_id, event.source, event.event_id, sequence, operation, entity
            ),
            tenant_id=event.tenant_id,
            realm_id=self.settings.realm_id,
            event_id=event.event_id,
            source=event.source,
            event_type=event.type,
            sequence=sequence,
            operation=operation,
            entity=entity,
            upstream_ref=upstream_ref,
            body=body or {},
            customer=customer,
            depends_on=depends_on or [],
            category=category,
            expected_total=expected_total,
            auto_renumber=self.settings.auto_renumber,
            occurred_at=event.occurred_at,
            traceparent=self.traceparent,
        )
        self.commands.append(command)
        return command

    def fail(
        self,
        category: ErrorCategory,
        cause: str,
        *,
        code: str,
        field: str = "",
        customer_ref: str | None = None,
    ) -> None:
        """Report a rule that cannot be applied; the event's bytes are kept for resync.

        `customer_ref` (the symbolic customer ref) lets the errors service's account
        actions (ERR-4, CUS-8 stop syncing) act on an Account error.
        """
        event = self.event
        self.errors.append(
            ErrorRecord(
                record_id=record_id_for(
                    Stage.MAPPER, event.tenant_id, event.source, event.event_id, code
                ),
                tenant_id=event.tenant_id,
                category=category,
                stage=Stage.MAPPER,
                cause=cause,
                reasons=[Reason(field=field, message=cause)],
                source=event.source,
                event_id=event.event_id,
                payload_b64=encode_payload(self.raw),
                retriable=category is ErrorCategory.MAPPING,
                trace_id=self.trace_id,
                traceparent=self.traceparent,
                customer_ref=customer_ref,
                # The failure's time, not the event's: a recurrence after a resync must
                # look newer to the errors service so it reopens the record.
            )
        )
        if self.outcome == "mapped":
            self.outcome = "failed"

    def hold(self, reason: HoldReason, key: str, ref: str | None = None) -> None:
        """Keep the event for later instead of mapping it now."""
        self.state.hold(
            HeldEvent(
                reason=reason,
                key=key,
                source=self.event.source,
                event_id=self.event.event_id,
                payload=self.raw,
                traceparent=self.traceparent,
                ref=ref,
            )
        )
        self.outcome = f"held:{reason.value}"

    def skip(self, why: str) -> None:
        """Nothing to post, by the tenant's choice (SET-2, DOC-9); not an error."""
        self.outcome = f"skipped:{why}"

    def before_export_window(self, day: date) -> bool:
        """Whether `day` is before the tenant's export-from date (SET-2)."""
        start = self.settings.export_from
        return start is not None and day < start


def money(amount: Decimal) -> str:
    """An amount as exact JSON text with two decimals (QBO takes at most two)."""
    return f"{amount.quantize(Decimal('0.01'))}"


def doc_number(number: str) -> str:
    """The upstream number as QBO DocNumber (DOC-1), within QBO's 21 characters."""
    return number[:MAX_DOC_NUMBER]
