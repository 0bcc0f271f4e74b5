"""Table-driven tests of the pure mapping rules: event in, commands or error records out."""

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from qbsync_core.commands import Entity, MatchStrategy, Operation
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import Stage
from qbsync_mapper.rules.state import DocKind, DocStatus, HoldReason

from tests.fixtures.events import (
    make_customer,
    make_envelope,
    make_invoice_issued,
    make_payment_received,
)
from tests.mapper.helpers import run

T = "hotel-lisboa"
INV = f"invoice:{T}:folio-1001"


def credit_note(**data: Any) -> dict[str, Any]:
    body = {
        "ref": "folio-1001-c1",
        "number": "C-1001",
        "customer": make_customer(),
        "currency": "USD",
        "issue_date": "2026-11-21",
        "lines": [
            {"description": "Minibar", "quantity": 1, "unit_price": "291.50", "amount": "291.50"}
        ],
        "total": "291.50",
        "credited_invoice_ref": "folio-1001",
    }
    body.update(data)
    return make_envelope("credit_note.issued", body)


def refund(**data: Any) -> dict[str, Any]:
    body = {
        "ref": "rf-1",
        "currency": "USD",
        "amount": "20.00",
        "method": "card",
        "refunded_at": "2026-11-22T09:00:00+00:00",
        "original_payment_ref": "pay-77",
    }
    body.update(data)
    return make_envelope("payment.refunded", body)


def void(kind: str, ref: str) -> dict[str, Any]:
    return make_envelope(f"{kind}.voided", {"ref": ref})


class TestCustomers:
    @pytest.mark.parametrize(
        ("rule", "strategy", "customer", "lookup", "display_name"),
        [
            ("CUS-1", "email", {}, {"email": "ana@example.com"}, "Ana O'Neil"),
            (
                "CUS-2",
                "display_name",
                {"company": "Acme: Lda"},
                {"display_name": "Acme- Lda"},
                "Acme- Lda",
            ),
            (
                "CUS-3",
                "number_currency",
                {"company": "Company Ltd", "number": "C:9"},
                {
                    "display_name": "Company Ltd/USD",
                    # QBO refuses ':' in names: the fallback name is made acceptable too.
                    "numbered_display_name": "Company Ltd (C-9)/USD",
                    "number": "C:9",
                    "currency": "USD",
                },
                "Company Ltd/USD",
            ),
        ],
    )
    def test_customer_upserted_tells_the_poster_how_to_match_per_tenant_strategy_CUS_1_2_3_4(
        self,
        rule: str,
        strategy: str,
        customer: dict[str, Any],
        lookup: dict[str, str],
        display_name: str,
    ) -> None:
        r = run(customers={"strategy": strategy})
        (cmd,) = r.commands(
            make_envelope("customer.upserted", {"customer": make_customer(**customer)})
        )
        assert (cmd.operation, cmd.entity, cmd.category) == (
            Operation.ENSURE,
            Entity.CUSTOMER,
            ErrorCategory.ACCOUNT,
        )
        assert cmd.customer is not None
        assert cmd.customer.strategy is MatchStrategy(strategy)
        assert cmd.customer.lookup == lookup
        assert cmd.customer.create["DisplayName"] == display_name
        assert cmd.customer.create["CurrencyRef"] == {"value": "USD"}
        assert cmd.upstream_ref == f"customer:{T}:guest-17:USD"

    def test_one_qbo_customer_per_currency_CUS_3_CUR_2(self) -> None:
        r = run(customers={"strategy": "number_currency"})
        eur = make_customer(company="Company Ltd", number="C-9", currency="EUR")
        (cmd,) = r.commands(make_envelope("customer.upserted", {"customer": eur}))
        assert cmd.upstream_ref == f"customer:{T}:guest-17:EUR"
        assert cmd.customer is not None
        assert cmd.customer.lookup["display_name"] == "Company Ltd/EUR"

    def test_stored_link_is_looked_up_first_via_a_stable_upstream_ref_CUS_5(self) -> None:
        r = run()
        (first,) = r.commands(make_envelope("customer.upserted", {"customer": make_customer()}))
        invoice = r.commands(make_invoice_issued())[0]
        assert invoice.customer is not None
        assert first.customer is not None
        assert invoice.customer.upstream_ref == first.customer.upstream_ref
        assert invoice.body["CustomerRef"] == {"$ref": first.customer.upstream_ref}

    @pytest.mark.parametrize(("auto_create", "expected"), [(True, True), (False, False)])
    def test_auto_create_is_carried_so_a_missing_customer_is_created_or_an_account_error_CUS_6(
        self, auto_create: bool, expected: bool
    ) -> None:
        r = run(customers={"auto_create": auto_create})
        cmd = r.commands(make_invoice_issued())[0]
        assert cmd.customer is not None
        assert cmd.customer.auto_create is expected

    def test_inactive_or_deleted_linked_customer_is_an_account_error_at_the_poster_CUS_7(
        self,
    ) -> None:
        cmd = run().commands(make_invoice_issued())[0]
        assert cmd.customer is not None
        assert cmd.customer.on_inactive == "error"

    @pytest.mark.parametrize(
        ("strategy", "customer", "field"),
        [
            ("email", {"email": None}, "data.customer.email"),
            ("number_currency", {}, "data.customer.number"),
        ],
    )
    def test_customer_without_the_matching_value_is_an_account_error_CUS_1_CUS_3(
        self, strategy: str, customer: dict[str, Any], field: str
    ) -> None:
        r = run(customers={"strategy": strategy})
        payload = make_invoice_issued(data={"customer": make_customer(**customer)})
        (error,) = r.errors(payload)
        assert error.category is ErrorCategory.ACCOUNT
        assert error.reasons[0].field == field
        assert r.mappings[0].commands == []

    def test_do_not_sync_customer_is_held_not_posted_not_reported_CUS_8(self) -> None:
        r = run(customers={"do_not_sync": ["guest-17"]})
        (m,) = r.map(make_invoice_issued())
        assert (m.commands, m.errors) == ([], [])
        (held,) = r.state.new_holds
        assert (held.reason, held.key) == (HoldReason.DO_NOT_SYNC, "guest-17")
        (m,) = r.map(make_payment_received())
        assert (m.commands, m.errors, m.outcome) == ([], [], "held:do_not_sync")


