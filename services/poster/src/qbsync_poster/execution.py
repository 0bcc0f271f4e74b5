"""Executing one posting command against QBO, exactly once in effect.

Guards, in order: a done command id is not executed again; an upstream ref already
posted is never created twice; a write whose outcome is unknown (timeout, crash) is
looked up in QBO (by DocNumber, else by the `qbsync:<command id>` marker in
PrivateNote) before it is created again; every write carries a requestid derived from
the command id and the ref's generation, so QBO replays instead of writing twice.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import asyncpg
import structlog
from qbsync_core.commands import (
    CustomerResolution,
    Entity,
    MatchStrategy,
    Operation,
    PostingCommand,
)
from qbsync_core.errors import ErrorCategory
from qbsync_qbo import (
    Cond,
    QboAuthError,
    QboDuplicateDocNumber,
    QboEntity,
    QboError,
    QboInvalidReference,
    QboNotFound,
    QboStaleObject,
    select,
)

from qbsync_poster.lookups import (
    check_customer,
    ensure_item,
    item_id,
    resolve_customer,
)
from qbsync_poster.outcomes import (
    MARKER_PREFIX,
    CommandFailed,
    Failure,
    connection_failure,
    fail,
    failure_from_qbo,
)
from qbsync_poster.storage import LedgerRow, forget_id, upsert_ledger
from qbsync_poster.symbols import Unresolved, substitute, symbols
from qbsync_poster.work import Work

log = structlog.get_logger()
INFRASTRUCTURE = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)
STALE_RETRIES = 3
RENUMBER_RETRIES = 3
DOC_NUMBER_ENTITIES = frozenset({"Invoice", "CreditMemo"})


@dataclass
class Done:
    """A command that took effect (now or earlier)."""

    qbo_id: str
    doc_number: str | None
    sync_token: str | None
    repeat: bool = False
    warning: Failure | None = None


Outcome = Done | Failure


def requestid(command: PostingCommand, generation: int) -> str:
    """The write's requestid: command id + generation (≤ 50 chars, QBO's limit)."""
    return f"{command.command_id}-{generation}"


def marker(command: PostingCommand) -> str:
    """Text put in PrivateNote so an unknown outcome can be found again."""
    return f"[{MARKER_PREFIX}{command.command_id}]"


def _with_marker(command: PostingCommand, body: dict[str, Any]) -> dict[str, Any]:
    note = str(body.get("PrivateNote") or "")
    tag = marker(command)
    return {**body, "PrivateNote": f"{note} {tag}".strip() if note else tag}


async def execute(work: Work, command: PostingCommand) -> Outcome:
    """Execute one command; never raises for QBO or data problems (they become Failures)."""
    try:
        if command.command_id in work.ledger.done:
            done = await _already_done(work, command)
            if done is not None:
                return done
        return await OPERATIONS[command.operation](work, command)
    except CommandFailed as exc:
        return exc.failure
    except QboAuthError as exc:
        await work.on_auth_failure(str(exc))
        return connection_failure(
            f"QBO refused the connection's tokens for realm {work.realm_id} "
            "(revoked or expired); reconnect QuickBooks Online",
            exc,
        )
    except QboError as exc:
        return failure_from_qbo(command, exc)
    except INFRASTRUCTURE:
        raise  # not the command's fault: the batch is retried
    except Exception as exc:
        log.exception("command failed unexpectedly", command_id=command.command_id)
        return fail(
            command.category, f"poster could not execute the command: {exc!r}", retriable=True
        ).failure


async def _already_done(work: Work, command: PostingCommand) -> Done | None:
    row = work.ledger.get(command.tenant_id, command.upstream_ref)
    qbo_id = work.ledger.done[command.command_id]
    if command.operation in (Operation.CREATE, Operation.APPLY) and row and row.qbo_id:
        # A repeat of a create: if QBO lost the entity (deleted there) a resync posts it
        # again under a new requestid generation; otherwise it is a harmless redelivery.
        try:
            await work.client.read(command.entity, row.qbo_id)
        except QboNotFound:
            fresh = replace(row, qbo_id=None, sync_token=None, state="pending")
            fresh.generation += 1
            fresh.pending_command = command.command_id
            await upsert_ledger(work.pool, [fresh])  # durable before the new write
            work.ledger.put(fresh)
            return None
    return Done(
        qbo_id or (row.qbo_id if row else "") or "",
        row.doc_number if row else None,
        row.sync_token if row else None,
        repeat=True,
    )


# ---- resolution ---------------------------------------------------------------------


async def _resolve(work: Work, command: PostingCommand, body: dict[str, Any]) -> dict[str, Any]:
    refs, items = work.symbols.get(command.command_id) or symbols(body)
    ids: dict[str, str] = {}
    customer = command.customer.upstream_ref if command.customer is not None else None
    # Items and the customer are looked up at once: on a realm's first contact the look-ups
    # then leave together in one /batch instead of one round trip after the other. A
    # look-up another chain started is shared (shielded: this chain's end must not cancel
    # it for the others; the tenant's end cancels what is left).
    ordered = sorted(items)
    lookups = {
        n: work.item_lookup(n, partial(item_id, work, n)) for n in ordered if n not in work.items
    }
    try:
        if customer in refs and command.customer is not None:
            ids[customer] = await resolve_customer(work, command, command.customer)
    finally:
        # Awaited even when the customer failed (their errors come next).
        answers = await asyncio.gather(
            *(asyncio.shield(f) for f in lookups.values()), return_exceptions=True
        )
        found = dict(zip(lookups, answers, strict=True))
    names: dict[str, str] = {}
    for name in ordered:
        value = found[name] if name in found else await item_id(work, name)
        if isinstance(value, CommandFailed):
            raise CommandFailed(value.failure)  # its own: one shared object, many chains
        if isinstance(value, BaseException):
            raise value.with_traceback(None)
        names[name] = value
    for ref in sorted(refs):
        if ref == customer:
            continue
        row = work.ledger.get(command.tenant_id, ref)
        if row is None or not row.qbo_id or row.state == "deleted":
            raise fail(
                command.category,
                f"{ref} is not posted in QBO (its own command failed or is pending); "
                "resync it first",
                field_path="body",
                retriable=True,
            )
        ids[ref] = row.qbo_id
    try:
        resolved: dict[str, Any] = substitute(body, ids, names)
    except Unresolved as exc:  # pragma: no cover - every symbol was resolved above
        raise fail(command.category, f"unresolved reference {exc}") from exc
    return resolved


async def _explain_missing(
    work: Work, command: PostingCommand, exc: QboNotFound | QboInvalidReference
) -> CommandFailed:
    """Name what was deleted in QBO behind a 610/2500 (ERR-2, CUS-7)."""
    if command.customer is not None:
        why = await check_customer(work, command.customer.upstream_ref)
        if why:
            return fail(
                ErrorCategory.ACCOUNT,
                why,
                field_path="CustomerRef",
                exc=exc,
                customer_ref=command.customer.upstream_ref,
            )
    refs, items = symbols(command.body)
    for ref in sorted(refs):
        row = work.ledger.get(command.tenant_id, ref)
        if row is None or not row.qbo_id or row.entity == "Customer":
            continue
        try:
            await work.client.read(row.entity, row.qbo_id)
        except QboNotFound:
            work.ledger.put(replace(row, state="deleted"))
            return fail(
                command.category,
                f"{row.entity} {row.qbo_id} ({ref}) was deleted in QBO",
                field_path="body",
                exc=exc,
            )
    for name in sorted(items):
        if name in work.items:
            # Forget the id everywhere, or every later command would reuse it.
            work.items.pop(name)
            await forget_id(work.pool, work.realm_id, "Item", name)
            return fail(
                ErrorCategory.SERVICE,
                f"QBO refused a reference ({exc.code}); item {name!r} may have been deleted "
                "or made inactive in QBO",
                field_path=exc.element or "body.Line",
                exc=exc,
            )
    return fail(
        command.category,
        f"QBO refused a reference of {command.upstream_ref}: {exc.code} "
        f"{exc.detail or exc} (a referenced object was deleted or made inactive in QBO)",
        field_path=exc.element or "",
        exc=exc,
    )


# ---- create -------------------------------------------------------------------------


async def _find_lost(work: Work, command: PostingCommand, body: dict[str, Any]) -> QboEntity | None:
    """The entity an earlier attempt of `command` may have created, if QBO has it.

    After a crash a whole batch of refs is pending: their look-ups leave together in
    `/batch` Query items (30 per request) instead of one request each.
    """
    tag = marker(command)
    doc = body.get("DocNumber")
    if isinstance(doc, str) and doc:
        page = await work.query(select(command.entity, {"DocNumber": doc}))
    else:
        like = Cond("LIKE", f"%{MARKER_PREFIX}{command.command_id}%")
        page = await work.query(select(command.entity, {"PrivateNote": like}))
    for entity in page.entities:
        if tag in str(entity.get("PrivateNote") or ""):
            return entity
    return None


async def _next_doc_number(work: Work, entity: str) -> str:
    """(Highest numeric DocNumber of `entity` in QBO) + 1, for DOC-10 renumbering."""
    rows = await work.client.query_all(select(entity, order_by="MetaData.CreateTime DESC"))
    numbers = [int(d) for r in rows if (d := str(r.get("DocNumber") or "")).isdigit()]
    return str(max(numbers, default=0) + 1)


async def _write_new(
    work: Work, command: PostingCommand, body: dict[str, Any], generation: int
) -> QboEntity:
    for _ in range(RENUMBER_RETRIES):
        try:
            return await work.create(command.entity, body, requestid(command, generation))
        except QboDuplicateDocNumber as exc:
            lost = await _find_lost(work, command, body)
            if lost is not None:
                return lost  # our own earlier write holds the number
            if not command.auto_renumber:
                raise fail(
                    ErrorCategory.INVOICE,
                    f"DocNumber {body.get('DocNumber')} is already used in QBO by another "
                    f"{command.entity} (DOC-10: renumbering is off for this tenant)",
                    field_path="body.DocNumber",
                    exc=exc,
                ) from exc
            body = {**body, "DocNumber": await _next_doc_number(work, command.entity)}
        except (QboNotFound, QboInvalidReference) as exc:
            raise await _explain_missing(work, command, exc) from exc
    raise fail(
        ErrorCategory.INVOICE,
        f"DocNumber of {command.upstream_ref} still collides after {RENUMBER_RETRIES} renumbers",
        field_path="body.DocNumber",
        retriable=True,
    )


def _posted_row(command: PostingCommand, entity: QboEntity, generation: int) -> LedgerRow:
    doc = entity.get("DocNumber")
    return LedgerRow(
        tenant_id=command.tenant_id,
        upstream_ref=command.upstream_ref,
        entity=command.entity,
        qbo_id=entity.id,
        sync_token=entity.sync_token,
        doc_number=None if doc is None else str(doc),
        state="posted",
        generation=generation,
    )


def _finish(work: Work, command: PostingCommand, row: LedgerRow, *, repeat: bool = False) -> Done:
    work.ledger.put(row)
    work.ledger.finish(
        command.tenant_id, command.command_id, command.upstream_ref, command.operation, row.qbo_id
    )
    return Done(row.qbo_id or "", row.doc_number, row.sync_token, repeat=repeat)


def _total_warning(command: PostingCommand, entity: QboEntity) -> Failure | None:
    total = entity.get("TotalAmt")
    if command.expected_total is None or total is None:
        return None
    if total == command.expected_total:
        return None
    cause = (
        f"QBO total {total} of {command.entity} {entity.id} differs from the upstream total "
        f"{command.expected_total} (CUR-4: reported, not absorbed)"
    )
    return fail(command.category, cause, field_path="TotalAmt").failure


async def _create(work: Work, command: PostingCommand) -> Outcome:
    row = work.ledger.get(command.tenant_id, command.upstream_ref)
    if row is not None and row.qbo_id and row.state in ("posted", "voided"):
        return _finish(work, command, row, repeat=True)  # never a second entity per ref
    generation = row.generation if row is not None else 0
    body = _with_marker(command, await _resolve(work, command, dict(command.body)))
    key = (command.tenant_id, command.upstream_ref)
    entity = await _find_lost(work, command, body) if key in work.ledger.unknown else None
    if entity is None:
        entity = await _write_new(work, command, body, generation)
    done = _finish(work, command, _posted_row(command, entity, generation))
    done.warning = _total_warning(command, entity)
    return done


# ---- changes to posted entities -----------------------------------------------------


def _posted(work: Work, command: PostingCommand) -> LedgerRow:
    row = work.ledger.get(command.tenant_id, command.upstream_ref)
    if row is None or not row.qbo_id or row.state == "pending":
        raise fail(
            command.category,
            f"{command.upstream_ref} is not posted in QBO; cannot {command.operation} it",
            field_path="upstream_ref",
            retriable=True,
        )
    if row.state == "deleted":
        raise fail(
            command.category,
            f"{command.entity} {row.qbo_id} ({command.upstream_ref}) was deleted in QBO",
            field_path="upstream_ref",
        )
    return row


Write = Callable[[LedgerRow], Awaitable[QboEntity]]


async def _with_fresh_token(
    work: Work, command: PostingCommand, row: LedgerRow, write: Write
) -> QboEntity:
    """Run `write`; on 5010 re-read the entity's SyncToken and run it again."""
    for _ in range(STALE_RETRIES):
        try:
            return await write(row)
        except QboStaleObject:
            current = await work.client.read(command.entity, row.qbo_id or "")
            row = replace(row, sync_token=current.sync_token)
        except QboNotFound as exc:
            work.ledger.put(replace(row, state="deleted"))
            raise fail(
                command.category,
                f"{command.entity} {row.qbo_id} ({command.upstream_ref}) was deleted in QBO",
                field_path="upstream_ref",
                exc=exc,
            ) from exc
        except QboInvalidReference as exc:
            raise await _explain_missing(work, command, exc) from exc
    raise fail(
        command.category,
        f"{command.entity} {row.qbo_id} kept changing in QBO (SyncToken stale "
        f"{STALE_RETRIES} times)",
        field_path="SyncToken",
        retriable=True,
    )


