"""The v3 operations on a realm: create, read, update, delete, void, send, query, CDC, batch.

Every function here is synchronous and never awaits, so one request's read-validate-write
cannot interleave with another's on the event loop.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from qbsync_sandbox import ledger, query
from qbsync_sandbox.catalog import KINDS, VOIDABLE_BY_INCLUDE, VOIDABLE_BY_OPERATION, EntityKind
from qbsync_sandbox.clock import now, parse_moment, response_time, stamp
from qbsync_sandbox.faults import QboFault, business, not_found, required, unsupported
from qbsync_sandbox.money import ZERO
from qbsync_sandbox.rules import NORMALISERS, Context
from qbsync_sandbox.store import Json, Realm, Tombstone

READ_ONLY = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status"})
COMPUTED = frozenset(
    {
        "Balance",
        "RemainingCredit",
        "UnappliedAmt",
        "HomeTotalAmt",
        "LinkedTxn",
        "FullyQualifiedName",
        "Classification",
    }
)
CDC_MAX_DAYS = 30


def envelope(entity: str, doc: Json) -> Json:
    """Wrap an entity as QBO answers: ``{"Invoice": {...}, "time": ...}``."""
    return {entity: doc, "time": response_time()}


def _kind(name: str) -> EntityKind:
    kind = KINDS.get(name.lower())
    if kind is None:
        raise unsupported(f"on unknown entity {name}")
    return kind


def _sync_check(doc: Json, body: Json, entity: str) -> None:
    token = body.get("SyncToken")
    if token is None:
        raise required("SyncToken")
    if str(token) != str(doc.get("SyncToken")):
        raise QboFault(
            "5010",
            "Stale Object Error",
            f"Stale Object Error : {entity} {doc['Id']} is at SyncToken {doc.get('SyncToken')} "
            f"but the request sent {token}; someone else changed it first.",
            element="SyncToken",
        )


def _find(realm: Realm, entity: str, entity_id: object) -> Json:
    if entity_id in (None, ""):
        raise required("Id")
    doc = realm.get(entity, entity_id)
    if doc is None:
        raise not_found(entity, str(entity_id))
    return doc


def _payment_links_before(realm: Realm, entity: str, old: Json | None) -> set[tuple[str, str]]:
    if entity != "Payment" or old is None:
        return set()
    return ledger.unlink_payment(realm, str(old["Id"]))


def _commit(realm: Realm, entity: str, doc: Json, old: Json | None) -> Json:
    """Normalise and store a create (old is None) or an update."""
    options = frozenset(doc.pop("_options", ()))
    touched = _payment_links_before(realm, entity, old)
    try:
        stored = NORMALISERS[entity](doc, Context(realm, old, options))
    except QboFault:
        if old is not None and entity == "Payment":
            ledger.link_payment(realm, old)  # restore the links removed above
        raise
    if old is None:
        stored = realm.insert(entity, stored)
    else:
        stored["Id"], stored["MetaData"] = old["Id"], old["MetaData"]
        stored["SyncToken"], stored["domain"], stored["sparse"] = old["SyncToken"], "QBO", False
        realm.entities[entity][str(old["Id"])] = stored
        realm.bump(stored)
    if entity == "Payment":
        touched |= ledger.link_payment(realm, stored)
        ledger.refresh_targets(realm, touched)
    if entity == "Deposit":
        for holders in realm.deposited.values():
            holders.discard(str(stored["Id"]))
        for line in stored.get("Line", []):
            for link in line.get("LinkedTxn", []):
                if link["TxnType"] == "Payment":
                    realm.deposited[str(link["TxnId"])].add(str(stored["Id"]))
    return stored


def write(realm: Realm, entity_name: str, body: Json, options: frozenset[str]) -> Json:
    """POST /{entity}: create, or update (full or sparse) when the body has an Id."""
    kind = _kind(entity_name)
    entity = kind.name
    if not kind.writable:
        raise unsupported(f"create/update on {entity}")
    if not isinstance(body, dict):
        raise business("The request body must be a JSON object.")
    if kind.singleton:
        single = realm.singleton(entity)
        _sync_check(single, body, entity)
        patched = _deep_merge(copy.deepcopy(single), _writable(body))
        patched["_options"] = options
        return envelope(entity, _commit(realm, entity, patched, single))
    if body.get("Id") in (None, ""):
        doc = _writable(body)
        doc["_options"] = options
        return envelope(entity, _commit(realm, entity, doc, None))
    entity_id = str(body["Id"])
    old = realm.get(entity, entity_id)
    if old is None:
        raise not_found(entity, entity_id)
    _sync_check(old, body, entity)
    if body.get("sparse") is True:
        merged = copy.deepcopy(old)
        merged.update(_writable(body))
    else:
        merged = _writable(body)
        if kind.name_list and "Active" not in merged:
            merged["Active"] = old.get("Active", True)
    merged["_options"] = options
    return envelope(entity, _commit(realm, entity, merged, old))


def _writable(body: Json) -> Json:
    return {k: _clone(v) for k, v in body.items() if k not in READ_ONLY | COMPUTED}


def _clone(value: Any) -> Any:
    """Copy parsed JSON (dicts, lists, scalars); a third of `copy.deepcopy`'s cost."""
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _deep_merge(base: Json, patch: Json) -> Json:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
    return base


