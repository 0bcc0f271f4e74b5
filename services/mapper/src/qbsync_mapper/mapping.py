"""One mapping path for consumed batches and settings releases: map, persist, publish.

`map_batch` and `release_tenant` take their dependencies as arguments (a pool, a
`Publisher`, a tracer), so tests call them directly. Exactly-once effect: the
processed-event rows and the tenant state are written in the same transaction that
waits for the broker to acknowledge the commands; if publishing fails everything
rolls back and the redelivered batch maps again to the same command ids.
"""

import hashlib
from collections.abc import Mapping as MappingType
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

import asyncpg
import structlog
from opentelemetry import propagate
from opentelemetry.trace import StatusCode, Tracer
from qbsync_contracts.events import Event, EventType, parse_event_json
from qbsync_core.commands import PostingCommand
from qbsync_core.errors import INFRASTRUCTURE_ERRORS, ErrorCategory, InfrastructureFailure
from qbsync_core.records import (
    ErrorRecord,
    OperatorAction,
    OperatorActionType,
    Reason,
    Stage,
    encode_payload,
    record_id_for,
)

from qbsync_mapper import storage
from qbsync_mapper.exports import Clock, command_day, export_tenant, utc_now
from qbsync_mapper.publishing import Publisher
from qbsync_mapper.rules import Mapping, event_refs, map_event
from qbsync_mapper.rules.customers import upstream_customer_ref
from qbsync_mapper.rules.state import HeldEvent, HoldReason, TenantState
from qbsync_mapper.tenants import ScheduleMode, TenantSettings

log = structlog.get_logger()


_ISSUING = {EventType.INVOICE_ISSUED, EventType.INVOICE_UPDATED}
_LEDGER = {EventType.LEDGER_POSTED, EventType.LEDGER_OPENING_BALANCE}
_RELEASED_ON_SETTINGS = (HoldReason.NO_SETTINGS, HoldReason.DO_NOT_SYNC)
_PART_1_HOLDS = (HoldReason.UNSUPPORTED,)
"""Held by part 1 (fees, payouts, ledger): mapped before the tenant's next events."""


@dataclass(frozen=True)
class Accepted:
    """One accepted event as consumed: its exact bytes and its trace context headers."""

    raw: bytes
    carrier: MappingType[str, str] = field(default_factory=dict)
    resync: str | None = None
    """`<record id>:<attempt>` when the errors service replays a failed event (ERR-3)."""


@dataclass
class Summary:
    """What one call published and kept."""

    commands: int = 0
    errors: int = 0
    held: int = 0
    duplicates: int = 0
    queued: int = 0
    """Commands put in the outbox for a later export window (SET-3)."""
    outcomes: dict[str, int] = field(default_factory=dict)


@dataclass
class _Parsed:
    event: Event
    raw: bytes
    parent: str | None
    released: bool = False
    resync: str | None = None

    @property
    def claim_key(self) -> tuple[str, str, str]:
        # A resync is processed once per resync attempt even though the event itself
        # was seen: the failure it replays left no state behind, and its commands have
        # the same deterministic ids, so the poster treats anything done as done.
        event_id = self.event.event_id
        if self.resync is not None:
            event_id = f"{event_id}#resync:{self.resync}"
        return (self.event.tenant_id, self.event.source, event_id)


def _unreadable(item: Accepted, exc: Exception) -> ErrorRecord:
    # Ingest validated the event, so this means a contract drift between stages.
    return ErrorRecord(
        record_id=record_id_for(Stage.MAPPER, hashlib.sha256(item.raw).digest()),
        tenant_id=None,
        category=ErrorCategory.VALIDATION,
        stage=Stage.MAPPER,
        cause="The accepted event could not be read by the mapper.",
        reasons=[Reason(field="", message=str(exc)[:2000])],
        payload_b64=encode_payload(item.raw),
    )


def _unforeseen(item: _Parsed, exc: Exception) -> ErrorRecord:
    # A bug, or an input no rule foresaw. Raising would let the consumer commit the
    # batch (AckPolicy.ACK) and lose it; a retriable record keeps the exact bytes, so
    # a resync (automatic or the operator's) maps the event once the cause is fixed.
    event = item.event
    message = f"internal error while mapping this event: {exc!r}"[:500]
    return ErrorRecord(
        record_id=record_id_for(
            Stage.MAPPER, event.tenant_id, event.source, event.event_id, "unforeseen"
        ),
        tenant_id=event.tenant_id,
        # Mapping, not Service: Service means a QBO item (ERR-1), and its Delete action
        # would drop the only copy of this event.
        category=ErrorCategory.MAPPING,
        stage=Stage.MAPPER,
        cause="The mapper failed unexpectedly on this event; nothing was posted for it. "
        "Resync it once the cause is fixed.",
        reasons=[Reason(field="", message=message)],
        source=event.source,
        event_id=event.event_id,
        payload_b64=encode_payload(item.raw),
        retriable=True,
    )


