"""One consumed batch of qbsync.commands.v1, from raw records to durable outcomes.

Order of effects, which exactly-once rests on:
1. load the ledger rows and done ids the batch touches;
2. mark refs about to be created 'pending' (durable before any QBO write);
3. execute: one tenant's commands in chains of dependent documents, each chain in
   order, independent chains concurrently (at most `realm_concurrency` at once);
4. write the changed ledger rows and done ids in one transaction;
5. publish posted and error records and wait for the broker;
6. return, so the consumer commits the offsets.
A crash anywhere before 6 redelivers the batch; steps 1-2 then see the pending rows and
look their entities up in QBO instead of creating them again.
"""

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog
from opentelemetry.trace import NoOpTracer, Tracer
from pydantic import BaseModel, ValidationError
from qbsync_core.commands import Operation, PostingCommand
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import (
    OPERATOR_ACTION_KIND,
    ErrorRecord,
    OperatorAction,
    OperatorActionType,
    QboPaymentNotice,
    Reason,
    Stage,
    encode_payload,
    record_id_for,
)
from qbsync_qbo import QboClient

from qbsync_poster import storage
from qbsync_poster.backsync import back_sync, publish_once
from qbsync_poster.coalescer import QueryCoalescer, WriteCoalescer
from qbsync_poster.connections import Connections, NotConnected
from qbsync_poster.dbfaults import is_data_error
from qbsync_poster.execution import Done, execute
from qbsync_poster.lookups import NEW_CUSTOMER
from qbsync_poster.outcomes import (
    Failure,
    PostedRecord,
    connection_failure,
    error_record,
    trace_id_of,
)
from qbsync_poster.publishing import Publisher
from qbsync_poster.storage import LedgerRow
from qbsync_poster.symbols import Symbols, symbols
from qbsync_poster.tracing import command_span, record_outcome
from qbsync_poster.work import BatchLedger, TenantLocks, Work

log = structlog.get_logger()
CREATE_ACTION = "create-customer-action:"
"""Marks the ledger row of a customer an operator's create action was applied to."""
CREATES = frozenset({Operation.CREATE, Operation.APPLY})


@dataclass(frozen=True)
class Raw:
    """A consumed record: its bytes and headers."""

    value: bytes
    headers: dict[str, str]


@dataclass
class Parsed:
    """A batch split by message kind."""

    commands: list[tuple[PostingCommand, bytes]] = field(default_factory=list)
    notices: list[QboPaymentNotice] = field(default_factory=list)
    actions: list[OperatorAction] = field(default_factory=list)
    errors: list[ErrorRecord] = field(default_factory=list)


def parse(records: Sequence[Raw]) -> Parsed:
    """Sort records by kind; an unreadable command becomes a Validation error record."""
    out = Parsed()
    for raw in records:
        kind = raw.headers.get("qbsync-kind", "")
        try:
            if kind == "qbo.payment.changed":
                out.notices.append(QboPaymentNotice.model_validate_json(raw.value))
            elif kind == OPERATOR_ACTION_KIND:
                out.actions.append(OperatorAction.model_validate_json(raw.value))
            elif kind in ("posting-command", ""):
                out.commands.append((PostingCommand.model_validate_json(raw.value), raw.value))
            else:
                log.info("ignored message of unknown kind", kind=kind)
        except ValidationError as exc:
            out.errors.append(
                ErrorRecord(
                    record_id=record_id_for(Stage.POSTER, raw.value),
                    tenant_id=None,
                    category=ErrorCategory.VALIDATION,
                    stage=Stage.POSTER,
                    cause=f"unreadable {kind or 'posting-command'} message",
                    reasons=[
                        Reason(field=".".join(map(str, e["loc"])), message=e["msg"])
                        for e in exc.errors()[:20]
                    ],
                    payload_b64=encode_payload(raw.value),
                )
            )
    return out


