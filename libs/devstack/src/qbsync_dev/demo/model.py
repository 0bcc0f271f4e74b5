"""Plain data of the demo: a generated week and its planted problems."""

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

JSON = dict[str, Any]
CENT = Decimal("0.01")
SPEC = "qbsync.event/1"


def cents(value: Decimal) -> Decimal:
    """Half-up to cents, as QBO rounds."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    """A contract amount: a decimal string, never a float."""
    return f"{value:.2f}"


@dataclass(frozen=True)
class Planted:
    """A problem the generator put in on purpose, and the error it must become."""

    tenant_id: str
    event_id: str
    category: str
    """The errors service category (ERR-1) the failure must be filed under."""
    what: str


@dataclass(frozen=True)
class DeletedCustomer:
    """A customer the demo deletes in QBO once synced (CUS-7), before `later` events."""

    tenant_id: str
    customer_ref: str
    display_name: str
    synced_doc_number: str
    """The customer's invoice that must be in QBO before the deletion."""


@dataclass
class TenantEvents:
    """One tenant's events in publish order; `later` goes out after the QBO deletion."""

    tenant_id: str
    source: str
    events: list[JSON] = field(default_factory=list)
    later: list[JSON] = field(default_factory=list)
    _seq: int = 0

    def add(self, event_type: str, at: datetime, data: JSON, *, later: bool = False) -> JSON:
        """Append one v1 event with a deterministic id."""
        self._seq += 1
        event = {
            "spec": SPEC,
            "event_id": f"{self.tenant_id}-{self._seq:04d}",
            "tenant_id": self.tenant_id,
            "source": self.source,
            "type": event_type,
            "occurred_at": at.isoformat(),
            "data": data,
        }
        (self.later if later else self.events).append(event)
        return event

    def rename(self, tenant_id: str) -> None:
        """Move every event to another tenant id (event ids follow)."""
        old = self.tenant_id
        for event in [*self.events, *self.later]:
            event["tenant_id"] = tenant_id
            event["event_id"] = tenant_id + event["event_id"].removeprefix(old)
        self.tenant_id = tenant_id

    def ordered(self) -> None:
        """Sort by business time (stable), the order an upstream system emits them."""
        self.events.sort(key=lambda e: datetime.fromisoformat(e["occurred_at"]))
        self.later.sort(key=lambda e: datetime.fromisoformat(e["occurred_at"]))


@dataclass
class DemoWeek:
    """A generated week for the three demo tenants."""

    seed: int
    start: date
    days: int
    tenants: dict[str, TenantEvents]
    """By role (the demo tenant's base id); each holds its actual tenant id."""
    deleted: DeletedCustomer

    def tenant_id(self, role: str) -> str:
        """The actual tenant id of a demo role."""
        return self.tenants[role].tenant_id

    def all_events(self, tenant_id: str) -> list[JSON]:
        """Every event of a tenant, in publish order."""
        t = self.tenants[tenant_id]
        return [*t.events, *t.later]
