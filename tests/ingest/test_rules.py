"""Pure intake rules: exact splitting of HTTP arrays, reasons, webhook signatures."""

import base64
import hashlib
import hmac
import json

import pytest
from qbsync_ingest.rules import (
    Invalid,
    Valid,
    claimed_tenant,
    error_record,
    split_json_array,
    validate,
)
from qbsync_ingest.webhooks import payment_notices, signature_is_valid

from tests.fixtures.events import make_invoice_issued


class TestSplitJsonArray:
    def test_each_element_keeps_its_exact_bytes(self) -> None:
        body = b'[ {"a": 1.10,  "b":"\\u00e9"} ,{"c" : [1, 2]}\n]'
        items = split_json_array(body)
        assert [raw for raw, _ in items] == [b'{"a": 1.10,  "b":"\\u00e9"}', b'{"c" : [1, 2]}']
        assert str(items[0][1]["a"]) == "1.10"

    def test_empty_array_is_fine(self) -> None:
        assert split_json_array(b" [ ] ") == []

    @pytest.mark.parametrize("body", [b"{}", b"[1,", b"[1] x", b"", b"\xff", b"[1 2]"])
    def test_anything_but_one_array_is_refused(self, body: bytes) -> None:
        with pytest.raises((ValueError, UnicodeDecodeError)):
            split_json_array(body)


class TestValidate:
    def test_valid_event_has_its_dedupe_key(self) -> None:
        payload = make_invoice_issued(event_id="e-1", tenant_id="hotel-a", source="clock-pms")
        result = validate(json.dumps(payload).encode())
        assert isinstance(result, Valid)
        assert result.key == ("hotel-a", "clock-pms", "e-1")

    def test_garbage_bytes_are_invalid_not_an_exception(self) -> None:
        result = validate(b"\x00\xff not json")
        assert isinstance(result, Invalid)
        assert result.reasons[0].message.startswith("not UTF-8 JSON")

    def test_field_paths_drop_the_type_tag(self) -> None:
        payload = make_invoice_issued(data={"total": "1.00"})
        result = validate(json.dumps(payload).encode())
        assert isinstance(result, Invalid)
        assert [r.field for r in result.reasons] == ["data"]

    def test_error_record_keeps_payload_and_names_the_rule(self) -> None:
        raw = json.dumps(
            make_invoice_issued(tenant_id="hotel-a", data={"currency": "KWD"})
        ).encode()
        result = validate(raw)
        assert isinstance(result, Invalid)
        record = error_record(result, tenant_id=claimed_tenant(result), trace_id="ab" * 16)
        assert record.payload == raw
        assert record.tenant_id == "hotel-a"
        assert record.category == "Validation"
        assert "CUR-1" in record.cause
        assert (
            record.record_id == error_record(result, tenant_id="hotel-a", trace_id=None).record_id
        )

    def test_claimed_tenant_ignores_malformed_ids(self) -> None:
        result = validate(json.dumps(make_invoice_issued(tenant_id="Bad Tenant")).encode())
        assert isinstance(result, Invalid)
        assert claimed_tenant(result) is None


def _sign(body: bytes, token: str) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


class TestWebhooks:
    def test_signature_is_hmac_sha256_of_the_raw_body(self) -> None:
        body = b'{"eventNotifications":[]}'
        assert signature_is_valid(body, _sign(body, "tok"), "tok")
        assert not signature_is_valid(body, _sign(body, "other"), "tok")
        assert not signature_is_valid(body + b" ", _sign(body, "tok"), "tok")
        assert not signature_is_valid(body, None, "tok")

    def test_legacy_payload_yields_payment_notices_only(self) -> None:
        body = json.dumps(
            {
                "eventNotifications": [
                    {
                        "realmId": "123",
                        "dataChangeEvent": {
                            "entities": [
                                {
                                    "name": "Payment",
                                    "id": "77",
                                    "operation": "Create",
                                    "lastUpdated": "2026-11-20T10:00:00-0700",
                                },
                                {"name": "Customer", "id": "5", "operation": "Update"},
                            ]
                        },
                    }
                ]
            }
        ).encode()
        [notice] = payment_notices(body)
        assert (notice.realm_id, notice.entity_id, notice.operation) == ("123", "77", "Create")

    def test_cloudevents_payload_yields_payment_notices(self) -> None:
        body = json.dumps(
            [
                {
                    "specversion": "1.0",
                    "id": "x",
                    "type": "qbo.payment.updated.v1",
                    "intuitentityid": "9",
                    "intuitaccountid": "456",
                    "time": "2026-11-20T10:00:00Z",
                    "data": {},
                },
                {
                    "specversion": "1.0",
                    "id": "y",
                    "type": "qbo.invoice.created.v1",
                    "intuitentityid": "3",
                    "intuitaccountid": "456",
                },
            ]
        ).encode()
        [notice] = payment_notices(body)
        assert (notice.realm_id, notice.entity_id, notice.operation) == ("456", "9", "Updated")

    def test_other_json_is_refused(self) -> None:
        with pytest.raises(ValueError, match="not a QBO webhook"):
            payment_notices(b'{"hello": 1}')