@dataclass(frozen=True)
class _Mark:
    commands: int
    errors: int
    summary: Summary


class _Run:
    """Commands and errors of one transaction, with the tracer that spans each event."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self.commands: list[PostingCommand] = []
        self.errors: list[ErrorRecord] = []
        self.summary = Summary()

    def mark(self) -> _Mark:
        """Where the run stands, to undo one tenant's part after an unforeseen failure."""
        summary = replace(self.summary, outcomes=dict(self.summary.outcomes))
        return _Mark(len(self.commands), len(self.errors), summary)

    def rewind(self, mark: _Mark) -> None:
        """Forget what was added since `mark` (its savepoint was rolled back)."""
        del self.commands[mark.commands :]
        del self.errors[mark.errors :]
        self.summary = mark.summary

    def add(self, mappings: list[Mapping]) -> None:
        for m in mappings:
            self.commands.extend(m.commands)
            self.errors.extend(m.errors)
            outcome = m.outcome.split(":", 1)[0]
            self.summary.outcomes[outcome] = self.summary.outcomes.get(outcome, 0) + 1

    def map(self, item: _Parsed, settings: TenantSettings, state: TenantState) -> None:
        """Map one event inside its own span, a child of the upstream trace."""
        event = item.event
        parent = propagate.extract({"traceparent": item.parent} if item.parent else {})
        with self.tracer.start_as_current_span(
            "mapper.map",
            context=parent,
            attributes={
                "qbsync.tenant_id": event.tenant_id,
                "qbsync.event_id": event.event_id,
                "qbsync.event_type": event.type,
            },
        ) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            trace_id = format(span.get_span_context().trace_id, "032x")
            mappings = map_event(
                event,
                item.raw,
                settings,
                state,
                traceparent=carrier.get("traceparent"),
                trace_id=trace_id,
                released=item.released,
            )
            span.set_attribute("qbsync.commands", sum(len(m.commands) for m in mappings))
            if failed := sum(len(m.errors) for m in mappings):
                span.set_status(StatusCode.ERROR, f"{failed} error record(s)")
        self.add(mappings)


def _held_item(held: HeldEvent) -> _Parsed:
    return _Parsed(parse_event_json(held.payload), held.payload, held.traceparent)


async def _map_tenant(
    conn: storage.Connection,
    run: _Run,
    tenant: str,
    stored: storage.StoredSettings | None,
    items: list[_Parsed],
    now: datetime,
    *,
    capture: bool = False,
) -> None:
    """Map a tenant's events; route its commands to the publisher or the outbox (SET-3).

    Args:
        conn: a connection in the transaction holding the tenant's lock.
        run: collects commands to publish now and error records.
        tenant: the tenant.
        stored: its newest settings, if any.
        items: its new events, in order.
        now: the clock's time (outbox and first-window bookkeeping).
        capture: keep every command in `run` (dry run), whatever the schedule.
    """
    if stored is None:
        # No settings yet: keep the events, in order, until settings arrive.
        await storage.hold_events(
            conn,
            tenant,
            [
                HeldEvent(
                    reason=HoldReason.NO_SETTINGS,
                    key=tenant,
                    source=i.event.source,
                    event_id=i.event.event_id,
                    payload=i.raw,
                    traceparent=i.parent,
                )
                for i in items
            ],
        )
        run.summary.held += len(items)
        return
    # Events held before (no settings yet, or by part 1) go first, so the tenant's
    # order is kept: journal mode depends on it (FIFO per reservation, JRN-4).
    reasons = _PART_1_HOLDS if stored.released else (*_RELEASED_ON_SETTINGS, *_PART_1_HOLDS)
    held = await storage.take_held(conn, tenant, reasons)
    items = [_held_item(h) for h in held] + items
    if not stored.released:
        await storage.mark_released(conn, tenant, stored.version)
    if not items:
        return
    refs: set[str] = set()
    for item in items:
        refs |= event_refs(item.event)
    invoices = {str(getattr(i.event.data, "ref", "")) for i in items if i.event.type in _ISSUING}
    ledger = [(i.event.source, i.event.event_id) for i in items if i.event.type in _LEDGER]
    state = await storage.load_state(conn, tenant, refs, invoices, ledger)
    first = len(run.commands)
    for item in items:
        run.map(item, stored.settings, state)
    run.summary.held += len(state.new_holds)
    await storage.save_state(conn, tenant, state)
    settings = stored.settings
    if settings.schedule.mode is not ScheduleMode.CONTINUOUS:
        await storage.start_export_clock(conn, tenant, now)
        if not capture:
            waiting = run.commands[first:]
            del run.commands[first:]
            await storage.enqueue(
                conn, tenant, [(command_day(c, settings), c) for c in waiting], now
            )
            run.summary.queued += len(waiting)