class TestInvoices:
    def test_invoice_issued_creates_an_invoice_with_the_upstream_number_DOC_1(self) -> None:
        payload = make_invoice_issued(data={"bill_email": "ap@acme.example", "private_note": "n"})
        (cmd,) = run().commands(payload)
        assert (cmd.operation, cmd.entity, cmd.category) == (
            Operation.CREATE,
            Entity.INVOICE,
            ErrorCategory.INVOICE,
        )
        assert cmd.upstream_ref == INV
        assert cmd.realm_id == "9130354"
        assert cmd.expected_total == Decimal("291.50")
        body = cmd.body
        assert body["DocNumber"] == "1001"
        assert body["TxnDate"] == "2026-11-20"
        assert body["DueDate"] == "2026-12-20"
        assert body["CurrencyRef"] == {"value": "USD"}
        assert "ExchangeRate" not in body
        assert body["TxnTaxDetail"] == {"TotalTax": "26.50"}
        assert body["BillEmail"] == {"Address": "ap@acme.example"}
        assert body["PrivateNote"] == "n"
        assert [line["Amount"] for line in body["Line"]] == ["240.00", "25.00"]

    def test_invoice_updated_after_posting_updates_the_same_invoice_DOC_2(self) -> None:
        r = run()
        (created,) = r.commands(make_invoice_issued())
        (updated,) = r.commands(
            make_invoice_issued(type="invoice.updated", data={"due_date": "2026-12-31"})
        )
        assert (updated.operation, updated.entity) == (Operation.UPDATE, Entity.INVOICE)
        assert updated.upstream_ref == created.upstream_ref
        assert updated.body["sparse"] is True
        assert updated.body["DueDate"] == "2026-12-31"

    def test_invoice_updated_before_it_was_issued_creates_it_DOC_2(self) -> None:
        (cmd,) = run().commands(make_invoice_issued(type="invoice.updated"))
        assert cmd.operation is Operation.CREATE

    @pytest.mark.parametrize(
        ("line", "item", "class_ref"),
        [
            (
                {"revenue_group": "Rooms", "revenue_category": "Standard"},
                "Room night",
                {"value": "200"},
            ),
            ({"revenue_group": "Rooms", "revenue_category": "Suite"}, "Room other", None),
            ({"service_type": "Consulting"}, "Consulting hours", None),
            ({}, "Sundries", None),
        ],
    )
    def test_lines_map_to_items_by_service_type_or_revenue_group_and_category_DOC_3(
        self, line: dict[str, Any], item: str, class_ref: dict[str, str] | None
    ) -> None:
        data = {"description": "x", "quantity": "1", "unit_price": "10", "amount": "10", **line}
        payload = make_invoice_issued(data={"lines": [data], "tax_total": "0", "total": "10"})
        (cmd,) = run().commands(payload)
        detail = cmd.body["Line"][0]["SalesItemLineDetail"]
        assert detail["ItemRef"] == {"$item": item}
        assert detail.get("ClassRef") == class_ref
        assert detail["Qty"] == "1"
        assert detail["UnitPrice"] == "10"

    def test_new_service_type_creates_an_item_with_the_default_income_account_DOC_4(self) -> None:
        line = {
            "description": "Audit",
            "quantity": "2",
            "unit_price": "50",
            "amount": "100",
            "service_type": "Audit",
        }
        payload = make_invoice_issued(data={"lines": [line], "tax_total": "0", "total": "100"})
        item, invoice = run().commands(payload)
        assert (item.operation, item.entity, item.category) == (
            Operation.ENSURE,
            Entity.ITEM,
            ErrorCategory.SERVICE,
        )
        assert item.upstream_ref == f"item:{T}:Audit"
        assert item.body == {
            "Name": "Audit",
            "Type": "Service",
            "IncomeAccountRef": {"value": "79"},
        }
        assert invoice.depends_on == [item.upstream_ref]
        assert invoice.body["Line"][0]["SalesItemLineDetail"]["ItemRef"] == {"$item": "Audit"}

    def test_new_service_type_without_default_income_account_is_a_service_error_DOC_4(self) -> None:
        line = {
            "description": "Audit",
            "quantity": "1",
            "unit_price": "5",
            "amount": "5",
            "service_type": "Audit",
        }
        r = run(items={"default_income_account": None})
        (error,) = r.errors(
            make_invoice_issued(data={"lines": [line], "tax_total": "0", "total": "5"})
        )
        assert error.category is ErrorCategory.SERVICE
        assert "default income account" in error.cause

    def test_line_without_any_mapping_is_a_mapping_error_SET_1(self) -> None:
        r = run(items={"default_item": None})
        (error,) = r.errors(make_invoice_issued())
        assert error.category is ErrorCategory.MAPPING
        assert error.reasons[0].field == "data.lines.1"
        assert error.retriable is True

    def test_send_posts_then_emails_the_invoice_DOC_5(self) -> None:
        payload = make_invoice_issued(data={"send": True, "bill_email": "ap@acme.example"})
        create, send = run().commands(payload)
        assert (send.operation, send.entity) == (Operation.SEND, Entity.INVOICE)
        assert send.upstream_ref == create.upstream_ref == INV
        assert send.depends_on == [INV]
        assert send.body == {"BillEmail": {"Address": "ap@acme.example"}}

    def test_send_without_billing_email_copies_only_and_reports_it_DOC_5(self) -> None:
        (m,) = run().map(make_invoice_issued(data={"send": True}))
        assert [c.operation for c in m.commands] == [Operation.CREATE]
        (error,) = m.errors
        assert error.category is ErrorCategory.INVOICE
        assert "not e-mailed" in error.cause

    def test_positive_correction_folio_is_a_new_invoice_DOC_6(self) -> None:
        r = run()
        r.commands(make_invoice_issued())
        (cmd,) = r.commands(make_invoice_issued(data={"ref": "folio-1001-p1", "number": "1001-1"}))
        assert (cmd.operation, cmd.entity) == (Operation.CREATE, Entity.INVOICE)
        assert cmd.upstream_ref == f"invoice:{T}:folio-1001-p1"

    def test_negative_correction_is_a_credit_memo_naming_and_applied_to_the_invoice_DOC_6(
        self,
    ) -> None:
        r = run()
        r.commands(make_invoice_issued())
        memo, apply = r.commands(credit_note())
        assert (memo.operation, memo.entity, memo.category) == (
            Operation.CREATE,
            Entity.CREDIT_MEMO,
            ErrorCategory.INVOICE,
        )
        assert memo.body["PrivateNote"] == "Credit for invoice 1001 (upstream folio-1001)"
        assert memo.body["DocNumber"] == "C-1001"
        assert (apply.operation, apply.entity) == (Operation.APPLY, Entity.PAYMENT)
        assert apply.depends_on == [INV, memo.upstream_ref]
        assert apply.body["TotalAmt"] == "0.00"
        assert [(ln["Amount"], ln["LinkedTxn"][0]["TxnType"]) for ln in apply.body["Line"]] == [
            ("291.50", "Invoice"),
            ("291.50", "CreditMemo"),
        ]

    def test_credit_below_the_open_balance_is_not_applied_DOC_6(self) -> None:
        r = run()
        r.commands(make_invoice_issued())
        line = {"description": "Minibar", "quantity": 1, "unit_price": "8", "amount": "8"}
        (memo,) = r.commands(credit_note(lines=[line], total="8"))
        assert memo.entity is Entity.CREDIT_MEMO

    def test_credit_covering_the_balance_left_after_a_payment_is_applied_DOC_6(self) -> None:
        r = run()
        r.commands(make_invoice_issued())
        r.commands(make_payment_received(data={"amount": "283.50"}))
        line = {"description": "Minibar", "quantity": 1, "unit_price": "8", "amount": "8"}
        _memo, apply = r.commands(credit_note(lines=[line], total="8"))
        assert apply.body["Line"][0]["Amount"] == "8.00"

    def test_void_voids_the_invoice_and_its_payment_DOC_7(self) -> None:
        r = run()
        r.commands(make_invoice_issued())
        r.commands(make_payment_received())
        pay_void, inv_void = r.commands(void("invoice", "folio-1001"))
        assert (pay_void.operation, pay_void.entity, pay_void.upstream_ref) == (
            Operation.VOID,
            Entity.PAYMENT,
            f"payment:{T}:pay-77",
        )
        assert (inv_void.operation, inv_void.entity, inv_void.upstream_ref) == (
            Operation.VOID,
            Entity.INVOICE,
            INV,
        )

    def test_void_of_an_unknown_invoice_is_an_invoice_error_DOC_7(self) -> None:
        (error,) = run().errors(void("invoice", "nope"))
        assert error.category is ErrorCategory.INVOICE

    def test_void_of_a_credit_note_asks_for_manual_handling_DOC_8(self) -> None:
        r = run()
        r.commands(make_invoice_issued())
        r.commands(credit_note())
        (m,) = r.map(void("credit_note", "folio-1001-c1"))
        assert m.commands == []
        (error,) = m.errors
        assert error.category is ErrorCategory.INVOICE
        assert error.stage is Stage.MAPPER
        assert "by hand" in error.cause
        assert "C-1001" in error.cause

    def test_document_types_not_exported_are_skipped_DOC_9(self) -> None:
        r = run(document_types=["invoice"])
        (m,) = r.map(credit_note())
        assert (m.commands, m.errors, m.outcome) == (
            [],
            [],
            "skipped:type-not-exported:credit_note",
        )
        assert len(r.commands(make_invoice_issued())) == 1


