"""Invoices and credit notes: DOC-1..DOC-8, with customers (CUS-*), currency (CUR-2..4)."""

from decimal import Decimal
from typing import Any

from qbsync_contracts.events import (
    CreditNoteIssued,
    CreditNoteVoided,
    InvoiceIssued,
    InvoiceUpdated,
    InvoiceVoided,
)
from qbsync_core.commands import CustomerResolution, Entity, Operation
from qbsync_core.errors import ErrorCategory

from qbsync_mapper.rules.core import Mapping, doc_number, money
from qbsync_mapper.rules.currency import currency_fields
from qbsync_mapper.rules.customers import resolve_customer
from qbsync_mapper.rules.lines import check_rounding, ensure_items, map_lines
from qbsync_mapper.rules.state import DocKind, DocState, DocStatus

INVOICE = ErrorCategory.INVOICE


def map_invoice(m: Mapping, event: InvoiceIssued | InvoiceUpdated) -> bool:
    """Create (DOC-1) or update (DOC-2) a QBO Invoice; True when it was issued.

    An invoice the mapper already issued is updated in place whatever the event's
    type, so an upstream re-issue never creates a second QBO invoice (DOC-2).
    """
    data = event.data
    label = f"Invoice {data.number}"
    known = m.state.get(DocKind.INVOICE, data.ref)
    if known is not None and known.status is DocStatus.VOIDED:
        m.fail(
            INVOICE,
            f"{label} was voided in QuickBooks by qbsync; a voided invoice cannot be changed.",
            code="invoice-voided",
        )
        return False
    if known is not None and known.status is DocStatus.SKIPPED:
        m.skip("invoice-not-exported")
        return False
    if m.before_export_window(data.issue_date):
        m.state.put(
            DocState(
                kind=DocKind.INVOICE, ref=data.ref, status=DocStatus.SKIPPED, currency=data.currency
            )
        )
        m.skip("before-export-from")
        return False
    currency = currency_fields(m, data.currency, data.exchange_rate, INVOICE)
    customer = resolve_customer(m, data.customer)
    lines = map_lines(m, list(data.lines))
    if currency is None or customer is None or lines is None:
        return False
    if not check_rounding(m, list(data.lines), lines, data.tax_total, label):
        return False
    item_refs = ensure_items(m, lines)
    body: dict[str, Any] = {
        "DocNumber": doc_number(data.number),
        "TxnDate": data.issue_date.isoformat(),
        "CustomerRef": {"$ref": customer.upstream_ref},
        **currency,
        "Line": lines.lines,
    }
    if data.due_date is not None:
        body["DueDate"] = data.due_date.isoformat()
    if data.tax_total is not None:
        body["TxnTaxDetail"] = {"TotalTax": money(data.tax_total)}
    if data.bill_email:
        body["BillEmail"] = {"Address": data.bill_email}
    if data.private_note:
        body["PrivateNote"] = data.private_note
    ref = m.ref("invoice", data.ref)
    update = known is not None
    if update:
        body["sparse"] = True
    m.command(
        Operation.UPDATE if update else Operation.CREATE,
        Entity.INVOICE,
        ref,
        INVOICE,
        body=body,
        customer=customer,
        depends_on=item_refs,
        expected_total=data.total,
    )
    _send(m, data.send, data.bill_email, ref, label)
    settled = known.settled if known is not None else Decimal(0)
    payments = known.payments if known is not None else []
    m.state.put(
        DocState(
            kind=DocKind.INVOICE,
            ref=data.ref,
            status=DocStatus.ISSUED,
            currency=data.currency,
            total=data.total,
            number=data.number,
            customer_ref=data.customer.ref,
            customer=customer.model_dump(mode="json"),
            settled=settled,
            payments=payments,
        )
    )
    return True


def _send(m: Mapping, send: bool, bill_email: str | None, ref: str, label: str) -> None:
    """E-mail the invoice through QBO after posting it (DOC-5)."""
    if not send:
        return
    if not bill_email:
        m.fail(
            INVOICE,
            f"{label} was copied to QuickBooks but not e-mailed: it has no billing e-mail "
            "address upstream. Add one and resync to send it.",
            code="send-without-email",
            field="data.bill_email",
        )
        return
    m.command(
        Operation.SEND,
        Entity.INVOICE,
        ref,
        INVOICE,
        body={"BillEmail": {"Address": bill_email}},
        depends_on=[ref],
    )


def map_invoice_void(m: Mapping, event: InvoiceVoided) -> None:
    """Void the QBO Invoice and, first, the payments linked to it (DOC-7)."""
    invoice = m.state.get(DocKind.INVOICE, event.data.ref)
    if invoice is None:
        m.fail(
            INVOICE,
            f"Invoice {event.data.ref!r} was voided upstream but qbsync never received it.",
            code="void-unknown-invoice",
            field="data.ref",
        )
        return
    if invoice.status is not DocStatus.ISSUED:
        m.skip(f"invoice-{invoice.status.value}")
        return
    ref = m.ref("invoice", invoice.ref)
    for payment_ref in invoice.payments:
        payment = m.state.get(DocKind.PAYMENT, payment_ref)
        if payment is None or payment.status is not DocStatus.ISSUED:
            continue
        # QBO would leave a paid invoice's payment as unapplied credit: void it too.
        m.command(
            Operation.VOID,
            Entity.PAYMENT,
            m.ref("payment", payment_ref),
            ErrorCategory.PAYMENT,
            depends_on=[m.ref("payment", payment_ref)],
        )
        m.state.put(payment.model_copy(update={"status": DocStatus.VOIDED}))
    m.command(Operation.VOID, Entity.INVOICE, ref, INVOICE, depends_on=[ref])
    m.state.put(invoice.model_copy(update={"status": DocStatus.VOIDED}))