async def _map_tenant_safely(
    conn: storage.Connection,
    run: _Run,
    tenant: str,
    stored: storage.StoredSettings | None,
    parsed: list[_Parsed],
    now: datetime,
) -> None:
    """Claim and map one tenant's events in a savepoint, so a bug costs only its events.

    An unforeseen exception rolls back the tenant's claims, state and holds (so a
    resync maps the events again) and turns its events into retriable Service error
    records; the other tenants of the batch are mapped and published as usual.
    """
    mark = run.mark()
    keys = sorted({p.claim_key for p in parsed})
    try:
        async with conn.transaction():
            new = await storage.claim_events(conn, keys)
            run.summary.duplicates += len(parsed) - len(new)
            fresh = []
            for p in parsed:
                if p.claim_key in new:
                    new.discard(p.claim_key)  # a repeat inside the batch is a duplicate too
                    fresh.append(p)
            await _map_tenant(conn, run, tenant, stored, fresh, now)
    except INFRASTRUCTURE_ERRORS:
        raise
    except Exception as exc:  # see _unforeseen
        log.exception("mapping failed unexpectedly; the events are kept as errors", tenant=tenant)
        run.rewind(mark)
        seen: set[tuple[str, str, str]] = set()
        for p in parsed:
            if p.claim_key not in seen:
                seen.add(p.claim_key)
                run.errors.append(_unforeseen(p, exc))


async def map_batch(
    pool: asyncpg.Pool,
    publisher: Publisher,
    tracer: Tracer,
    items: Sequence[Accepted],
    *,
    clock: Clock = utc_now,
) -> Summary:
    """Map accepted events, publish their commands and errors, remember what was done.

    An unforeseen exception (a bug) never escapes: the events it touched become
    retriable Service error records with their exact bytes (see `_unforeseen`).

    Args:
        pool: the mapper schema's pool.
        publisher: publishes commands and error records.
        tracer: spans each event's mapping.
        items: the consumed events, in partition order.
        clock: the time of outbox entries and export windows (SET-3).

    Raises:
        InfrastructureFailure: the database or broker failed; nothing was published
            for certain or remembered, so the whole batch can be retried.
    """
    run = _Run(tracer)
    now = clock()
    by_tenant: dict[str, list[_Parsed]] = {}
    for item in items:
        try:
            event = parse_event_json(item.raw)
        except ValueError as exc:
            run.errors.append(_unreadable(item, exc))
            continue
        one = _Parsed(event, item.raw, item.carrier.get("traceparent"), resync=item.resync)
        by_tenant.setdefault(event.tenant_id, []).append(one)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await storage.lock_tenants(conn, by_tenant)
            stored = await storage.latest_settings(conn, list(by_tenant))
            for tenant, parsed in by_tenant.items():
                await _map_tenant_safely(conn, run, tenant, stored.get(tenant), parsed, now)
            await publisher.publish(run.commands, run.errors)
    except INFRASTRUCTURE_ERRORS as exc:
        raise InfrastructureFailure(f"mapping could not complete: {exc!r}") from exc
    except Exception as exc:  # see _unforeseen
        # Outside any one tenant's mapping (e.g. while publishing): everything rolled
        # back, so every event of the batch becomes a retriable record.
        log.exception("mapping a batch failed unexpectedly; its events are kept as errors")
        unreadable = [e for e in run.errors if e.stage is Stage.MAPPER and e.event_id is None]
        records = unreadable + [_unforeseen(p, exc) for ps in by_tenant.values() for p in ps]
        run = _Run(tracer)
        run.errors = records
        try:
            await publisher.publish([], records)
        except INFRASTRUCTURE_ERRORS as failure:
            raise InfrastructureFailure(f"mapping could not record a failure: {failure!r}") from exc
    run.summary.commands, run.summary.errors = len(run.commands), len(run.errors)
    return run.summary


