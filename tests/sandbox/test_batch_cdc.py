"""Batch, change data capture and request-id replay."""

from __future__ import annotations

from tests.sandbox.conftest import Company, fault


def item_line(amount: float) -> dict[str, object]:
    return {
        "Amount": amount,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }


class TestBatch:
    async def test_mixed_batch_answers_each_item_by_bid(self, qbo: Company) -> None:
        customer = await qbo.customer()
        stale = await qbo.customer("Stale One")
        await qbo.create(
            "Customer", {"Id": stale["Id"], "SyncToken": "0", "sparse": True, "Notes": "x"}
        )
        response = await qbo.post(
            "batch",
            {
                "BatchItemRequest": [
                    {
                        "bId": "c1",
                        "operation": "create",
                        "Invoice": {
                            "CustomerRef": {"value": customer["Id"]},
                            "Line": [item_line(5)],
                        },
                    },
                    {
                        "bId": "u1",
                        "operation": "update",
                        "Customer": {
                            "Id": stale["Id"],
                            "SyncToken": "0",
                            "sparse": True,
                            "Notes": "y",
                        },
                    },
                    {"bId": "q1", "Query": "SELECT * FROM Customer WHERE DisplayName = 'Acme Ltd'"},
                    {"bId": "d1", "operation": "create", "Customer": {"DisplayName": "acme ltd"}},
                ]
            },
        )
        assert response.status_code == 200
        items = {i["bId"]: i for i in response.json()["BatchItemResponse"]}
        assert items["c1"]["Invoice"]["TotalAmt"] == 5
        assert items["u1"]["Fault"]["Error"][0]["code"] == "5010"
        assert items["q1"]["QueryResponse"]["Customer"][0]["Id"] == customer["Id"]
        assert items["d1"]["Fault"]["type"] == "ValidationFault"
        assert items["d1"]["Fault"]["Error"][0]["code"] == "6240"

    async def test_batch_delete_and_void_items(self, qbo: Company) -> None:
        customer = await qbo.customer()
        first = await qbo.invoice(customer["Id"], 10)
        second = await qbo.invoice(customer["Id"], 20)
        response = await qbo.post(
            "batch",
            {
                "BatchItemRequest": [
                    {
                        "bId": "1",
                        "operation": "delete",
                        "Invoice": {"Id": first["Id"], "SyncToken": "0"},
                    },
                    {
                        "bId": "2",
                        "operation": "update",
                        "optionsData": "void",
                        "Invoice": {"Id": second["Id"], "SyncToken": "0"},
                    },
                ]
            },
        )
        items = {i["bId"]: i for i in response.json()["BatchItemResponse"]}
        assert items["1"]["Invoice"]["status"] == "Deleted"
        assert items["2"]["Invoice"]["TotalAmt"] == 0

    async def test_more_than_30_items_is_fault_1040(self, qbo: Company) -> None:
        items = [{"bId": str(i), "Query": "SELECT * FROM Item"} for i in range(31)]
        response = await qbo.post("batch", {"BatchItemRequest": items})
        assert response.status_code == 400
        assert fault(response)["code"] == "1040"
        ok = await qbo.post("batch", {"BatchItemRequest": items[:30]})
        assert len(ok.json()["BatchItemResponse"]) == 30


class TestCdc:
    async def test_cdc_returns_changed_and_deleted_per_entity(self, qbo: Company) -> None:
        customer = await qbo.customer()
        kept = await qbo.invoice(customer["Id"], 10)
        gone = await qbo.invoice(customer["Id"], 20)
        await qbo.post("invoice", {"Id": gone["Id"], "SyncToken": "0"}, operation="delete")
        response = await qbo.get("cdc", entities="Invoice,Customer", changedSince="2020-01-01")
        assert response.status_code == 400  # more than 30 days back
        since = kept["MetaData"]["CreateTime"]
        response = await qbo.get("cdc", entities="Invoice,Customer", changedSince=since)
        groups = response.json()["CDCResponse"][0]["QueryResponse"]
        invoices = groups[0]["Invoice"]
        assert invoices[0]["Id"] == kept["Id"]
        assert invoices[-1] == {
            "status": "Deleted",
            "domain": "QBO",
            "Id": gone["Id"],
            "MetaData": {"LastUpdatedTime": invoices[-1]["MetaData"]["LastUpdatedTime"]},
        }
        assert groups[1]["Customer"][0]["Id"] == customer["Id"]

    async def test_cdc_refuses_taxcode(self, qbo: Company) -> None:
        response = await qbo.get("cdc", entities="TaxCode", changedSince="2026-01-01")
        assert response.status_code == 400


class TestRequestId:
    async def test_repeated_requestid_returns_first_response_and_creates_nothing(
        self, qbo: Company
    ) -> None:
        customer = await qbo.customer()
        body = {"CustomerRef": {"value": customer["Id"]}, "Line": [item_line(12)]}
        first = await qbo.post("invoice", body, requestid="rid-1")
        second = await qbo.post("invoice", {**body, "DocNumber": "other"}, requestid="rid-1")
        assert first.json() == second.json()
        assert (await qbo.query("SELECT COUNT(*) FROM Invoice"))["totalCount"] == 1
        third = await qbo.post("invoice", body, requestid="rid-2")
        assert third.json()["Invoice"]["Id"] != first.json()["Invoice"]["Id"]

    async def test_requestid_is_per_realm(self, qbo: Company) -> None:
        from tests.sandbox.conftest import new_company

        other = await new_company(qbo.client)
        a = await qbo.post("customer", {"DisplayName": "Same"}, requestid="shared")
        b = await other.post("customer", {"DisplayName": "Same"}, requestid="shared")
        assert a.status_code == b.status_code == 200
        assert "Customer" in await other.query("SELECT * FROM Customer")

    async def test_failed_request_is_not_replayed(self, qbo: Company) -> None:
        bad = await qbo.post("customer", {"DisplayName": ""}, requestid="r-fail")
        assert bad.status_code == 400
        good = await qbo.post("customer", {"DisplayName": "Fixed"}, requestid="r-fail")
        assert good.status_code == 200