class TestPayments:
    def test_payment_is_linked_to_its_invoice_in_the_mapped_deposit_account_PAY_1(self) -> None:
        r = run()
        r.commands(make_invoice_issued())
        (cmd,) = r.commands(make_payment_received())
        assert (cmd.operation, cmd.entity, cmd.category) == (
            Operation.CREATE,
            Entity.PAYMENT,
            ErrorCategory.PAYMENT,
        )
        assert cmd.body["DepositToAccountRef"] == {"value": "35"}
        assert cmd.body["TotalAmt"] == "291.50"
        assert cmd.body["TxnDate"] == "2026-11-20"
        assert cmd.body["Line"] == [
            {"Amount": "291.50", "LinkedTxn": [{"TxnId": {"$ref": INV}, "TxnType": "Invoice"}]}
        ]
        assert cmd.depends_on == [INV]
        assert cmd.customer is not None
        assert cmd.body["CustomerRef"] == {"$ref": cmd.customer.upstream_ref}

    def test_deposit_account_by_method_and_currency_PAY_1(self) -> None:
        r = run()
        eur = make_customer(currency="EUR")
        r.commands(
            make_invoice_issued(data={"currency": "EUR", "customer": eur, "exchange_rate": "1.08"})
        )
        (cmd,) = r.commands(
            make_payment_received(
                data={"currency": "EUR", "customer": eur, "exchange_rate": "1.09"}
            )
        )
        assert cmd.body["DepositToAccountRef"] == {"value": "36"}
        assert cmd.body["ExchangeRate"] == "1.09"

    def test_payment_in_another_currency_than_its_invoice_is_rejected_PAY_2(self) -> None:
        r = run()
        r.commands(make_invoice_issued())
        eur = make_customer(currency="EUR")
        (error,) = r.errors(
            make_payment_received(data={"currency": "EUR", "customer": eur, "exchange_rate": "1.1"})
        )
        assert error.category is ErrorCategory.PAYMENT
        assert "invoice's currency" in error.cause

    def test_payment_before_the_invoice_is_held_and_released_with_it_PAY_3(self) -> None:
        r = run()
        (m,) = r.map(make_payment_received())
        assert (m.commands, m.errors, m.outcome) == ([], [], "held:awaiting_invoice")
        invoice_m, payment_m = r.map(make_invoice_issued())
        assert [c.entity for c in invoice_m.commands] == [Entity.INVOICE]
        (payment,) = payment_m.commands
        assert payment.entity is Entity.PAYMENT
        assert payment.event_id == m.event.event_id
        assert r.state.awaiting == {}

    def test_payment_dated_before_export_from_is_not_sent_even_with_a_later_invoice_SET_2(
        self,
    ) -> None:
        r = run(export_from="2026-11-20")
        r.map(make_payment_received(data={"received_at": "2026-11-19T10:00:00+00:00"}))
        invoice_m, payment_m = r.map(make_invoice_issued())
        assert len(invoice_m.commands) == 1
        assert (payment_m.commands, payment_m.outcome) == ([], "skipped:before-export-from")

    def test_invoice_dated_before_export_from_is_not_sent_SET_2(self) -> None:
        r = run(export_from="2026-11-21")
        (m,) = r.map(make_invoice_issued())
        assert (m.commands, m.errors) == ([], [])
        (m,) = r.map(make_payment_received(data={"received_at": "2026-11-22T10:00:00+00:00"}))
        assert (m.commands, m.errors, m.outcome) == ([], [], "skipped:invoice-not-exported")

    def test_refund_is_an_expense_in_the_currency_refund_account_PAY_4_PAY_11(self) -> None:
        (cmd,) = run().commands(refund(customer=make_customer()))
        assert (cmd.operation, cmd.entity, cmd.category) == (
            Operation.CREATE,
            Entity.PURCHASE,
            ErrorCategory.REFUND,
        )
        assert cmd.upstream_ref == f"refund:{T}:rf-1"
        body = cmd.body
        assert body["PaymentType"] == "Cash"
        assert body["AccountRef"] == {"value": "35"}
        assert body["Line"][0]["AccountBasedExpenseLineDetail"] == {"AccountRef": {"value": "90"}}
        assert body["Line"][0]["Amount"] == body["TotalAmt"] == "20.00"
        assert body["EntityRef"]["type"] == "Customer"
        assert "pay-77" in body["PrivateNote"]

    def test_refund_without_a_refund_account_for_its_currency_is_a_mapping_error_PAY_4(
        self,
    ) -> None:
        (error,) = run(refund_accounts={}).errors(refund(currency="GBP", exchange_rate="1.3"))
        assert error.category is ErrorCategory.MAPPING
        assert "GBP" in error.cause

    def test_void_of_a_refund_deletes_its_expense_PAY_4(self) -> None:
        r = run()
        r.commands(refund())
        (cmd,) = r.commands(void("payment", "rf-1"))
        assert (cmd.operation, cmd.entity, cmd.category, cmd.upstream_ref) == (
            Operation.DELETE,
            Entity.PURCHASE,
            ErrorCategory.REFUND,
            f"refund:{T}:rf-1",
        )

    def test_void_of_a_payment_voids_the_qbo_payment_PAY_5(self) -> None:
        r = run()
        r.commands(make_invoice_issued())
        r.commands(make_payment_received())
        (cmd,) = r.commands(void("payment", "pay-77"))
        assert (cmd.operation, cmd.entity, cmd.upstream_ref) == (
            Operation.VOID,
            Entity.PAYMENT,
            f"payment:{T}:pay-77",
        )
        assert r.state.documents[(DocKind.INVOICE, "folio-1001")].open_balance == Decimal("291.50")

    def test_void_of_a_held_payment_means_it_is_never_posted_PAY_3_PAY_5(self) -> None:
        r = run()
        r.map(make_payment_received())
        (m,) = r.map(void("payment", "pay-77"))
        assert m.outcome == "skipped:voided-while-held"
        _invoice_m, payment_m = r.map(make_invoice_issued())
        assert payment_m.commands == []

    def test_payment_transferred_between_folios_is_reported_not_processed_PAY_6(self) -> None:
        r = run()
        r.commands(make_invoice_issued())
        (m,) = r.map(make_payment_received(data={"transferred_from_ref": "folio-999"}))
        assert m.commands == []
        (error,) = m.errors
        assert error.category is ErrorCategory.PAYMENT
        assert "folio-999" in error.cause