def chains(
    commands: Sequence[PostingCommand], found: Mapping[str, Symbols] | None = None
) -> list[list[PostingCommand]]:
    """Group one tenant's commands into chains that must run in order.

    Commands sharing an upstream ref (their own, a `depends_on` or a `$ref` other than
    the customer's) are one chain; customers and items are shared through locks instead,
    so one customer's independent invoices still post concurrently.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for c in commands:
        refs, _ = found[c.command_id] if found else symbols(c.body)
        customer = c.customer.upstream_ref if c.customer else None
        linked = {c.upstream_ref, *c.depends_on, *(r for r in refs if r != customer)}
        root = find(c.upstream_ref)
        for ref in linked:
            parent[find(ref)] = root
    groups: dict[str, list[PostingCommand]] = defaultdict(list)
    for c in commands:
        groups[find(c.upstream_ref)].append(c)
    return list(groups.values())


def _keys(command: PostingCommand, found: Symbols) -> set[tuple[str, str]]:
    refs = set(found[0])
    if command.customer is not None:
        refs.add(command.customer.upstream_ref)
    refs.update(command.depends_on)
    refs.add(command.upstream_ref)
    return {(command.tenant_id, r) for r in refs}


def _pending_rows(ledger: BatchLedger, commands: Sequence[PostingCommand]) -> list[LedgerRow]:
    rows: dict[tuple[str, str], LedgerRow] = {}
    for c in commands:
        if c.operation not in CREATES or c.command_id in ledger.done:
            continue
        key = (c.tenant_id, c.upstream_ref)
        if ledger.get(*key) is None and key not in rows:
            rows[key] = LedgerRow(
                c.tenant_id, c.upstream_ref, c.entity, pending_command=c.command_id
            )
    return list(rows.values())


@dataclass
class Deps:
    """What a batch needs: the pool, connections, publisher and a concurrency cap."""

    pool: asyncpg.Pool
    connections: Connections
    publisher: Publisher
    realm_concurrency: int = 10
    batch_writes: bool = True
    tracer: Tracer = field(default_factory=NoOpTracer)
    """Spans each command in its event's trace (the app passes the poster's tracer)."""
    tenants: TenantLocks = field(default_factory=TenantLocks)
    """Several consumers run batches at once; a tenant's never overlap (rebalances)."""
    items: dict[str, dict[str, str]] = field(default_factory=dict)
    """Item name -> QBO id per realm, kept across batches (the name cache's front)."""


async def _apply_actions(pool: asyncpg.Pool, actions: Sequence[OperatorAction]) -> None:
    for action in actions:
        if action.action is OperatorActionType.LINK_CUSTOMER and action.customer_ref:
            row = await storage.ledger_row(pool, action.tenant_id, action.customer_ref)
            linked = LedgerRow(
                action.tenant_id,
                action.customer_ref,
                "Customer",
                qbo_id=action.qbo_customer_id,
                state="posted",
                # Kept, so a later create action still gets a requestid never used.
                generation=row.generation if row is not None else 0,
            )
            await storage.upsert_ledger(pool, [linked])
        elif action.action is OperatorActionType.CREATE_CUSTOMER and action.customer_ref:
            # The replay that follows creates a customer without searching (ERR-4), under
            # a new requestid generation. Applied once: a batch handled again (after a
            # crash, or record by record) must not undo the customer it created.
            applied = f"{CREATE_ACTION}{action.record_id}" if action.record_id else None
            row = await storage.ledger_row(pool, action.tenant_id, action.customer_ref)
            if applied is not None and row is not None and row.pending_command == applied:
                continue
            fresh = LedgerRow(
                action.tenant_id,
                action.customer_ref,
                "Customer",
                state=NEW_CUSTOMER,
                generation=row.generation + 1 if row is not None else 1,
                pending_command=applied,
            )
            await storage.upsert_ledger(pool, [fresh])
        else:
            log.info("operator action not for the poster", action=action.action)


