"""Finding QBO customers and items for a command (CUS-1..CUS-7, DOC-4).

Every literal goes through `qbsync_qbo.query.select`, which escapes backslashes and
quotes, so names with apostrophes, U+2019, colons or non-ASCII text match exactly.
"""

import hashlib

from qbsync_core.commands import (
    CustomerResolution,
    MatchStrategy,
    PostingCommand,
    noted_customer_number,
)
from qbsync_core.errors import ErrorCategory
from qbsync_qbo import Cond, QboDuplicateName, QboEntity, QboValidationError, select
from qbsync_qbo.query import Scalar

from qbsync_poster import storage
from qbsync_poster.outcomes import fail
from qbsync_poster.storage import LedgerRow
from qbsync_poster.work import Work

ANY_ACTIVE = Cond("IN", [True, False])
"""QBO returns only active list entities unless the query mentions Active."""


NEW_CUSTOMER = "new"
"""Ledger state of a customer an operator asked to create anew (ERR-4): never searched."""


def customer_requestid(tenant_id: str, customer_ref: str, generation: int = 0) -> str:
    """Deterministic requestid of creating one upstream customer (any command may do it).

    A later generation (an operator's "create a new customer") gets its own id, so QBO
    cannot answer it with the customer an earlier create made.
    """
    base = "c-" + hashlib.sha256(f"{tenant_id}\x00{customer_ref}".encode()).hexdigest()[:40]
    return base if generation == 0 else f"{base}-{generation}"


def _criteria(res: CustomerResolution) -> tuple[str, str]:
    lookup = res.lookup
    if res.strategy is MatchStrategy.EMAIL:
        return "PrimaryEmailAddr", lookup.get("email", "")
    if res.strategy is MatchStrategy.NUMBER_CURRENCY and "display_name" not in lookup:
        return "DisplayName", f"{lookup.get('name', '')}/{lookup.get('currency', '')}"
    return "DisplayName", lookup.get("display_name", "")


async def _search(work: Work, res: CustomerResolution, *, inactive: bool) -> list[QboEntity]:
    column, value = _criteria(res)
    where: dict[str, Scalar | Cond] = {column: value}
    if inactive:
        where["Active"] = ANY_ACTIVE
    page = await work.query(select("Customer", where, order_by="Id"))
    if page.entities or column != "PrimaryEmailAddr":
        return page.entities
    # Intuit documents `PrimaryEmailAddr = '...'`; the emulator (and some QBO versions)
    # compare the address only through the dotted path. Both are tried, then checked.
    dotted = {("PrimaryEmailAddr.Address" if k == column else k): v for k, v in where.items()}
    page = await work.query(select("Customer", dotted, order_by="Id"))
    wanted = value.casefold()
    return [
        c
        for c in page.entities
        if str((c.get("PrimaryEmailAddr") or {}).get("Address", "")).casefold() == wanted
    ]


def _number(res: CustomerResolution) -> str | None:
    """The upstream customer number a number + currency resolution matches by (CUS-3)."""
    if res.strategy is not MatchStrategy.NUMBER_CURRENCY:
        return None
    return (res.lookup.get("number") or "").strip() or None


def _ours(res: CustomerResolution, customers: list[QboEntity]) -> list[QboEntity]:
    """The customers that may be this one's: noting its number, or none (made by hand)."""
    number = _number(res)
    if number is None:
        return customers
    return [c for c in customers if noted_customer_number(c.get("Notes")) in (None, number)]


def _numbered(res: CustomerResolution) -> CustomerResolution | None:
    """`res` under `<name> (<number>)/<currency>`, or None if it is so named already."""
    number = _number(res)
    numbered = res.lookup.get("numbered_display_name")
    if not numbered and number:  # a command from before the mapper named it
        name, _, currency = res.lookup.get("display_name", "").rpartition("/")
        numbered = f"{name} ({number})/{currency}"
    if not numbered or res.create.get("DisplayName") == numbered:
        return None
    return res.model_copy(
        update={
            "lookup": {**res.lookup, "display_name": numbered},
            "create": {**res.create, "DisplayName": numbered},
        }
    )