async def _update(work: Work, command: PostingCommand) -> Outcome:
    row = _posted(work, command)
    body = await _resolve(work, command, {k: v for k, v in command.body.items() if k != "sparse"})
    rid = requestid(command, row.generation)

    async def write(current: LedgerRow) -> QboEntity:
        full = {**body, "Id": current.qbo_id, "SyncToken": current.sync_token}
        return await work.client.update(command.entity, full, rid, sparse=True)

    entity = await _with_fresh_token(work, command, row, write)
    done = _finish(work, command, _posted_row(command, entity, row.generation))
    done.warning = _total_warning(command, entity)
    return done


async def _void(work: Work, command: PostingCommand) -> Outcome:
    row = _posted(work, command)
    if row.state == "voided":
        return _finish(work, command, row, repeat=True)
    rid = requestid(command, row.generation)

    async def write(current: LedgerRow) -> QboEntity:
        return await work.client.void(
            command.entity, current.qbo_id or "", current.sync_token or "0", rid
        )

    entity = await _with_fresh_token(work, command, row, write)
    return _finish(work, command, replace(row, sync_token=entity.sync_token, state="voided"))


async def _delete(work: Work, command: PostingCommand) -> Outcome:
    row = work.ledger.get(command.tenant_id, command.upstream_ref)
    if row is not None and row.state == "deleted":
        return _finish(work, command, row, repeat=True)
    row = _posted(work, command)
    rid = requestid(command, row.generation)
    try:
        await _with_fresh_token(
            work,
            command,
            row,
            lambda current: work.client.delete(
                command.entity, current.qbo_id or "", current.sync_token or "0", rid
            ),
        )
    except CommandFailed:
        # 610 on delete: the entity is gone, which is what the command wants.
        now = work.ledger.get(command.tenant_id, command.upstream_ref)
        if now is None or now.state != "deleted":
            raise
    return _finish(work, command, replace(row, state="deleted"))


