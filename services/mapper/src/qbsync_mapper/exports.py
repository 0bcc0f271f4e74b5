"""Export windows (SET-3): the outbox, journal days closing into entries, manual exports.

A tenant on the default `continuous` schedule publishes commands as they are mapped
(part 1's behaviour). On an `interval` or `manual` schedule, the mapping transaction
puts them in the `outbox` table instead; they leave when the tenant's window opens
(the schedule loop) or on a manual export, in the transaction that publishes them
and waits for the broker's acknowledgements. A restart loses none: until that
transaction commits, they are still in the outbox.

Journal mode (JRN-1, JRN-3): when a window opens, every business day that has ended
(tenant time zone) and has lines not yet in an entry becomes one JournalEntry;
lines that arrive for a day already posted become an adjusting entry for that day.

The clock is passed in (`Clock`), so tests drive windows without waiting.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal

import asyncpg
import structlog
from qbsync_core.commands import (
    CustomerResolution,
    Entity,
    MatchStrategy,
    Operation,
    PostingCommand,
    command_id_for,
)
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import ErrorRecord, Reason, Stage, encode_payload, record_id_for

from qbsync_mapper import storage
from qbsync_mapper.publishing import Publisher
from qbsync_mapper.rules.journal import JournalLine, Posting, entry_body, summarise
from qbsync_mapper.rules.schedule import business_day, window_open
from qbsync_mapper.tenants import ScheduleMode, TenantSettings

Clock = Callable[[], datetime]
JOURNAL_SOURCE = "qbsync-journal"
"""`source` of journal entry commands: they come from a day, not from one event."""
JOURNAL_EVENT_TYPE = "journal.day"
log = structlog.get_logger()


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def command_day(command: PostingCommand, settings: TenantSettings) -> date:
    """The business day of a command: its TxnDate, else its event's day in tenant time."""
    txn_date = command.body.get("TxnDate")
    if isinstance(txn_date, str):
        return date.fromisoformat(txn_date)
    return business_day(command.occurred_at, settings.zone)


def journal_command(settings: TenantSettings, day: storage.OpenDay) -> PostingCommand | None:
    """The JournalEntry of a day's open lines (None when they net to nothing).

    Args:
        settings: the tenant's settings (AR customer name, realm, currency fields).
        day: the open lines and the entry's seq (0 = the day's entry, > 0 = adjusting).
    """
    tenant = settings.tenant_id
    lines = summarise(JournalLine.from_json(line) for line in day.lines)
    if not lines:
        return None
    name = settings.journal.ar_customer if settings.journal else "Guests"
    customer_ref = f"customer:{tenant}:journal:{day.currency}"
    currency = {"CurrencyRef": {"value": day.currency}} if settings.multicurrency else {}
    customer = None
    if any(line.customer for line in lines):
        customer = CustomerResolution(
            upstream_ref=customer_ref,
            strategy=MatchStrategy.DISPLAY_NAME,
            lookup={"display_name": name, "currency": day.currency},
            auto_create=True,
            create={"DisplayName": name, **currency},
        )
    event_id = f"journal:{day.day.isoformat()}:{day.currency}:{day.seq}"
    body = entry_body(day.day, day.seq, lines, customer_ref=customer_ref, currency=currency)
    if day.seq:
        body["Adjustment"] = True
    return PostingCommand(
        command_id=command_id_for(
            tenant, JOURNAL_SOURCE, event_id, 0, Operation.CREATE, Entity.JOURNAL_ENTRY
        ),
        tenant_id=tenant,
        realm_id=settings.realm_id,
        event_id=event_id,
        source=JOURNAL_SOURCE,
        event_type=JOURNAL_EVENT_TYPE,
        sequence=0,
        operation=Operation.CREATE,
        entity=Entity.JOURNAL_ENTRY,
        upstream_ref=f"journal:{tenant}:{day.day.isoformat()}:{day.currency}:{day.seq}",
        body=body,
        customer=customer,
        category=ErrorCategory.INVOICE,
        expected_total=sum(
            (line.amount for line in lines if line.posting is Posting.DEBIT), Decimal(0)
        ),
        auto_renumber=settings.auto_renumber,
        occurred_at=datetime.combine(day.day, time(0), settings.zone),
    )


async def close_days(
    conn: storage.Connection, settings: TenantSettings, before: date
) -> list[tuple[date, PostingCommand]]:
    """Turn every ended day's open lines into its entry or an adjusting entry (JRN-1, JRN-3)."""
    out: list[tuple[date, PostingCommand]] = []
    for day in await storage.open_days(conn, settings.tenant_id, before):
        command = journal_command(settings, day)
        await storage.close_day(
            conn, settings.tenant_id, day, command.command_id if command else None
        )
        if command is not None:
            out.append((day.day, command))
    return out