def read(realm: Realm, entity_name: str, entity_id: str | None) -> Json:
    """GET /{entity}/{id} (or /preferences, /companyinfo/{realm})."""
    kind = _kind(entity_name)
    if kind.singleton:
        return envelope(kind.name, realm.singleton(kind.name))
    doc = _find(realm, kind.name, entity_id)
    return envelope(kind.name, ledger.present(realm, kind.name, [doc])[0])


def _tombstone(realm: Realm, entity: str, doc: Json) -> None:
    del realm.entities[entity][str(doc["Id"])]
    realm.tombstones.append(Tombstone(entity, str(doc["Id"]), stamp()))


def delete(realm: Realm, entity_name: str, body: Json) -> Json:
    """POST /{entity}?operation=delete."""
    kind = _kind(entity_name)
    entity = kind.name
    if not kind.deletable:
        raise unsupported(
            f"delete on {entity}; list entities are made inactive with Active=false instead"
        )
    doc = _find(realm, entity, body.get("Id"))
    _sync_check(doc, body, entity)
    remove(realm, entity, doc)
    return {
        entity: {"status": "Deleted", "domain": "QBO", "Id": doc["Id"]},
        "time": response_time(),
    }


def remove(realm: Realm, entity: str, doc: Json) -> None:
    """Delete a transaction, refusing when others depend on it."""
    entity_id = str(doc["Id"])
    if entity in ("Invoice", "CreditMemo") and realm.applications.get((entity, entity_id)):
        payments = ", ".join(sorted(realm.applications[(entity, entity_id)]))
        raise QboFault(
            "800",
            "Object cannot be deleted",
            f"{entity} {entity_id} has linked payments ({payments}); unlink or delete them first.",
            element="Id",
        )
    if entity == "Payment":
        _refuse_if_deposited(realm, entity_id)
        ledger.refresh_targets(realm, ledger.unlink_payment(realm, entity_id))
    if entity == "Deposit":
        for holders in realm.deposited.values():
            holders.discard(entity_id)
    _tombstone(realm, entity, doc)


def _refuse_if_deposited(realm: Realm, payment_id: str) -> None:
    if realm.deposited.get(payment_id):
        raise QboFault(
            "6540",
            "Deposited Transaction cannot be changed",
            f"Payment {payment_id} is part of deposit "
            f"{', '.join(sorted(realm.deposited[payment_id]))}; remove it from the deposit first.",
            element="Id",
        )


