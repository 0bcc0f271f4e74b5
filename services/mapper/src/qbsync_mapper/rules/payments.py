"""Payments and refunds: PAY-1..PAY-6, PAY-11, with currency (CUR-2) and the window (SET-2)."""

from decimal import Decimal
from typing import Any

from qbsync_contracts.events import PaymentReceived, PaymentRefunded, PaymentVoided
from qbsync_core.commands import CustomerResolution, Entity, Operation
from qbsync_core.errors import ErrorCategory

from qbsync_mapper.rules.core import Mapping, money
from qbsync_mapper.rules.currency import currency_fields
from qbsync_mapper.rules.customers import resolve_customer
from qbsync_mapper.rules.state import DocKind, DocState, DocStatus, HoldReason

PAYMENT = ErrorCategory.PAYMENT
REFUND = ErrorCategory.REFUND
MAX_REF_NUM = 21


def deposit_account(m: Mapping, method: str, currency: str) -> str:
    """The deposit account of (payment method, currency), else the default (PAY-1)."""
    accounts = m.settings.deposit_accounts
    for rule in accounts.rules:
        if rule.method == method and rule.currency == currency:
            return rule.account
    return accounts.default


def map_payment(m: Mapping, event: PaymentReceived, *, released: bool = False) -> None:
    """A QBO Payment linked to its invoice; held while the invoice is not issued (PAY-1..3, 6).

    Args:
        m: the mapping of the event.
        event: the payment.
        released: the payment was held for its invoice and is mapped now that it is issued.
    """
    data = event.data
    if data.transferred_from_ref:
        m.fail(
            PAYMENT,
            f"Payment {data.ref} of {money(data.amount)} {data.currency} was moved from folio "
            f"{data.transferred_from_ref} to another folio; transfers between folios are not "
            "processed. Record it in QuickBooks by hand, then skip this error.",
            code="payment-transfer",
            field="data.transferred_from_ref",
        )
        return
    known = m.state.get(DocKind.PAYMENT, data.ref)
    if known is not None and known.status is not DocStatus.HELD:
        m.skip(f"payment-{known.status.value}")
        return
    if known is not None and not released and not _release_failed(m, known):
        m.skip("payment-held")
        return
    invoice = m.state.get(DocKind.INVOICE, data.invoice_ref) if data.invoice_ref else None
    if data.invoice_ref and invoice is None:
        # PAY-3: paid before the folio closed; goes out with the invoice.
        m.state.put(
            DocState(
                kind=DocKind.PAYMENT,
                ref=data.ref,
                status=DocStatus.HELD,
                currency=data.currency,
                total=data.amount,
                customer_ref=data.customer.ref,
                invoice_ref=data.invoice_ref,
            )
        )
        m.hold(HoldReason.AWAITING_INVOICE, data.invoice_ref, data.ref)
        return
    if m.before_export_window(data.received_at.date()):
        # SET-2, also for payments released with an invoice closed after the date.
        _settle(m, data.ref, data.currency, DocStatus.SKIPPED, data)
        m.skip("before-export-from")
        return
    if invoice is not None and invoice.status is not DocStatus.ISSUED:
        if invoice.status is DocStatus.SKIPPED:
            _settle(m, data.ref, data.currency, DocStatus.SKIPPED, data)
            m.skip("invoice-not-exported")
            return
        m.fail(
            PAYMENT,
            f"Payment {data.ref} is for invoice {invoice.number or invoice.ref}, which was voided.",
            code="payment-for-voided-invoice",
            field="data.invoice_ref",
        )
        return
    if invoice is not None and invoice.currency != data.currency:
        m.fail(
            PAYMENT,
            f"Payment {data.ref} is in {data.currency} but invoice {invoice.number} is in "
            f"{invoice.currency}; QuickBooks requires a payment in the invoice's currency.",
            code="payment-currency-mismatch",
            field="data.currency",
        )
        return
    currency = currency_fields(m, data.currency, data.exchange_rate, PAYMENT)
    customer = (
        CustomerResolution.model_validate(invoice.customer)
        if invoice is not None and invoice.customer
        else resolve_customer(m, data.customer)
    )
    if currency is None or customer is None:
        return
    body: dict[str, Any] = {
        "CustomerRef": {"$ref": customer.upstream_ref},
        "TotalAmt": money(data.amount),
        "TxnDate": data.received_at.date().isoformat(),
        "DepositToAccountRef": {"value": deposit_account(m, data.method, data.currency)},
        "PaymentRefNum": data.ref[:MAX_REF_NUM],
        "PrivateNote": f"Upstream payment {data.ref} ({data.method})",
        **currency,
    }
    depends_on: list[str] = []
    applied = data.amount
    if invoice is not None:
        invoice_ref = m.ref("invoice", invoice.ref)
        applied = max(min(data.amount, invoice.open_balance), Decimal(0))
        if applied > 0:
            body["Line"] = [
                {
                    "Amount": money(applied),
                    "LinkedTxn": [{"TxnId": {"$ref": invoice_ref}, "TxnType": "Invoice"}],
                }
            ]
        depends_on.append(invoice_ref)
        m.state.put(
            invoice.model_copy(
                update={
                    "settled": invoice.settled + applied,
                    "payments": [*invoice.payments, data.ref],
                }
            )
        )
    m.command(
        Operation.CREATE,
        Entity.PAYMENT,
        m.ref("payment", data.ref),
        PAYMENT,
        body=body,
        customer=customer,
        depends_on=depends_on,
        expected_total=data.amount,
    )
    _settle(m, data.ref, data.currency, DocStatus.ISSUED, data, settled=applied)


