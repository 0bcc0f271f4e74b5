"""Admin API: changes made in QBO behind the integration's back, export, reset."""

from __future__ import annotations

import httpx

from tests.sandbox.conftest import Company, fault


class TestBehindTheBack:
    async def test_edit_bumps_synctoken_so_the_integration_gets_5010(self, qbo: Company) -> None:
        customer = await qbo.customer("Edited")
        edited = await qbo.client.post(
            f"/_admin/realms/{qbo.realm_id}/entities/customer/{customer['Id']}/edit",
            json={"Notes": "changed in QBO"},
        )
        assert edited.json()["Customer"]["SyncToken"] == "1"
        response = await qbo.post(
            "customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Notes": "mine"}
        )
        assert fault(response)["code"] == "5010"
        assert (await qbo.read("Customer", customer["Id"]))["Notes"] == "changed in QBO"

    async def test_delete_transaction_makes_it_610(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 10)
        await qbo.payment(customer["Id"], 10, [("Invoice", invoice["Id"], 10)])
        await qbo.client.post(
            f"/_admin/realms/{qbo.realm_id}/entities/invoice/{invoice['Id']}/delete"
        )
        assert fault(await qbo.get(f"invoice/{invoice['Id']}"))["code"] == "610"
        update = await qbo.post(
            "invoice", {"Id": invoice["Id"], "SyncToken": "1", "sparse": True, "PrivateNote": "x"}
        )
        assert fault(update)["code"] == "610"

    async def test_delete_list_entity_makes_it_inactive_so_references_are_2500(
        self, qbo: Company
    ) -> None:
        customer = await qbo.customer("Deleted In UI")
        await qbo.client.post(
            f"/_admin/realms/{qbo.realm_id}/entities/customer/{customer['Id']}/delete"
        )
        response = await qbo.post(
            "invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "Line": [
                    {
                        "Amount": 1,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            },
        )
        assert fault(response)["code"] == "2500"


class TestStateAdmin:
    async def test_export_contains_entities_and_deletions(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 10)
        await qbo.post("invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="delete")
        export = (await qbo.client.get(f"/_admin/realms/{qbo.realm_id}/export")).json()
        assert export["realm_id"] == qbo.realm_id
        assert export["entities"]["Customer"][0]["DisplayName"] == "Acme Ltd"
        assert export["deleted"][0]["Id"] == invoice["Id"]

    async def test_reset_forgets_everything(self, client: httpx.AsyncClient, qbo: Company) -> None:
        await client.post("/_admin/reset")
        assert (await qbo.get("preferences")).status_code == 401
        assert (await client.get(f"/_admin/realms/{qbo.realm_id}/export")).status_code == 404

    async def test_token_endpoint_for_unknown_realm_is_404(self, client: httpx.AsyncClient) -> None:
        assert (await client.post("/_admin/realms/123/tokens")).status_code == 404