async def _same_number(
    work: Work, res: CustomerResolution, found: list[QboEntity]
) -> tuple[CustomerResolution, list[QboEntity]]:
    """Keep the `<name>/<currency>` customers of this customer number (CUS-3).

    One that notes another number belongs to another upstream customer of the same
    name: this one is then `<name> (<number>)/<currency>`, searched (and created) so.
    A customer noting no number (made by hand in QBO) is taken as this one's.
    """
    same = _ours(res, found)
    numbered = None if same else _numbered(res)
    if numbered is None:
        return res, same
    return numbered, await _search(work, numbered, inactive=False)


def _link(work: Work, res: CustomerResolution, customer: QboEntity) -> str:
    previous = work.ledger.get(work.tenant_id, res.upstream_ref)
    work.ledger.put(
        LedgerRow(
            tenant_id=work.tenant_id,
            upstream_ref=res.upstream_ref,
            entity="Customer",
            qbo_id=customer.id,
            sync_token=customer.sync_token,
            state="posted",
            generation=previous.generation if previous is not None else 0,
            # An operator's create action stays marked as applied (dispatch._apply_actions).
            pending_command=previous.pending_command if previous is not None else None,
        )
    )
    return customer.id


async def resolve_customer(work: Work, command: PostingCommand, res: CustomerResolution) -> str:
    """The QBO customer id for `res`, looking up, linking or creating it.

    Raises:
        CommandFailed: Account error: no match and no auto-create (CUS-6), several
            matches, or the only match is inactive (CUS-7).
    """
    row = work.ledger.get(work.tenant_id, res.upstream_ref)
    if row is not None and row.qbo_id and row.state == "posted":
        return row.qbo_id  # CUS-5: once linked, never searched again (no lock needed)
    async with work.lock(f"customer:{res.upstream_ref}"):
        row = work.ledger.get(work.tenant_id, res.upstream_ref)
        if row is not None and row.qbo_id and row.state == "posted":
            return row.qbo_id  # linked by another chain while this one waited
        if row is not None and row.state == NEW_CUSTOMER:
            # ERR-4: the operator chose a new customer over any match, so no search and
            # no auto-create setting; only QBO's unique names can still stop it.
            name = str(res.create.get("DisplayName", ""))
            created = await _create_customer(
                work, res, "DisplayName", name, generation=row.generation, by_name_only=True
            )
            return _link(work, res, created)
        column, value = _criteria(res)
        if not value:
            raise fail(
                ErrorCategory.ACCOUNT,
                f"customer {res.upstream_ref} has no {column} to match by",
                field_path="customer.lookup",
                customer_ref=res.upstream_ref,
            )
        found = await _search(work, res, inactive=False)
        if res.strategy is MatchStrategy.NUMBER_CURRENCY and found:
            res, found = await _same_number(work, res, found)
            column, value = _criteria(res)
        if len(found) > 1:
            ids = ", ".join(c.id for c in found[:5])
            raise fail(
                ErrorCategory.ACCOUNT,
                f"several QBO customers have {column} {value!r} (ids {ids}); link one",
                field_path="customer",
                customer_ref=res.upstream_ref,
            )
        if found:
            return _link(work, res, found[0])
        if not res.auto_create:
            raise fail(
                ErrorCategory.ACCOUNT,
                f"no QBO customer has {column} {value!r} and auto-create is off (CUS-6)",
                field_path="customer",
                customer_ref=res.upstream_ref,
            )
        return _link(work, res, await _create_customer(work, res, column, value))