class TestCurrencyAndTax:
    def test_foreign_document_carries_the_event_exchange_rate_CUR_2(self) -> None:
        eur = make_customer(currency="EUR")
        (cmd,) = run().commands(
            make_invoice_issued(
                data={"currency": "EUR", "customer": eur, "exchange_rate": "1.0825"}
            )
        )
        assert cmd.body["CurrencyRef"] == {"value": "EUR"}
        assert cmd.body["ExchangeRate"] == "1.0825"

    def test_foreign_document_without_exchange_rate_is_an_error_never_rate_1_CUR_2(self) -> None:
        eur = make_customer(currency="EUR")
        (m,) = run().map(make_invoice_issued(data={"currency": "EUR", "customer": eur}))
        assert m.commands == []
        (error,) = m.errors
        assert error.category is ErrorCategory.VALIDATION
        assert error.reasons[0].field == "data.exchange_rate"

    def test_foreign_document_for_a_single_currency_company_is_reported_CUR_2(self) -> None:
        eur = make_customer(currency="EUR")
        r = run(multicurrency=False, deposit_accounts={"rules": []})
        (error,) = r.errors(
            make_invoice_issued(data={"currency": "EUR", "customer": eur, "exchange_rate": "1.1"})
        )
        assert error.category is ErrorCategory.INVOICE
        assert "multicurrency is off" in error.cause

    @pytest.mark.parametrize(
        ("tax_code", "expected"), [("VAT23", "5"), ("UNKNOWN", "TAX"), (None, "TAX")]
    )
    def test_tax_codes_map_with_a_required_default_CUR_3(
        self, tax_code: str | None, expected: str
    ) -> None:
        line = {
            "description": "x",
            "quantity": "1",
            "unit_price": "10",
            "amount": "10",
            "tax_code": tax_code,
        }
        r = run(tax={"codes": {"VAT23": {"qbo_code": "5", "rate": None}}})
        (cmd,) = r.commands(
            make_invoice_issued(data={"lines": [line], "tax_total": "0", "total": "10"})
        )
        assert cmd.body["Line"][0]["SalesItemLineDetail"]["TaxCodeRef"] == {"value": expected}

    @pytest.mark.parametrize(
        ("tax_total", "total", "reported"),
        [("103.12", "551.47", False), ("103.11", "551.46", True)],
    )
    def test_one_cent_tax_difference_is_reported_not_absorbed_CUR_4(
        self, tax_total: str, total: str, reported: bool
    ) -> None:
        line = {
            "description": "Suite",
            "quantity": "1",
            "unit_price": "448.35",
            "amount": "448.35",
            "tax_code": "VAT23",
        }
        (m,) = run().map(
            make_invoice_issued(data={"lines": [line], "tax_total": tax_total, "total": total})
        )
        if reported:
            assert m.commands == []
            (error,) = m.errors
            assert error.category is ErrorCategory.INVOICE
            assert "103.11" in error.cause
            assert "103.12" in error.cause
            assert "0.01" in error.cause
        else:
            assert (len(m.commands), m.errors) == (1, [])
            assert m.commands[0].expected_total == Decimal(total)


