"""Back-sync (SET-7): a Payment recorded in QBO against a synced invoice goes back upstream.

Ingest turns QBO's webhook into a `QboPaymentNotice` on qbsync.commands.v1; the poster
fetches the Payment and, if a line links an invoice from its ledger, publishes a
`payment.recorded_in_qbo` record on qbsync.posted.v1. Payments the poster wrote itself
are not echoed back.
"""

from decimal import Decimal

import asyncpg
import structlog
from qbsync_core.records import QboPaymentNotice
from qbsync_qbo import QboError, QboNotFound

from qbsync_poster import storage
from qbsync_poster.connections import Connections, NotConnected
from qbsync_poster.outcomes import BackSyncRecord

log = structlog.get_logger()


def _linked_invoices(payment: dict[str, object]) -> dict[str, Decimal]:
    amounts: dict[str, Decimal] = {}
    for line in payment.get("Line") or []:  # type: ignore[attr-defined]
        for link in line.get("LinkedTxn") or []:
            if link.get("TxnType") == "Invoice":
                txn = str(link.get("TxnId"))
                amounts[txn] = amounts.get(txn, Decimal(0)) + Decimal(str(line.get("Amount", 0)))
    return amounts


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
    try:
        client = await connections.client_for(stored.tenant_id, notice.realm_id)
        payment = await client.read("Payment", notice.entity_id)
    except QboNotFound:
        return None
    except (QboError, NotConnected) as exc:
        log.warning("payment back-sync skipped", realm=notice.realm_id, error=str(exc))
        return None
    ours = await storage.ledger_by_qbo_id(pool, stored.tenant_id, "Payment", [payment.id])
    if ours:
        return None  # posted by us: not news upstream
    amounts = _linked_invoices(payment.data)
    synced = await storage.ledger_by_qbo_id(pool, stored.tenant_id, "Invoice", list(amounts))
    if not synced:
        return None
    currency = payment.get("CurrencyRef") or {}
    return BackSyncRecord(
        tenant_id=stored.tenant_id,
        realm_id=notice.realm_id,
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
        operation=notice.operation,
    )