async def _prefetch_items(
    deps: Deps, commands: Sequence[PostingCommand], found: Mapping[str, Symbols]
) -> dict[str, frozenset[str]]:
    """Fill the realms' item ids from the name cache in one query for the whole batch.

    Returns the names the cache does not have, per realm: their look-ups go to QBO without
    a database round trip each, so on a realm's first contact the item look-up leaves in
    the same `/batch` as the customer look-ups instead of alone after them.
    """
    wanted = {
        (c.realm_id, name)
        for c in commands
        for name in found[c.command_id][1]
        if name not in deps.items.get(c.realm_id, {})
    }
    cached = await storage.cached_ids(deps.pool, "Item", wanted)
    missing: dict[str, set[str]] = defaultdict(set)
    for realm_id, name in wanted:
        if (realm_id, name) in cached:
            deps.items.setdefault(realm_id, {})[name] = cached[(realm_id, name)]
        else:
            missing[realm_id].add(name)
    return {realm: frozenset(names) for realm, names in missing.items()}


async def _run_tenant(
    deps: Deps,
    ledger: BatchLedger,
    client: QboClient | NotConnected,
    commands: Sequence[PostingCommand],
    report: Callable[[PostingCommand, Done | Failure], None],
    found: Mapping[str, Symbols],
    items_not_cached: frozenset[str] | None = None,
) -> None:
    tenant_id, realm_id = commands[0].tenant_id, commands[0].realm_id
    if isinstance(client, NotConnected):
        for c in commands:
            report(c, connection_failure(str(client)))
        return

    async def revoked(reason: str) -> None:
        await deps.connections.revoked(realm_id, reason)

    running = [0]  # chains past the gate and not finished: the coalescers wait for them

    def count() -> int:
        return running[0]

    coalescer = WriteCoalescer(client, running=count) if deps.batch_writes else None
    work = Work(deps.pool, client, ledger, tenant_id, realm_id, revoked, coalescer)
    work.items = deps.items.setdefault(realm_id, {})
    work.items_not_cached = items_not_cached or frozenset()
    work.symbols = found
    work.queries = QueryCoalescer(client, running=count) if deps.batch_writes else None
    gate = asyncio.Semaphore(deps.realm_concurrency)

    async def run_chain(chain: Sequence[PostingCommand]) -> None:
        async with gate:
            running[0] += 1
            try:
                for c in chain:
                    with command_span(deps.tracer, c) as span:
                        outcome = await execute(work, c)
                        record_outcome(span, outcome)
                        report(c, outcome)
            finally:
                running[0] -= 1

    try:
        await _all(run_chain(chain) for chain in chains(commands, found))
    finally:
        await work.cancel_lookups()
        if coalescer is not None:
            await coalescer.close()
        if work.queries is not None:
            await work.queries.close()


