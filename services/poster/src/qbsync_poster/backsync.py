"""Back-sync (SET-7): a Payment recorded in QBO against a synced invoice goes back upstream.

Only for tenants that opted in (`PUT /v1/tenants/{t}/backsync`): by default QBO is
never read back (SET-6), and notices for other tenants are dropped with a log line.

Two paths find such payments: ingest turns QBO's webhook into a `QboPaymentNotice` on
qbsync.commands.v1, and the CDC poll (cdc.py) asks QBO's ChangeDataCapture for payments
changed since a cursor. Either way, if a line links an invoice from the ledger, a
`payment.recorded_in_qbo` record goes to qbsync.posted.v1. Payments the poster wrote
itself are not echoed back (ledger, or the `[qbsync:` marker it puts in PrivateNote,
which covers a payment whose ledger row is not saved yet).

Once: every published payment is claimed in `backsynced_payments` in the transaction
that publishes it, so the webhook and the poll (and two poster processes) publish a
payment's creation once. A webhook *Update* notice is news about a known payment and is
published again. A crash after the broker's ack but before the commit republishes it
on the next pass (the record is keyed by tenant and carries `qbo_payment_id`).
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import asyncpg
import structlog
from qbsync_core.records import QboPaymentNotice
from qbsync_qbo import QboEntity, QboError, QboNotFound

from qbsync_poster import storage
from qbsync_poster.connections import Connections, NotConnected
from qbsync_poster.outcomes import MARKER_PREFIX, BackSyncRecord
from qbsync_poster.publishing import Publisher

log = structlog.get_logger()


def _linked_invoices(payment: dict[str, object]) -> dict[str, Decimal]:
    amounts: dict[str, Decimal] = {}
    for line in payment.get("Line") or []:  # type: ignore[attr-defined]
        for link in line.get("LinkedTxn") or []:
            if link.get("TxnType") == "Invoice":
                txn = str(link.get("TxnId"))
                amounts[txn] = amounts.get(txn, Decimal(0)) + Decimal(str(line.get("Amount", 0)))
    return amounts


async def payment_record(
    pool: asyncpg.Pool, tenant_id: str, realm_id: str, payment: QboEntity, operation: str
) -> BackSyncRecord | None:
    """The back-sync record of a QBO payment.

    None when the poster wrote the payment or it links no invoice of the ledger.
    """
    if f"[{MARKER_PREFIX}" in str(payment.get("PrivateNote") or ""):
        return None  # written by the poster
    if await storage.ledger_by_qbo_id(pool, tenant_id, "Payment", [payment.id]):
        return None  # posted by us: not news upstream
    amounts = _linked_invoices(payment.data)
    synced = await storage.ledger_by_qbo_id(pool, tenant_id, "Invoice", list(amounts))
    if not synced:
        return None
    currency = payment.get("CurrencyRef") or {}
    return BackSyncRecord(
        tenant_id=tenant_id,
        realm_id=realm_id,
        qbo_payment_id=payment.id,
        total=str(payment.get("TotalAmt", "0")),
        currency=currency.get("value") if isinstance(currency, dict) else None,
        txn_date=payment.get("TxnDate"),
        payment_ref_num=payment.get("PaymentRefNum"),
        invoices=[
            {
                "upstream_ref": r.upstream_ref,
                "qbo_id": r.qbo_id or "",
                "amount": str(amounts[r.qbo_id or ""]),
            }
            for r in synced
        ],
        operation=operation,
    )


async def back_sync(
    pool: asyncpg.Pool, connections: Connections, notice: QboPaymentNotice
) -> BackSyncRecord | None:
    """The back-sync record of a payment notice, or None when there is nothing to report."""
    if notice.operation not in ("Create", "Update"):
        return None
    stored = await storage.connection_for_realm(pool, notice.realm_id)
    if stored is None:
        log.info("payment notice for an unknown realm", realm=notice.realm_id)
        return None
    if not stored.backsync:
        # SET-6: QBO is not read back for a tenant that did not opt in.
        log.info("payment notice for a tenant without back-sync", tenant=stored.tenant_id)
        return None
    try:
        client = await connections.client_for(stored.tenant_id, notice.realm_id)
        payment = await client.read("Payment", notice.entity_id)
    except QboNotFound:
        return None
    except (QboError, NotConnected) as exc:
        log.warning("payment back-sync skipped", realm=notice.realm_id, error=str(exc))
        return None
    return await payment_record(pool, stored.tenant_id, notice.realm_id, payment, notice.operation)


async def publish_once(
    pool: asyncpg.Pool,
    publisher: Publisher,
    realm_id: str,
    tenant_id: str,
    records: Sequence[BackSyncRecord],
    source: str,
    *,
    cursor: datetime | None = None,
) -> int:
    """Publish the records whose payment no one published yet (Updates always).

    Claim, publish and (for the CDC poll) the realm's new cursor commit together.

    Returns:
        How many records were published.
    """
    async with pool.acquire() as conn, conn.transaction():
        fresh = await storage.claim_backsync(
            conn, realm_id, tenant_id, [r.qbo_payment_id for r in records], source
        )
        out = [r for r in records if r.qbo_payment_id in fresh or r.operation == "Update"]
        if out:
            await publisher.publish([(r.tenant_id, r) for r in out], [])
        if cursor is not None:
            await storage.save_cdc_cursor(conn, realm_id, cursor)
    return len(out)
