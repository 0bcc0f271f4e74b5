"""Back-sync (SET-7): payments recorded in QBO against synced invoices go back upstream."""

import json

import pytest
from qbsync_core.records import QboPaymentNotice

from tests.poster.conftest import Poster
from tests.poster.helpers import customer_by_name, invoice, payment, tenant_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_payment_recorded_in_qbo_against_a_synced_invoice_is_published_set7(
    poster: Poster,
) -> None:
    tenant = tenant_id()
    realm = await poster.connected_realm(tenant)
    cust = customer_by_name(tenant, "Back Co")
    inv = invoice(tenant, realm, "b-1", "1", cust, "50.00")
    ours = payment(tenant, realm, "b-p", inv.upstream_ref, cust, "20.00")
    outcomes = await poster.run([inv, ours])
    posted = outcomes[inv.command_id].record
    qbo = await poster.direct(realm)
    theirs = await qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": (await poster.export(realm))["Customer"][0]["Id"]},
            "TotalAmt": 30,
            "Line": [
                {"Amount": 30, "LinkedTxn": [{"TxnId": posted["qbo_id"], "TxnType": "Invoice"}]}
            ],
        },
        "back-sync-1",
    )
    for entity_id in (theirs.id, outcomes[ours.command_id].record["qbo_id"]):
        notice = QboPaymentNotice(realm_id=realm, entity_id=entity_id, operation="Create")
        await poster.send_raw(f"realm:{realm}", notice.model_dump_json().encode(), notice.kind)

    def backsynced() -> list[dict[str, object]]:
        return [
            json.loads(r.value or b"{}")
            for r in poster.posted.keyed(tenant)
            if b"payment.recorded_in_qbo" in (r.value or b"")
        ]

    await poster.posted.wait_until(lambda: bool(backsynced()), timeout=20)
    (record,) = backsynced()  # our own payment is not echoed back
    assert record["qbo_payment_id"] == theirs.id
    assert record["invoices"] == [
        {"upstream_ref": inv.upstream_ref, "qbo_id": posted["qbo_id"], "amount": "30"}
    ]