def void(realm: Realm, entity_name: str, body: Json, *, style: str) -> Json:
    """Void an Invoice (``operation=void``) or a Payment/SalesReceipt (``include=void``)."""
    kind = _kind(entity_name)
    entity = kind.name
    allowed = VOIDABLE_BY_OPERATION if style == "operation" else VOIDABLE_BY_INCLUDE
    if entity not in allowed:
        raise unsupported(f"void on {entity}")
    doc = _find(realm, entity, body.get("Id"))
    _sync_check(doc, body, entity)
    if entity == "Payment":
        _refuse_if_deposited(realm, str(doc["Id"]))
        ledger.refresh_targets(realm, ledger.unlink_payment(realm, str(doc["Id"])))
        doc["UnappliedAmt"] = ZERO
    if entity == "Invoice":
        ledger.remove_application_to(realm, entity, str(doc["Id"]))
        doc.pop("LinkedTxn", None)
    zero_out(doc)
    realm.bump(doc)
    return envelope(entity, doc)


def zero_out(doc: Json) -> None:
    """Zero every amount and quantity of a voided transaction and mark its memo."""
    for line in doc.get("Line", []):
        line["Amount"] = ZERO
        for key, detail in line.items():
            if key.endswith("Detail") and isinstance(detail, dict) and "Qty" in detail:
                detail["Qty"] = ZERO
    for key in ("TotalAmt", "Balance", "HomeTotalAmt", "RemainingCredit"):
        if key in doc:
            doc[key] = ZERO
    if "TxnTaxDetail" in doc:
        doc["TxnTaxDetail"]["TotalTax"] = ZERO
    note = str(doc.get("PrivateNote") or "")
    if not note.startswith("Voided"):
        doc["PrivateNote"] = f"Voided{' - ' + note if note else ''}"


def send(realm: Realm, entity_name: str, entity_id: str, send_to: str | None) -> Json:
    """POST /invoice/{id}/send[?sendTo=]: record an e-mail delivery."""
    kind = _kind(entity_name)
    if kind.name not in ("Invoice", "CreditMemo", "SalesReceipt", "RefundReceipt", "Payment"):
        raise unsupported(f"send on {kind.name}")
    doc = _find(realm, kind.name, entity_id)
    address = send_to or (doc.get("BillEmail") or {}).get("Address")
    if not address:
        raise business("An email address is required: set BillEmail or pass sendTo.", "BillEmail")
    if "@" not in address:
        raise QboFault(
            "2210",
            "Invalid Email Address format",
            f"The email address {address} is not a valid RFC 822 address.",
            element="sendTo",
        )
    doc["BillEmail"] = {"Address": address}
    doc["EmailStatus"] = "EmailSent"
    doc["DeliveryInfo"] = {"DeliveryType": "Email", "DeliveryTime": stamp()}
    realm.bump(doc)
    return envelope(kind.name, doc)


def run_query(realm: Realm, text: str) -> Json:
    """Execute a SELECT and return the ``QueryResponse`` object (without envelope)."""
    parsed = query.parse(text)
    kind = KINDS.get(parsed.entity.lower())
    if kind is None or kind.name != parsed.entity:
        # Entity names in queries are case sensitive: Invoice, not invoice.
        raise query.parse_error(f"Unknown entity {parsed.entity}.")
    docs = list(realm.all(kind.name))
    conditions = parsed.where
    if kind.name_list and not any(c.path.lower() == "active" for c in conditions):
        # QBO returns only active list entities unless the query asks about Active.
        docs = [d for d in docs if d.get("Active", True)]
    docs = ledger.present(realm, kind.name, docs)
    docs = [d for d in docs if all(query.matches(d, c) for c in conditions)]
    if parsed.count:
        return {"totalCount": len(docs)}
    for path, descending in reversed(parsed.order):
        docs.sort(key=_order_key(path), reverse=descending)
    page = docs[parsed.start - 1 : parsed.start - 1 + parsed.max_results]
    if not page:
        return {}
    return {
        kind.name: page,
        "startPosition": parsed.start,
        "maxResults": len(page),
        "totalCount": len(page),
    }


def _order_key(path: str) -> Callable[[Json], tuple[int, Any]]:
    def key(doc: Json) -> tuple[int, Any]:
        return query.sort_key(query.lookup(doc, path))

    return key


