"""Back-sync (SET-7): payments recorded in QBO against synced invoices go back upstream.

Only for tenants that opted in; by default QBO is never read back (SET-6).
"""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from qbsync_core.records import QboPaymentNotice
from qbsync_poster import storage
from qbsync_poster.backsync import back_sync
from qbsync_poster.cdc import CdcPoller

from tests.poster.conftest import Poster
from tests.poster.helpers import customer_by_name, invoice, payment, tenant_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def test_payment_recorded_in_qbo_against_a_synced_invoice_is_published_set7(
    poster: Poster,
) -> None:
    tenant = tenant_id()
    realm = await poster.connected_realm(tenant)
    await poster.opt_in_backsync(tenant)
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


async def _their_payment(poster: Poster, realm: str, invoice_id: str, amount: int) -> str:
    qbo = await poster.direct(realm)
    customer = (await poster.export(realm))["Customer"][0]["Id"]
    created = await qbo.create(
        "Payment",
        {
            "CustomerRef": {"value": customer},
            "TotalAmt": amount,
            "Line": [
                {"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}
            ],
        },
        f"cdc-{uuid.uuid4().hex[:20]}",
    )
    return created.id


def _backsynced(poster: Poster, tenant: str) -> list[dict[str, object]]:
    return [
        json.loads(r.value or b"{}")
        for r in poster.posted.keyed(tenant)
        if b"payment.recorded_in_qbo" in (r.value or b"")
    ]


class TestBackSyncFromCdc:
    async def test_cdc_poll_back_syncs_a_qbo_payment_exactly_once_set7(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        await poster.opt_in_backsync(tenant)
        cust = customer_by_name(tenant, "Cdc Co")
        inv = invoice(tenant, realm, "c-1", "11", cust, "80.00")
        ours = payment(tenant, realm, "c-p", inv.upstream_ref, cust, "20.00")
        outcomes = await poster.run([inv, ours])
        invoice_id = str(outcomes[inv.command_id].record["qbo_id"])
        theirs = await _their_payment(poster, realm, invoice_id, 30)
        cdc = poster.resources.cdc
        assert cdc is not None

        assert await cdc.poll_realm(tenant, realm) == 1
        await poster.posted.wait_until(lambda: bool(_backsynced(poster, tenant)), timeout=20)
        (record,) = _backsynced(poster, tenant)  # our own payment is not echoed back
        assert record["qbo_payment_id"] == theirs
        assert record["operation"] == "Create"
        assert record["invoices"] == [
            {"upstream_ref": inv.upstream_ref, "qbo_id": invoice_id, "amount": "30"}
        ]

        # Polled again, and told again by a webhook notice: nothing new goes out.
        assert await cdc.poll_realm(tenant, realm) == 0
        for entity_id in (theirs, await _their_payment(poster, realm, invoice_id, 10)):
            notice = QboPaymentNotice(realm_id=realm, entity_id=entity_id, operation="Create")
            await poster.send_raw(f"realm:{realm}", notice.model_dump_json().encode(), notice.kind)
        # The second notice is behind the repeat in the same partition: once it is out,
        # the repeat was handled.
        await poster.posted.wait_until(lambda: len(_backsynced(poster, tenant)) >= 2, timeout=20)
        ids = [r["qbo_payment_id"] for r in _backsynced(poster, tenant)]
        assert ids.count(theirs) == 1
        assert len(ids) == 2
        assert await cdc.poll_realm(tenant, realm) == 0  # the webhook's is claimed too

    async def test_the_poll_runs_by_itself_every_interval(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        await poster.opt_in_backsync(tenant)
        cust = customer_by_name(tenant, "Cdc Loop Co")
        inv = invoice(tenant, realm, "l-1", "12", cust, "40.00")
        invoice_id = str((await poster.run([inv]))[inv.command_id].record["qbo_id"])
        deps = poster.resources.ready()
        poller = CdcPoller(deps.pool, deps.connections, deps.publisher, interval_s=0.1)
        task = asyncio.create_task(poller.run())
        try:
            theirs = await _their_payment(poster, realm, invoice_id, 40)
            await poster.posted.wait_until(lambda: bool(_backsynced(poster, tenant)), timeout=20)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert [r["qbo_payment_id"] for r in _backsynced(poster, tenant)] == [theirs]

    async def test_a_poll_whose_tokens_qbo_refuses_revokes_the_connection_err2(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        await poster.opt_in_backsync(tenant)
        cdc = poster.resources.cdc
        assert cdc is not None
        assert await cdc.poll_guarded(tenant, realm) == 0  # connected: polls fine
        # Intuit revokes the grant (the user disconnected the app in QuickBooks).
        await poster.revoke_at_intuit(realm)
        await poster.admin("POST", f"realms/{realm}/expire-tokens")

        assert await cdc.poll_guarded(tenant, realm) == 0
        stored = await storage.connection_for_tenant(poster.resources.ready().pool, tenant)
        assert stored is not None
        assert stored.status == "revoked"
        # The poll's own query leaves it out from now on, although the tenant opted in.
        polled = await storage.backsync_connections(poster.resources.ready().pool)
        assert stored.realm_id not in {c.realm_id for c in polled}


class TestBackSyncIsOptIn:
    async def test_qbo_is_not_read_back_until_the_tenant_opts_in_set6(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        path = f"/v1/tenants/{tenant}/backsync"
        assert (await poster.http.get(path)).json() == {"enabled": False}
        cust = customer_by_name(tenant, "Opt Co")
        inv = invoice(tenant, realm, "o-1", "21", cust, "60.00")
        invoice_id = str((await poster.run([inv]))[inv.command_id].record["qbo_id"])
        theirs = await _their_payment(poster, realm, invoice_id, 25)
        deps = poster.resources.ready()
        cdc = poster.resources.cdc
        assert cdc is not None
        notice = QboPaymentNotice(realm_id=realm, entity_id=theirs, operation="Create")

        await cdc.poll_once()
        assert await storage.cdc_cursor(deps.pool, realm) is None  # the realm was not polled
        assert await back_sync(deps.pool, deps.connections, notice) is None  # nor read
        assert _backsynced(poster, tenant) == []

        await poster.opt_in_backsync(tenant)
        assert (await poster.http.get(path)).json() == {"enabled": True}
        # The poll starts at the opt-in (less its overlap), not 30 days back.
        cursor = await storage.cdc_cursor(deps.pool, realm)
        assert cursor is not None
        assert datetime.now(UTC) - cursor < timedelta(minutes=2)
        assert await back_sync(deps.pool, deps.connections, notice) is not None
        await cdc.poll_once()
        await poster.posted.wait_until(lambda: bool(_backsynced(poster, tenant)), timeout=20)
        assert [r["qbo_payment_id"] for r in _backsynced(poster, tenant)] == [theirs]

    async def test_a_reconnect_keeps_the_choice(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        await poster.opt_in_backsync(tenant)
        await poster.connect(tenant, realm)  # new tokens, e.g. after a revoked grant
        answer = await poster.http.get(f"/v1/tenants/{tenant}/backsync")
        assert answer.json() == {"enabled": True}

    async def test_a_tenant_without_a_connection_gets_a_404_that_says_so(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        answer = await poster.http.put(f"/v1/tenants/{tenant}/backsync", json={"enabled": True})
        assert answer.status_code == 404
        assert "no QBO connection" in answer.json()["error"]
        for loose in ("maybe", "yes", 1):
            bad = await poster.http.put(f"/v1/tenants/{tenant}/backsync", json={"enabled": loose})
            assert bad.status_code == 422, loose