@dataclass
class ExportSummary:
    """What one export of a tenant did."""

    tenant_id: str
    exported: bool = False
    commands: int = 0
    entries: int = 0
    skipped: int = 0
    """Commands dated before a manual export's start day: not sent, each an error record."""
    not_sent: list[ErrorRecord] = field(default_factory=list, repr=False)
    """The error records of the `skipped` commands, published with the export."""

    def log_fields(self) -> dict[str, object]:
        """The counts, for the log line."""
        return {
            "tenant_id": self.tenant_id,
            "commands": self.commands,
            "entries": self.entries,
            "skipped": self.skipped,
        }


def not_sent_record(command: PostingCommand, day: date, start: date) -> ErrorRecord:
    """The error record of a command a manual export did not send (SET-3).

    Nothing leaves the outbox silently: the operator sees each command left out, with
    the reason. Stage `poster` makes a resync publish the command itself to the poster
    (post it after all); skip closes it. Not retriable: automatic retries would undo the
    operator's start date.
    """
    cause = (
        f"Not exported: {command.operation} {command.entity} {command.upstream_ref} is dated "
        f"{day.isoformat()}, before the start date {start.isoformat()} of a manual export "
        "(SET-3). Resync it to post it after all, or skip it."
    )
    return ErrorRecord(
        record_id=record_id_for(
            Stage.MAPPER, command.tenant_id, command.command_id, "before-export-start"
        ),
        tenant_id=command.tenant_id,
        category=command.category,
        stage=Stage.POSTER,
        cause=cause,
        reasons=[Reason(field="TxnDate", message=cause)],
        source=command.source,
        event_id=command.event_id,
        command_id=command.command_id,
        payload_b64=encode_payload(command.model_dump_json().encode()),
        retriable=False,
    )


async def export_tenant(
    conn: storage.Connection,
    settings: TenantSettings,
    now: datetime,
    *,
    manual: bool = False,
    start: date | None = None,
) -> tuple[list[PostingCommand], ExportSummary]:
    """Take what may leave now: inside the caller's locked transaction, before publishing.

    Args:
        conn: a connection in a transaction holding the tenant's lock.
        settings: the tenant's settings.
        now: the clock's time.
        manual: a manual export ("from last export until now"), whatever the schedule.
        start: a manual export's new start day (SET-3's override of the last export):
            waiting commands dated earlier are not sent; each becomes an error record
            (`summary.not_sent`) for the caller to publish, so none is lost silently.

    Returns:
        The commands to publish, in order, and a summary.
    """
    tenant = settings.tenant_id
    summary = ExportSummary(tenant)
    if not manual and not window_open(
        settings.schedule, settings.zone, await storage.last_export(conn, tenant), now
    ):
        return [], summary
    today = business_day(now, settings.zone)
    entries = await close_days(conn, settings, today)
    waiting = await storage.take_outbox(conn, tenant, today) + entries
    keep = [c for day, c in waiting if start is None or day >= start]
    if start is not None:
        summary.not_sent = [not_sent_record(c, day, start) for day, c in waiting if day < start]
    summary.exported = True
    summary.commands, summary.skipped = len(keep), len(summary.not_sent)
    summary.entries = sum(1 for c in keep if c.entity is Entity.JOURNAL_ENTRY)
    if manual or settings.schedule.mode is not ScheduleMode.CONTINUOUS:
        await storage.exported(conn, tenant, now)
    return keep, summary


async def run_tenant(
    pool: asyncpg.Pool,
    publisher: Publisher,
    tenant: str,
    now: datetime,
    *,
    manual: bool = False,
    start: date | None = None,
) -> ExportSummary:
    """Export one tenant if its window is open (or `manual`), publishing before commit.

    Raises:
        LookupError: the tenant has no settings (only for a manual export).
    """
    async with pool.acquire() as conn, conn.transaction():
        await storage.lock_tenants(conn, [tenant])
        stored = (await storage.latest_settings(conn, [tenant])).get(tenant)
        if stored is None:
            if manual:
                raise LookupError(f"tenant {tenant!r} has no settings")
            return ExportSummary(tenant)
        requests = await storage.take_export_requests(conn, tenant)
        if requests:
            # The CLI's requests: one export, from the latest start day given, if any.
            manual = True
            start = start or next((d for d in reversed(requests) if d is not None), None)
        commands, summary = await export_tenant(
            conn, stored.settings, now, manual=manual, start=start
        )
        await publisher.publish(commands, summary.not_sent)
    if summary.commands or summary.skipped:
        log.info("tenant exported", **summary.log_fields())
    return summary


async def run_schedules(
    pool: asyncpg.Pool, publisher: Publisher, clock: Clock
) -> list[ExportSummary]:
    """One tick: export every tenant whose window is open or who asked for an export."""
    now = clock()
    return [
        await run_tenant(pool, publisher, tenant, now)
        for tenant in await storage.tenants_with_work(pool)
    ]