def cdc(realm: Realm, entities: str, changed_since: str) -> Json:
    """GET /cdc: changed and deleted objects per requested entity since a moment."""
    since = parse_moment(changed_since or "")
    if since is None:
        raise QboFault(
            "2050",
            "Invalid changedSince",
            f"changedSince {changed_since!r} is not a date or dateTime.",
            element="changedSince",
        )
    if since < now() - timedelta(days=CDC_MAX_DAYS):
        raise business(f"changedSince may be at most {CDC_MAX_DAYS} days ago.", "changedSince")
    groups: list[Json] = []
    for name in [n.strip() for n in entities.split(",") if n.strip()]:
        kind = KINDS.get(name.lower())
        if kind is None or not kind.cdc:
            raise business(f"Change data capture does not support {name}.", "entities")
        changed = [
            d
            for d in ledger.present(realm, kind.name, realm.all(kind.name))
            if (parse_moment(d["MetaData"]["LastUpdatedTime"]) or since) >= since
        ]
        changed.sort(key=lambda d: parse_moment(d["MetaData"]["LastUpdatedTime"]) or since)
        gone: list[Json] = [
            {
                "status": "Deleted",
                "domain": "QBO",
                "Id": t.entity_id,
                "MetaData": {"LastUpdatedTime": t.deleted_at},
            }
            for t in realm.tombstones
            if t.entity == kind.name and (parse_moment(t.deleted_at) or since) >= since
        ]
        items = (changed + gone)[: query.MAX_RESULTS]
        group: Json = {"startPosition": 1, "maxResults": len(items)}
        if items:
            group[kind.name] = items
        groups.append(group)
    return {"CDCResponse": [{"QueryResponse": groups}], "time": response_time()}


MAX_BID_WITH_REQUEST_ID = 10


def batch_items(realm: Realm, items: list[Any], *, with_request_id: bool) -> list[Json]:
    """Execute the items of one batch; none sees what another item of it created."""
    realm.batch_created = set()
    try:
        return [batch_item(realm, item, with_request_id=with_request_id) for item in items]
    finally:
        realm.batch_created = None


def batch_item(realm: Realm, item: Any, *, with_request_id: bool = False) -> Json:
    """Execute one BatchItemRequest; faults become the item's ``Fault``."""
    bid = item.get("bId") if isinstance(item, dict) else None
    try:
        if not isinstance(item, dict):
            raise business("A batch item must be a JSON object.", "BatchItemRequest")
        if with_request_id and len(str(bid or "")) > MAX_BID_WITH_REQUEST_ID:
            raise business(
                f"With a requestid, a bId may have at most {MAX_BID_WITH_REQUEST_ID} "
                f"characters; {bid} has {len(str(bid))}.",
                "bId",
            )
        return {"bId": bid, **_batch_item(realm, item)}
    except QboFault as fault:
        return {"bId": bid, "Fault": fault.fault()}


def _batch_item(realm: Realm, item: Json) -> Json:
    if "Query" in item:
        return {"QueryResponse": run_query(realm, str(item["Query"]))}
    if "CDCQuery" in item:
        spec = item["CDCQuery"] or {}
        result = cdc(realm, str(spec.get("Entities", "")), str(spec.get("ChangedSince", "")))
        return {"CDCResponse": result["CDCResponse"]}
    entity = next((k for k in item if k.lower() in KINDS), None)
    if entity is None:
        raise business("The batch item names no entity.", "BatchItemRequest")
    body: Any = item[entity]
    operation = str(item.get("operation", "create")).lower()
    option_data = {o.strip().lower() for o in str(item.get("optionsData") or "").split(",")}
    if operation == "delete":
        result = delete(realm, entity, body)
    elif operation == "void" or (operation == "update" and "void" in option_data):
        style = "operation" if KINDS[entity.lower()].name in VOIDABLE_BY_OPERATION else "include"
        result = void(realm, entity, body, style=style)
    elif operation in ("create", "update"):
        if operation == "create" and isinstance(body, dict):
            body = {k: v for k, v in body.items() if k != "Id"}
        elif operation == "update" and isinstance(body, dict) and not body.get("Id"):
            raise required("Id")
        result = write(realm, entity, body, frozenset(option_data - {""}))
    else:
        raise QboFault(
            "2170",
            "Invalid Enumeration",
            f"Invalid Enumeration : operation {operation}",
            element="operation",
        )
    result.pop("time", None)
    return result