async def _send(work: Work, command: PostingCommand) -> Outcome:
    row = _posted(work, command)
    email = (command.body.get("BillEmail") or {}).get("Address")
    try:
        entity = await work.client.send_invoice(
            row.qbo_id or "", email, requestid=requestid(command, row.generation)
        )
    except QboNotFound as exc:
        raise fail(
            command.category,
            f"Invoice {row.qbo_id} ({command.upstream_ref}) was deleted in QBO",
            exc=exc,
        ) from exc
    work.ledger.finish(
        command.tenant_id, command.command_id, command.upstream_ref, command.operation, row.qbo_id
    )
    row = replace(row, sync_token=entity.sync_token)
    work.ledger.put(row)
    return Done(row.qbo_id or "", row.doc_number, row.sync_token)


async def _ensure(work: Work, command: PostingCommand) -> Outcome:
    if command.entity == Entity.ITEM:
        item = await ensure_item(work, command)
        return _finish(work, command, _posted_row(command, item, 0))
    if command.entity != Entity.CUSTOMER:
        raise fail(command.category, f"ensure is not supported for {command.entity}")
    res = command.customer or CustomerResolution(
        upstream_ref=command.upstream_ref,
        strategy=MatchStrategy.DISPLAY_NAME,
        lookup={"display_name": str(command.body.get("DisplayName", ""))},
        auto_create=True,
        create=command.body,
    )
    qbo_id = await resolve_customer(work, command, res)
    row = work.ledger.get(command.tenant_id, res.upstream_ref)
    assert row is not None  # resolve_customer linked it
    if res.upstream_ref != command.upstream_ref:
        work.ledger.put(replace(row, upstream_ref=command.upstream_ref))
    work.ledger.finish(
        command.tenant_id, command.command_id, command.upstream_ref, command.operation, qbo_id
    )
    return Done(qbo_id, None, row.sync_token)


OPERATIONS: dict[Operation, Callable[[Work, PostingCommand], Awaitable[Outcome]]] = {
    Operation.ENSURE: _ensure,
    Operation.CREATE: _create,
    Operation.APPLY: _create,
    Operation.UPDATE: _update,
    Operation.VOID: _void,
    Operation.DELETE: _delete,
    Operation.SEND: _send,
}