def map_credit_note(m: Mapping, event: CreditNoteIssued) -> None:
    """A CreditMemo naming the credited invoice; applied when it covers its balance (DOC-6)."""
    data = event.data
    label = f"Credit note {data.number}"
    if m.before_export_window(data.issue_date):
        m.skip("before-export-from")
        return
    credited = (
        m.state.get(DocKind.INVOICE, data.credited_invoice_ref)
        if data.credited_invoice_ref
        else None
    )
    if (
        credited is not None
        and credited.status is DocStatus.ISSUED
        and (credited.currency != data.currency)
    ):
        m.fail(
            INVOICE,
            f"{label} is in {data.currency} but the invoice it credits is in "
            f"{credited.currency}; QuickBooks can only apply a credit in the invoice's currency.",
            code="credit-currency-mismatch",
            field="data.currency",
        )
        return
    currency = currency_fields(m, data.currency, data.exchange_rate, INVOICE)
    customer = resolve_customer(m, data.customer)
    lines = map_lines(m, list(data.lines))
    if currency is None or customer is None or lines is None:
        return
    if not check_rounding(m, list(data.lines), lines, data.tax_total, label):
        return
    item_refs = ensure_items(m, lines)
    ref = m.ref("creditmemo", data.ref)
    body: dict[str, Any] = {
        "DocNumber": doc_number(data.number),
        "TxnDate": data.issue_date.isoformat(),
        "CustomerRef": {"$ref": customer.upstream_ref},
        **currency,
        "Line": lines.lines,
    }
    if data.tax_total is not None:
        body["TxnTaxDetail"] = {"TotalTax": money(data.tax_total)}
    if data.credited_invoice_ref:
        number = credited.number if credited is not None else None
        body["PrivateNote"] = (
            f"Credit for invoice {number} (upstream {data.credited_invoice_ref})"
            if number
            else f"Credit for upstream invoice {data.credited_invoice_ref}"
        )
    m.command(
        Operation.CREATE,
        Entity.CREDIT_MEMO,
        ref,
        INVOICE,
        body=body,
        customer=customer,
        depends_on=item_refs,
        expected_total=data.total,
    )
    m.state.put(
        DocState(
            kind=DocKind.CREDIT_NOTE,
            ref=data.ref,
            status=DocStatus.ISSUED,
            currency=data.currency,
            total=data.total,
            number=data.number,
            customer_ref=data.customer.ref,
            invoice_ref=data.credited_invoice_ref,
        )
    )
    if credited is not None and credited.status is DocStatus.ISSUED:
        _apply_credit(m, credited, data.ref, data.total, customer)


def _apply_credit(
    m: Mapping, invoice: DocState, credit_note: str, credit: Decimal, customer: CustomerResolution
) -> None:
    """Apply the credit to the invoice when it covers the open balance (DOC-6)."""
    credit_ref = m.ref("creditmemo", credit_note)
    open_balance = invoice.open_balance
    if open_balance <= 0 or credit < open_balance:
        return
    invoice_ref = m.ref("invoice", invoice.ref)
    amount = money(open_balance)
    customer_ref = (
        CustomerResolution.model_validate(invoice.customer) if invoice.customer else customer
    )
    m.command(
        Operation.APPLY,
        Entity.PAYMENT,
        m.ref("apply", credit_note),
        INVOICE,
        body={
            "CustomerRef": {"$ref": customer_ref.upstream_ref},
            "TotalAmt": "0.00",
            "Line": [
                {
                    "Amount": amount,
                    "LinkedTxn": [{"TxnId": {"$ref": invoice_ref}, "TxnType": "Invoice"}],
                },
                {
                    "Amount": amount,
                    "LinkedTxn": [{"TxnId": {"$ref": credit_ref}, "TxnType": "CreditMemo"}],
                },
            ],
        },
        customer=customer_ref,
        depends_on=[invoice_ref, credit_ref],
    )
    m.state.put(invoice.model_copy(update={"settled": invoice.settled + open_balance}))


def map_credit_note_void(m: Mapping, event: CreditNoteVoided) -> None:
    """QBO's API cannot void a CreditMemo: ask for manual handling, never drop (DOC-8)."""
    credit = m.state.get(DocKind.CREDIT_NOTE, event.data.ref)
    number = credit.number if credit is not None else event.data.ref
    m.fail(
        INVOICE,
        f"Credit note {number} was voided upstream, but QuickBooks does not allow voiding a "
        "credit memo through its API. Void it by hand in QuickBooks, then skip this error.",
        code="credit-memo-void",
        field="data.ref",
    )
