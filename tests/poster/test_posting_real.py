"""Posting commands end to end: broker -> poster -> emulator -> posted/errors topics."""

import pytest
from qbsync_core.commands import Entity, Operation

from tests.poster.conftest import Poster
from tests.poster.helpers import command, customer_by_name, invoice, payment, tenant_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def _of(entities: dict[str, list[dict[str, object]]], kind: str) -> list[dict[str, object]]:
    return entities.get(kind, [])


class TestPosting:
    async def test_invoice_with_new_customer_and_payment_post_once_cus6(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Ana Lima")
        inv = invoice(tenant, realm, "f-1", "1001", cust, "240.00", expected_total="240.00")
        pay = payment(tenant, realm, "p-1", inv.upstream_ref, cust, "240.00")
        outcomes = await poster.run([inv, pay])
        assert outcomes[inv.command_id].kind == "posted", outcomes[inv.command_id].record
        assert outcomes[pay.command_id].kind == "posted", outcomes[pay.command_id].record
        posted = outcomes[inv.command_id].record
        assert posted["doc_number"] == "1001"
        assert posted["entity"] == "Invoice"
        state = await poster.export(realm)
        assert len(_of(state, "Invoice")) == 1
        assert len(_of(state, "Payment")) == 1
        assert [c["DisplayName"] for c in _of(state, "Customer")] == ["Ana Lima"]
        assert str(_of(state, "Invoice")[0]["Balance"]) in ("0", "0.0", "0.00")

    async def test_repeated_commands_write_nothing_twice(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Repeat Co")
        inv = invoice(tenant, realm, "f-2", "2001", cust)
        first = await poster.run([inv])
        second = await poster.run([inv, inv])
        assert first[inv.command_id].kind == "posted"
        assert second[inv.command_id].record["repeat"] is True
        assert second[inv.command_id].record["qbo_id"] == first[inv.command_id].record["qbo_id"]
        assert len(_of(await poster.export(realm), "Invoice")) == 1

    async def test_update_void_and_send_change_the_posted_invoice(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        cust = customer_by_name(tenant, "Changes Ltd")
        inv = invoice(tenant, realm, "f-3", "3001", cust)
        ref = inv.upstream_ref
        upd = command(
            tenant,
            realm,
            Operation.UPDATE,
            Entity.INVOICE,
            ref,
            {"sparse": True, "DueDate": "2026-12-31"},
        )
        send = command(
            tenant,
            realm,
            Operation.SEND,
            Entity.INVOICE,
            ref,
            {"BillEmail": {"Address": "ap@example.com"}},
        )
        void = command(tenant, realm, Operation.VOID, Entity.INVOICE, ref, {})
        outcomes = await poster.run([inv, upd, send, void])
        assert {o.kind for o in outcomes.values()} == {"posted"}, outcomes
        (posted,) = _of(await poster.export(realm), "Invoice")
        assert posted["DueDate"] == "2026-12-31"
        assert str(posted["TotalAmt"]) in ("0", "0.0", "0.00")
        assert "Voided" in str(posted.get("PrivateNote"))