async def _all(aws: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run all to the end, then raise the first failure.

    A plain gather raises at the first failure and leaves the rest running: the batch
    would then be retried (and its tenant locks released) while the first attempt still
    writes to QBO.
    """
    results = await asyncio.gather(*aws, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def handle_batch(deps: Deps, records: Sequence[Raw]) -> None:
    """Execute a batch and make its outcomes durable and published (see module doc)."""
    started = time.perf_counter()
    parsed = parse(records)
    tenants = {c.tenant_id for c, _ in parsed.commands} | {a.tenant_id for a in parsed.actions}
    async with deps.tenants.holding(tenants):
        await _handle(deps, parsed, started)


async def _handle(deps: Deps, parsed: Parsed, started: float) -> None:
    await _apply_actions(deps.pool, parsed.actions)
    commands = [c for c, _ in parsed.commands]
    raw_of = {c.command_id: raw for c, raw in parsed.commands}
    found = {c.command_id: symbols(c.body) for c in commands}
    keys = set().union(*(_keys(c, found[c.command_id]) for c in commands)) if commands else set()
    rows = await storage.load_ledger(deps.pool, keys)
    done = await storage.done_commands(deps.pool, (c.command_id for c in commands))
    ledger = BatchLedger(rows, done)
    await storage.upsert_ledger(deps.pool, _pending_rows(ledger, commands))
    not_cached = await _prefetch_items(deps, commands, found)
    prepared = time.perf_counter()

    posted: list[tuple[str, BaseModel]] = []
    errors = list(parsed.errors)

    def report(command: PostingCommand, outcome: Done | Failure) -> None:
        if isinstance(outcome, Failure):
            errors.append(error_record(command, raw_of[command.command_id], outcome))
            return
        posted.append((command.tenant_id, _posted(command, outcome)))
        if outcome.warning is not None:
            errors.append(error_record(command, raw_of[command.command_id], outcome.warning))

    by_tenant: dict[str, list[PostingCommand]] = defaultdict(list)
    for c in commands:
        by_tenant[c.tenant_id].append(c)
    clients = await deps.connections.clients_for({t: cs[0].realm_id for t, cs in by_tenant.items()})
    await _all(
        _run_tenant(deps, ledger, clients[t], cs, report, found, not_cached.get(cs[0].realm_id))
        for t, cs in by_tenant.items()
    )
    executed = time.perf_counter()
    await storage.save_outcomes(deps.pool, ledger.changed_rows(), ledger.finished)
    saved = time.perf_counter()
    await deps.publisher.publish(posted, errors)
    for notice in parsed.notices:
        record = await back_sync(deps.pool, deps.connections, notice)
        if record is not None:
            await publish_once(
                deps.pool, deps.publisher, record.realm_id, record.tenant_id, [record], "webhook"
            )
    if commands:
        # Where a batch's time went: ledger and pending rows, QBO, saving, publishing.
        end = time.perf_counter()
        log.info(
            "posted batch",
            commands=len(commands),
            posted=len(posted),
            errors=len(errors),
            seconds=round(end - started, 3),
            prepare_s=round(prepared - started, 3),
            execute_s=round(executed - prepared, 3),
            save_s=round(saved - executed, 3),
            publish_s=round(end - saved, 3),
        )


async def handle_one_by_one(deps: Deps, records: Sequence[Raw]) -> None:
    """Handle each record alone, after the database refused the data of a whole batch.

    Kafka order is kept (one record after the other), so a realm's documents still post
    in order. A record the database refuses again ends as an error record with the
    command's bytes (a resync republishes it once it is fixed); transient failures
    propagate and the batch is retried. Commands of the batch that already reached QBO
    left pending ledger rows, so this second pass looks them up instead of writing twice.
    """
    for raw in records:
        try:
            await handle_batch(deps, [raw])
        except Exception as exc:
            if not is_data_error(exc):
                raise
            record = data_error_record(raw, exc)
            log.warning(
                "record refused by the database", error=str(exc), record_id=record.record_id
            )
            await deps.publisher.publish([], [record])


def data_error_record(raw: Raw, exc: BaseException) -> ErrorRecord:
    """The error record of a record whose data the database refused.

    In the command's own category (Validation when it is unreadable or an item's), not
    Service: that means a QBO item (ERR-1), and its Delete action would drop the only
    copy of the data.
    """
    sqlstate = getattr(exc, "sqlstate", None) or "client"
    cause = f"the poster's database refused this record's data ({sqlstate}: {exc})"
    try:
        command = PostingCommand.model_validate_json(raw.value)
    except ValidationError:
        return ErrorRecord(
            record_id=record_id_for(Stage.POSTER, raw.value),
            tenant_id=None,
            category=ErrorCategory.VALIDATION,
            stage=Stage.POSTER,
            cause=cause[:500],
            reasons=[Reason(field="", message=cause[:500])],
            payload_b64=encode_payload(raw.value),
        )
    # An item command's own category is Service: Validation instead, for the same reason.
    category = (
        ErrorCategory.VALIDATION if command.category is ErrorCategory.SERVICE else command.category
    )
    failure = Failure(category, cause, [Reason(field="", message=cause[:500])])
    return error_record(command, raw.value, failure)


def _posted(command: PostingCommand, done: Done) -> PostedRecord:
    return PostedRecord(
        tenant_id=command.tenant_id,
        realm_id=command.realm_id,
        command_id=command.command_id,
        event_id=command.event_id,
        upstream_ref=command.upstream_ref,
        entity=command.entity,
        operation=command.operation,
        qbo_id=done.qbo_id,
        doc_number=done.doc_number,
        sync_token=done.sync_token,
        repeat=done.repeat,
        trace_id=trace_id_of(command.traceparent),
    )


Handler = Callable[[Sequence[Raw]], Awaitable[None]]