def _release_failed(m: Mapping, held: DocState) -> bool:
    """Whether a payment still marked held was in fact released, and failed.

    A hold ends when its invoice is issued (PAY-3), in the same transaction, so a
    "held" payment whose invoice the mapper knows was released and could not be
    mapped; its error record is what a resync replays, and the replay must map it
    again (ERR-3), not be taken for a second delivery of a held payment.
    """
    return (
        held.invoice_ref is not None and m.state.get(DocKind.INVOICE, held.invoice_ref) is not None
    )


def _settle(
    m: Mapping,
    ref: str,
    currency: str,
    status: DocStatus,
    data: Any,
    *,
    settled: Decimal = Decimal(0),
) -> None:
    m.state.put(
        DocState(
            kind=DocKind.PAYMENT,
            ref=ref,
            status=status,
            currency=currency,
            total=data.amount,
            customer_ref=data.customer.ref if data.customer else None,
            invoice_ref=getattr(data, "invoice_ref", None),
            settled=settled,
        )
    )


def map_refund(m: Mapping, event: PaymentRefunded) -> None:
    """A refund is a QBO Expense (Purchase) in the currency's refund account (PAY-4, PAY-11)."""
    data = event.data
    if m.state.get(DocKind.REFUND, data.ref) is not None:
        m.skip("refund-known")
        return
    if m.before_export_window(data.refunded_at.date()):
        m.skip("before-export-from")
        return
    expense_account = m.settings.refund_accounts.get(data.currency)
    if expense_account is None:
        m.fail(
            ErrorCategory.MAPPING,
            f"Refund {data.ref} is in {data.currency}, and the tenant settings map no refund "
            f"expense account for {data.currency}. Add one under refund_accounts, then resync.",
            code="no-refund-account",
            field="data.currency",
        )
        return
    currency = currency_fields(m, data.currency, data.exchange_rate, REFUND)
    customer = resolve_customer(m, data.customer) if data.customer else None
    if currency is None or (data.customer is not None and customer is None):
        return
    note = f"Refund {data.ref} ({data.method})"
    if data.original_payment_ref:
        note += f" of payment {data.original_payment_ref}"
    body: dict[str, Any] = {
        "PaymentType": "Cash",
        "AccountRef": {"value": deposit_account(m, data.method, data.currency)},
        "TxnDate": data.refunded_at.date().isoformat(),
        "TotalAmt": money(data.amount),
        "PrivateNote": note,
        **currency,
        "Line": [
            {
                "Amount": money(data.amount),
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": expense_account}},
            }
        ],
    }
    if customer is not None:
        body["EntityRef"] = {"$ref": customer.upstream_ref, "type": "Customer"}
    m.command(
        Operation.CREATE,
        Entity.PURCHASE,
        m.ref("refund", data.ref),
        REFUND,
        body=body,
        customer=customer,
        expected_total=data.amount,
    )
    m.state.put(
        DocState(
            kind=DocKind.REFUND,
            ref=data.ref,
            status=DocStatus.ISSUED,
            currency=data.currency,
            total=data.amount,
            customer_ref=data.customer.ref if data.customer else None,
        )
    )


def map_payment_void(m: Mapping, event: PaymentVoided) -> None:
    """Void the QBO Payment (PAY-5), or delete the refund's Expense (PAY-4)."""
    ref = event.data.ref
    refund = m.state.get(DocKind.REFUND, ref)
    if refund is not None:
        if refund.status is DocStatus.ISSUED:
            upstream = m.ref("refund", ref)
            m.command(Operation.DELETE, Entity.PURCHASE, upstream, REFUND, depends_on=[upstream])
            m.state.put(refund.model_copy(update={"status": DocStatus.VOIDED}))
        else:
            m.skip(f"refund-{refund.status.value}")
        return
    payment = m.state.get(DocKind.PAYMENT, ref)
    if payment is None:
        m.fail(
            PAYMENT,
            f"Payment {ref!r} was voided upstream but qbsync never received it.",
            code="void-unknown-payment",
            field="data.ref",
        )
        return
    if payment.status is DocStatus.HELD:
        # Voided before its invoice closed: nothing was posted, and nothing will be.
        m.state.put(payment.model_copy(update={"status": DocStatus.VOIDED}))
        m.skip("voided-while-held")
        return
    if payment.status is not DocStatus.ISSUED:
        m.skip(f"payment-{payment.status.value}")
        return
    upstream = m.ref("payment", ref)
    m.command(Operation.VOID, Entity.PAYMENT, upstream, PAYMENT, depends_on=[upstream])
    m.state.put(payment.model_copy(update={"status": DocStatus.VOIDED}))
    if payment.invoice_ref and (invoice := m.state.get(DocKind.INVOICE, payment.invoice_ref)):
        m.state.put(invoice.model_copy(update={"settled": invoice.settled - payment.settled}))
