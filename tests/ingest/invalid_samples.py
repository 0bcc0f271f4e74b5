"""At least one invalid event per intake rule, with the field its reason must name."""

import json
from typing import Any

from tests.fixtures.events import (
    make_customer,
    make_envelope,
    make_invoice_issued,
    make_payment_received,
    make_payout_settled,
)


def _without(payload: dict[str, Any], *path: str) -> dict[str, Any]:
    target = payload
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return payload


def _line_mismatch() -> dict[str, Any]:
    payload = make_invoice_issued()
    payload["data"]["lines"][0]["amount"] = "240.01"
    payload["data"]["total"] = "291.51"
    return payload


def _json(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def samples(tenant: str) -> list[tuple[str, bytes, str]]:
    """(rule, raw bytes, expected reason field) for `tenant`."""

    def inv(**kw: Any) -> dict[str, Any]:
        return make_invoice_issued(tenant_id=tenant, **kw)

    def pay(**kw: Any) -> dict[str, Any]:
        return make_payment_received(tenant_id=tenant, **kw)

    def env(event_type: str, data: dict[str, Any], **kw: Any) -> dict[str, Any]:
        return make_envelope(event_type, data, tenant_id=tenant, **kw)

    return [
        ("not json", b"{not json", ""),
        ("not an object", b"[1, 2, 3]", ""),
        ("spec missing", _json(_without(inv(), "spec")), "spec"),
        ("spec wrong", _json(inv(spec="qbsync.event/9")), "spec"),
        ("event_id missing", _json(_without(inv(), "event_id")), "event_id"),
        ("event_id too long", _json(inv(event_id="e" * 129)), "event_id"),
        ("source empty", _json(inv(source="")), "source"),
        ("type unknown", _json(env("invoice.deleted", {"ref": "x"})), "type"),
        (
            "occurred_at without offset",
            _json(inv(occurred_at="2026-11-20T10:00:00")),
            "occurred_at",
        ),
        ("occurred_at not a time", _json(inv(occurred_at="yesterday")), "occurred_at"),
        ("data missing", _json(_without(inv(), "data")), "data"),
        ("amount with 3 decimals (CUR-1)", _json(pay(data={"amount": "10.005"})), "data.amount"),
        ("JSON number with 3 decimals (CUR-1)", _json(pay(data={"amount": 10.005})), "data.amount"),
        (
            "currency with 3 decimals (CUR-1)",
            _json(pay(data={"currency": "KWD", "customer": make_customer(currency="KWD")})),
            "data.currency",
        ),
        (
            "currency not ISO 4217",
            _json(pay(data={"currency": "ABC", "customer": make_customer(currency="ABC")})),
            "data.currency",
        ),
        ("line amount is not qty x price (CUR-4)", _json(_line_mismatch()), "data.lines.0"),
        ("total is not lines + tax (CUR-4)", _json(inv(data={"total": "1.00"})), "data"),
        (
            "customer currency differs (CUR-2)",
            _json(inv(data={"customer": make_customer(currency="EUR")})),
            "data",
        ),
        ("doc number over 21", _json(inv(data={"number": "N" * 22})), "data.number"),
        ("due before issue", _json(inv(data={"due_date": "2026-01-01"})), "data"),
        ("no lines", _json(inv(data={"lines": [], "tax_total": "0", "total": "0"})), "data.lines"),
        ("issue_date not a date", _json(inv(data={"issue_date": "20/11/2026"})), "data.issue_date"),
        (
            "customer email malformed",
            _json(inv(data={"customer": make_customer(email="no-at-sign")})),
            "data.customer.email",
        ),
        ("payment amount zero", _json(pay(data={"amount": "0"})), "data.amount"),
        ("payment amount negative", _json(pay(data={"amount": "-5"})), "data.amount"),
        ("amount NaN", _json(pay(data={"amount": "NaN"})), "data.amount"),
        ("payment method missing", _json(_without(pay(), "data", "method")), "data.method"),
        (
            "payout net is not lines - fees (CUR-4)",
            _json(make_payout_settled(tenant_id=tenant, data={"net": "1.00"})),
            "data",
        ),
        (
            "ledger kind unknown",
            _json(
                env(
                    "ledger.posted",
                    {
                        "ref": "l",
                        "reservation_ref": "r",
                        "kind": "gift",
                        "amount": "1",
                        "currency": "EUR",
                        "posted_at": "2026-11-20T10:00:00+00:00",
                    },
                )
            ),
            "data.kind",
        ),
        (
            "opening balance with 3 decimals",
            _json(
                env(
                    "ledger.opening_balance",
                    {
                        "reservation_ref": "r",
                        "balance": "1.234",
                        "currency": "EUR",
                        "as_of": "2026-11-01",
                    },
                )
            ),
            "data.balance",
        ),
        (
            "fee processor empty",
            _json(
                env(
                    "fee.charged",
                    {
                        "ref": "f",
                        "currency": "USD",
                        "amount": "1",
                        "processor": "",
                        "charged_at": "2026-11-20T00:00:00Z",
                    },
                )
            ),
            "data.processor",
        ),
        (
            "refund time missing",
            _json(
                env(
                    "payment.refunded",
                    {"ref": "r", "currency": "USD", "amount": "1", "method": "card"},
                )
            ),
            "data.refunded_at",
        ),
        ("void without ref", _json(env("invoice.voided", {})), "data.ref"),
        (
            "NUL character in a name",
            _json(inv(data={"customer": make_customer(name="Ana\u0000")})),
            "",
        ),
        (
            "amount beyond QBO's maximum",
            _json(pay(data={"amount": "10000000000.00"})),
            "data.amount",
        ),
    ]