async def _create_customer(
    work: Work,
    res: CustomerResolution,
    column: str,
    value: str,
    *,
    generation: int = 0,
    by_name_only: bool = False,
) -> QboEntity:
    """Create the customer; if QBO says the name is taken, use that customer if active.

    After a refused name, only the customer holding the name is looked at when
    `by_name_only` (an operator asked for a new customer, ERR-4), else the tenant's match.
    `column` and `value` name the match in errors; `generation` picks the requestid.
    """
    requestid = customer_requestid(work.tenant_id, res.upstream_ref, generation)
    if res.create.get("DisplayName") == res.lookup.get("numbered_display_name"):
        requestid += "-n"  # not the answer of the refused create under the plain name
    try:
        # Through the realm's coalescer: a first sync creates customers by the hundred.
        return await work.create("Customer", res.create, requestid)
    except QboValidationError as exc:
        if not isinstance(exc, QboDuplicateName):
            raise fail(
                ErrorCategory.ACCOUNT,
                f"QBO refused to create customer {value!r}: {exc.code} {exc.detail or exc}",
                field_path=f"customer.create.{exc.element}" if exc.element else "customer.create",
                exc=exc,
                customer_ref=res.upstream_ref,
            ) from exc
        # 6240: the name is taken, possibly by an inactive customer the search skipped.
        # The taken name is also how a create whose answer was lost is found again.
        same = [] if by_name_only else await _search(work, res, inactive=True)
        if not same and (by_name_only or column != "DisplayName"):
            name = str(res.create.get("DisplayName", ""))
            page = await work.client.query(
                select("Customer", {"DisplayName": name, "Active": ANY_ACTIVE})
            )
            same = page.entities
        numbered = None if _ours(res, same) else _numbered(res)
        if numbered is not None:
            # CUS-3: the name is another customer number's; this one takes its own name.
            return await _create_customer(
                work, numbered, column, value, generation=generation, by_name_only=by_name_only
            )
        active = [c for c in _ours(res, same) if c.get("Active", True) is not False]
        if active:
            return active[0]
        holders = ", ".join(c.id for c in same[:5]) or "unknown"
        raise fail(
            ErrorCategory.ACCOUNT,
            f"the QBO customer with {column} {value!r} (id {holders}) is inactive or deleted "
            "(CUS-7): reactivate or rename it in QBO, or link another customer",
            field_path="customer",
            exc=exc,
            customer_ref=res.upstream_ref,
        ) from exc


async def check_customer(work: Work, customer_ref: str) -> str | None:
    """Why the linked customer cannot be used (deleted or inactive in QBO), or None."""
    row = work.ledger.get(work.tenant_id, customer_ref)
    if row is None or not row.qbo_id:
        return None
    page = await work.client.query(select("Customer", {"Id": row.qbo_id, "Active": ANY_ACTIVE}))
    if not page.entities:
        return f"QBO customer {row.qbo_id} linked to {customer_ref} was deleted in QBO (CUS-7)"
    if page.entities[0].get("Active", True) is False:
        return f"QBO customer {row.qbo_id} linked to {customer_ref} is inactive in QBO (CUS-7)"
    return None


def item_lock(name: str) -> str:
    """The name of the lock a look-up of item `name` holds."""
    return f"item:{name.casefold()}"


async def item_id(work: Work, name: str) -> str:
    """The QBO id of the item named `name` (memory, then the name cache, then QBO).

    Raises:
        CommandFailed: Service error: no active item of that name.
    """
    if name in work.items:
        return work.items[name]
    async with work.lock(item_lock(name)):
        return await _item_id(work, name)


async def _item_id(work: Work, name: str) -> str:
    if name in work.items:
        return work.items[name]  # another chain looked it up while this one waited
    cached = None
    if name not in work.items_not_cached:
        cached = await storage.cached_id(work.pool, work.realm_id, "Item", name)
    if cached is None:
        page = await work.query(select("Item", {"Name": name}))
        if not page.entities:
            raise fail(
                ErrorCategory.SERVICE,
                f"QBO has no active item named {name!r}",
                field_path="body.Line",
            )
        cached = page.entities[0].id
        await storage.cache_id(work.pool, work.realm_id, "Item", name, cached)
    work.items[name] = cached
    return cached


async def ensure_item(work: Work, command: PostingCommand) -> QboEntity:
    """Find the command's item by Name, or create it from the body (DOC-4)."""
    name = str(command.body.get("Name", ""))
    async with work.lock(item_lock(name)):
        page = await work.client.query(select("Item", {"Name": name, "Active": ANY_ACTIVE}))
        found = page.entities
        if found and found[0].get("Active", True) is False:
            raise fail(
                ErrorCategory.SERVICE,
                f"the QBO item {name!r} is inactive (deleted in QBO); reactivate or rename it",
                field_path="body.Name",
            )
        if not found:
            try:
                entity = await work.client.create("Item", command.body, f"{command.command_id}-0")
            except QboDuplicateName:
                page = await work.client.query(select("Item", {"Name": name}))
                if not page.entities:
                    raise
                entity = page.entities[0]
        else:
            entity = found[0]
        work.items[name] = entity.id
        await storage.cache_id(work.pool, work.realm_id, "Item", name, entity.id)
        return entity