class TestErrorRecords:
    def test_error_record_keeps_the_original_bytes_for_resync_SET_4(self) -> None:
        payload = make_invoice_issued()
        r = run(items={"default_item": None})
        (error,) = r.errors(payload)
        assert json.loads(base64.b64decode(error.payload_b64)) == payload
        assert (error.stage, error.tenant_id, error.event_id, error.source) == (
            Stage.MAPPER,
            T,
            payload["event_id"],
            "clock-pms",
        )

    def test_same_event_gives_same_commands_and_error_ids(self) -> None:
        payload = make_invoice_issued(data={"send": True})
        first, second = run(), run()
        assert first.commands(payload) == second.commands(payload)
        assert [e.record_id for e in first.mappings[0].errors] == [
            e.record_id for e in second.mappings[0].errors
        ]


class TestClockPmsSequence:
    def test_folio_lifecycle_DOC_6_DOC_7_PAY_3_PAY_4(self) -> None:
        r = run()
        steps: list[tuple[dict[str, Any], list[tuple[Operation, Entity, str]]]] = [
            (make_payment_received(), []),
            (
                make_invoice_issued(),
                [
                    (Operation.CREATE, Entity.INVOICE, INV),
                    (Operation.CREATE, Entity.PAYMENT, f"payment:{T}:pay-77"),
                ],
            ),
            (
                make_invoice_issued(data={"ref": "folio-1002", "number": "1002"}),
                [(Operation.CREATE, Entity.INVOICE, f"invoice:{T}:folio-1002")],
            ),
            (
                credit_note(credited_invoice_ref="folio-1002", ref="c-2", number="C-2"),
                [
                    (Operation.CREATE, Entity.CREDIT_MEMO, f"creditmemo:{T}:c-2"),
                    (Operation.APPLY, Entity.PAYMENT, f"apply:{T}:c-2"),
                ],
            ),
            (
                make_invoice_issued(data={"ref": "folio-1001-p", "number": "1001-P"}),
                [(Operation.CREATE, Entity.INVOICE, f"invoice:{T}:folio-1001-p")],
            ),
            (
                void("invoice", "folio-1001"),
                [
                    (Operation.VOID, Entity.PAYMENT, f"payment:{T}:pay-77"),
                    (Operation.VOID, Entity.INVOICE, INV),
                ],
            ),
            (refund(), [(Operation.CREATE, Entity.PURCHASE, f"refund:{T}:rf-1")]),
            (void("payment", "rf-1"), [(Operation.DELETE, Entity.PURCHASE, f"refund:{T}:rf-1")]),
        ]
        for payload, expected in steps:
            got = [(c.operation, c.entity, c.upstream_ref) for c in r.commands(payload)]
            assert got == expected, payload["type"]
        assert all(not m.errors for m in r.mappings)
        assert r.state.documents[(DocKind.INVOICE, "folio-1001")].status is DocStatus.VOIDED
