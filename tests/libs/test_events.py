"""The v1 event contract (event-contract.md): every type parses; every rule names its field."""

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from qbsync_contracts import EventType, parse_event, parse_event_json
from qbsync_contracts.events import InvoiceIssued, PayoutSettled

from tests.fixtures.events import (
    make_customer,
    make_envelope,
    make_invoice_issued,
    make_payment_received,
    make_payout_settled,
    sample_events,
)


def _errors(payload: Any) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        parse_event(payload)
    return [(".".join(str(p) for p in e["loc"]), e["msg"]) for e in info.value.errors()]


class TestEveryType:
    def test_each_contract_type_has_a_sample_that_parses(self) -> None:
        parsed = [parse_event(payload) for payload in sample_events()]
        assert {e.type for e in parsed} == set(EventType)

    def test_unknown_type_is_rejected_naming_the_field(self) -> None:
        errors = _errors(make_envelope("invoice.deleted", {"ref": "x"}))
        assert errors[0][0] == "type" or "type" in errors[0][1]


class TestEnvelope:
    def test_spec_marker_is_required(self) -> None:
        errors = _errors(make_invoice_issued(spec="qbsync.event/2"))
        assert any(loc.endswith("spec") for loc, _ in errors)

    @pytest.mark.parametrize("tenant", ["Hotel", "hotel_1", "", "a" * 65])
    def test_tenant_id_must_be_lowercase_dash_alnum(self, tenant: str) -> None:
        errors = _errors(make_invoice_issued(tenant_id=tenant))
        assert any(loc.endswith("tenant_id") for loc, _ in errors)

    def test_occurred_at_needs_an_offset(self) -> None:
        errors = _errors(make_invoice_issued(occurred_at="2026-11-20T18:30:00"))
        assert any(loc.endswith("occurred_at") for loc, _ in errors)

    def test_event_id_longer_than_128_is_rejected(self) -> None:
        errors = _errors(make_invoice_issued(event_id="e" * 129))
        assert any(loc.endswith("event_id") for loc, _ in errors)

    def test_unknown_extra_fields_are_ignored_for_additive_evolution(self) -> None:
        event = parse_event(make_invoice_issued(extra_field=1, data={"future": "x"}))
        assert isinstance(event, InvoiceIssued)


class TestMoney:
    def test_json_numbers_become_exact_decimals_never_floats(self) -> None:
        raw = json.dumps(make_payment_received(data={"amount": 0.1})).replace('"0.1"', "0.1")
        event = parse_event_json(raw)
        assert event.data.amount == Decimal("0.1")  # type: ignore[union-attr]
        assert isinstance(event.data.amount, Decimal)  # type: ignore[union-attr]

    def test_more_than_two_decimals_is_rejected_cur_1(self) -> None:
        errors = _errors(make_payment_received(data={"amount": "10.005"}))
        assert errors == [
            (
                "payment.received.data.amount",
                "Value error, 10.005 has more than 2 decimal places (CUR-1)",
            )
        ]

    def test_trailing_zeros_are_not_extra_decimals(self) -> None:
        event = parse_event(make_payment_received(data={"amount": "10.500"}))
        assert event.data.amount == Decimal("10.5")  # type: ignore[union-attr]

    @pytest.mark.parametrize("currency", ["KWD", "BHD", "OMR", "TND"])
    def test_currency_with_three_decimals_is_rejected_cur_1(self, currency: str) -> None:
        customer = make_customer(currency=currency)
        errors = _errors(make_payment_received(data={"currency": currency, "customer": customer}))
        assert any("decimal places" in msg and "CUR-1" in msg for _, msg in errors)

    def test_unknown_currency_is_rejected(self) -> None:
        errors = _errors(
            make_payment_received(
                data={"currency": "XYZ", "customer": make_customer(currency="XYZ")}
            )
        )
        assert any("not an ISO 4217 currency" in msg for _, msg in errors)

    @pytest.mark.parametrize("amount", ["0", "-5.00"])
    def test_payment_amount_must_be_positive(self, amount: str) -> None:
        errors = _errors(make_payment_received(data={"amount": amount}))
        assert any(loc.endswith("data.amount") for loc, _ in errors)

    def test_python_float_is_refused(self) -> None:
        payload = make_payment_received()
        payload["data"]["amount"] = 12.5
        errors = _errors(payload)
        assert any("not floats" in msg for _, msg in errors)

    def test_nan_and_infinity_are_refused(self) -> None:
        errors = _errors(make_payment_received(data={"amount": "NaN"}))
        assert any(loc.endswith("data.amount") for loc, _ in errors)


class TestTotals:
    def test_line_amount_must_equal_quantity_times_unit_price_cur_4(self) -> None:
        payload = make_invoice_issued()
        payload["data"]["lines"][0]["amount"] = "240.01"
        payload["data"]["total"] = "291.51"
        errors = _errors(payload)
        assert any(
            loc.endswith("lines.0") and "quantity x unit_price" in msg for loc, msg in errors
        )

    def test_invoice_total_must_be_lines_plus_tax_cur_4(self) -> None:
        errors = _errors(make_invoice_issued(data={"total": "291.49"}))
        assert any("sum of lines and tax = 291.50" in msg for _, msg in errors)

    def test_payout_net_must_be_lines_minus_fees_cur_4(self) -> None:
        errors = _errors(make_payout_settled(data={"net": "485.21"}))
        assert any("sum(lines) - fees = 485.20" in msg for _, msg in errors)

    def test_payout_that_adds_up_parses(self) -> None:
        assert isinstance(parse_event(make_payout_settled()), PayoutSettled)


class TestDocumentRules:
    def test_customer_currency_must_match_document_currency_cur_2(self) -> None:
        errors = _errors(make_invoice_issued(data={"customer": make_customer(currency="EUR")}))
        assert any("CUR-2" in msg for _, msg in errors)

    def test_doc_number_longer_than_qbo_limit_is_rejected(self) -> None:
        errors = _errors(make_invoice_issued(data={"number": "N" * 22}))
        assert any(loc.endswith("data.number") for loc, _ in errors)

    def test_due_date_before_issue_date_is_rejected(self) -> None:
        errors = _errors(make_invoice_issued(data={"due_date": "2026-11-01"}))
        assert any("before issue_date" in msg for _, msg in errors)

    def test_invoice_needs_at_least_one_line(self) -> None:
        errors = _errors(make_invoice_issued(data={"lines": [], "tax_total": "0", "total": "0"}))
        assert any(loc.endswith("data.lines") for loc, _ in errors)

    def test_line_class_is_read_from_the_json_key_class(self) -> None:
        payload = make_invoice_issued()
        payload["data"]["lines"][0]["class"] = "Lisbon"
        event = parse_event(payload)
        assert isinstance(event, InvoiceIssued)
        assert event.data.lines[0].class_ == "Lisbon"

    def test_every_broken_rule_is_reported_at_once(self) -> None:
        payload = make_invoice_issued(tenant_id="BAD", data={"currency": "KWD", "number": ""})
        locs = {loc for loc, _ in _errors(payload)}
        assert {
            "invoice.issued.tenant_id",
            "invoice.issued.data.currency",
            "invoice.issued.data.number",
        } <= locs