async def release_tenant(
    pool: asyncpg.Pool,
    publisher: Publisher,
    tracer: Tracer,
    tenant: str,
    *,
    clock: Clock = utc_now,
) -> Summary:
    """Map the events held for `tenant` under its newest settings (SET-4, CUS-8).

    Also maps what part 1 held as `unsupported` (fees, payouts, ledger events).

    Raises:
        InfrastructureFailure: the database or broker failed; nothing changed.
    """
    run = _Run(tracer)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await storage.lock_tenants(conn, [tenant])
            stored = (await storage.latest_settings(conn, [tenant])).get(tenant)
            if stored is not None:
                await _map_tenant(conn, run, tenant, stored, [], clock())
                await publisher.publish(run.commands, run.errors)
    except INFRASTRUCTURE_ERRORS as exc:
        raise InfrastructureFailure(f"release could not complete: {exc!r}") from exc
    run.summary.commands, run.summary.errors = len(run.commands), len(run.errors)
    return run.summary


async def apply_customer_action(
    pool: asyncpg.Pool,
    publisher: Publisher,
    tracer: Tracer,
    action: OperatorAction,
    *,
    clock: Clock = utc_now,
) -> Summary:
    """Stop or resume syncing one customer, as an operator decided in the errors service.

    `stop_syncing` (CUS-8): the customer's later documents are held as `do_not_sync`
    (not posted, not errors). `resume_syncing`: the customer's held documents are
    mapped now, under the tenant's lock and newest settings (held again if the
    settings document still lists the customer). Both are idempotent, so a
    redelivered action changes nothing.

    Raises:
        InfrastructureFailure: the database or broker failed; nothing changed.
    """
    tenant = action.tenant_id
    run = _Run(tracer)
    if action.customer_ref is None:
        return run.summary
    customer = upstream_customer_ref(tenant, action.customer_ref)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await storage.lock_tenants(conn, [tenant])
            if action.action is OperatorActionType.STOP_SYNCING:
                await storage.stop_customer(conn, tenant, customer, action.record_id, action.actor)
            elif await storage.resume_customer(conn, tenant, customer):
                stored = (await storage.latest_settings(conn, [tenant])).get(tenant)
                if stored is not None:
                    held = await storage.take_held(conn, tenant, [HoldReason.DO_NOT_SYNC], customer)
                    items = [_held_item(h) for h in held]
                    await _map_tenant(conn, run, tenant, stored, items, clock())
                    await publisher.publish(run.commands, run.errors)
    except INFRASTRUCTURE_ERRORS as exc:
        raise InfrastructureFailure(f"operator action could not complete: {exc!r}") from exc
    run.summary.commands, run.summary.errors = len(run.commands), len(run.errors)
    log.info("customer sync changed", action=action.action.value, tenant=tenant, customer=customer)
    return run.summary


@dataclass
class DryRun:
    """What would be posted for a tenant and a date range, and the errors raised (SET-5)."""

    commands: list[PostingCommand]
    errors: list[ErrorRecord]


async def dry_run(
    pool: asyncpg.Pool,
    tracer: Tracer,
    tenant: str,
    start: date,
    end: date,
    raw_events: Sequence[bytes] = (),
    *,
    clock: Clock = utc_now,
) -> DryRun:
    """Map and export as for real inside a transaction that is rolled back (SET-5).

    Shows the commands dated `start`..`end` that would leave: those waiting in the
    outbox, journal entries of the days in the range (today's too, as it stands), and
    what the given events (e.g. a test payout) would give, with the error records
    they would raise. Nothing is published and nothing is kept.

    Raises:
        LookupError: the tenant has no settings.
        InfrastructureFailure: the database failed.
    """
    run = _Run(tracer)
    now = clock()
    try:
        async with pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                await storage.lock_tenants(conn, [tenant])
                stored = (await storage.latest_settings(conn, [tenant])).get(tenant)
                if stored is None:
                    raise LookupError(f"tenant {tenant!r} has no settings")
                parsed = []
                for raw in raw_events:
                    try:
                        parsed.append(_Parsed(parse_event_json(raw), raw, None))
                    except ValueError as exc:
                        run.errors.append(_unreadable(Accepted(raw), exc))
                await _map_tenant(conn, run, tenant, stored, parsed, now, capture=True)
                settings = stored.settings
                # Days up to `end` count as ended here, so the range's entries show.
                waiting, _ = await export_tenant(
                    conn, settings, max(now, _day_end(end, settings)), manual=True
                )
                commands = [
                    c for c in [*run.commands, *waiting] if start <= command_day(c, settings) <= end
                ]
            finally:
                await transaction.rollback()
    except INFRASTRUCTURE_ERRORS as exc:
        raise InfrastructureFailure(f"dry run could not complete: {exc!r}") from exc
    return DryRun(commands, run.errors)


def _day_end(day: date, settings: TenantSettings) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), settings.zone)
