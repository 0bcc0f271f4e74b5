"""Create, read, update and delete across entities, with QBO's envelopes and faults."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox.conftest import Company, fault


class TestEnvelopes:
    async def test_create_returns_entity_envelope_with_id_synctoken_metadata(
        self, qbo: Company
    ) -> None:
        response = await qbo.post("customer", {"DisplayName": "Envelope Co"})
        body = response.json()
        assert set(body) == {"Customer", "time"}
        customer = body["Customer"]
        assert isinstance(customer["Id"], str)
        assert customer["SyncToken"] == "0"
        assert customer["domain"] == "QBO"
        assert customer["sparse"] is False
        assert set(customer["MetaData"]) == {"CreateTime", "LastUpdatedTime"}

    async def test_read_returns_the_stored_entity(self, qbo: Company) -> None:
        created = await qbo.customer("Readable")
        read = await qbo.read("Customer", created["Id"])
        assert read["DisplayName"] == "Readable"
        assert read["Balance"] == 0

    async def test_seeded_realm_has_accounts_items_taxcodes_methods_and_prefs(
        self, qbo: Company
    ) -> None:
        names = {
            a["Name"] for a in (await qbo.query("SELECT * FROM Account MAXRESULTS 100"))["Account"]
        }
        assert {
            "Checking",
            "Undeposited Funds",
            "Accounts Receivable (A/R)",
            "Payments in transit",
            "Opening Balance Equity",
        } <= names
        assert (await qbo.query("SELECT * FROM Item"))["Item"]
        assert {t["Id"] for t in (await qbo.query("SELECT * FROM TaxCode"))["TaxCode"]} >= {
            "TAX",
            "NON",
        }
        methods = {
            m["Name"] for m in (await qbo.query("SELECT * FROM PaymentMethod"))["PaymentMethod"]
        }
        assert {"Cash", "Check", "Visa"} <= methods
        prefs = (await qbo.get("preferences")).json()["Preferences"]
        assert prefs["SalesFormsPrefs"]["CustomTxnNumbers"] is True
        info = (await qbo.get(f"companyinfo/{qbo.realm_id}")).json()["CompanyInfo"]
        assert info["CompanyName"]

    async def test_several_realms_are_isolated(self, qbo: Company) -> None:
        from tests.sandbox.conftest import new_company

        other = await new_company(qbo.client)
        await qbo.customer("Only Here")
        assert "Customer" not in await other.query("SELECT * FROM Customer")
        foreign = await qbo.client.get(f"{other.base}/customer/1", headers=qbo.headers)
        assert foreign.status_code == 401


class TestUpdates:
    async def test_sparse_update_changes_only_given_fields_and_bumps_synctoken(
        self, qbo: Company
    ) -> None:
        created = await qbo.customer("Sparse", CompanyName="Sparse Inc")
        updated = await qbo.create(
            "Customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "vip"}
        )
        assert updated["SyncToken"] == "1"
        assert updated["CompanyName"] == "Sparse Inc"
        assert updated["Notes"] == "vip"

    async def test_full_update_drops_omitted_fields(self, qbo: Company) -> None:
        created = await qbo.customer("Full", CompanyName="Full Inc")
        updated = await qbo.create(
            "Customer", {"Id": created["Id"], "SyncToken": "0", "DisplayName": "Full"}
        )
        assert "CompanyName" not in updated
        assert updated["SyncToken"] == "1"

    async def test_stale_synctoken_is_5010(self, qbo: Company) -> None:
        created = await qbo.customer("Stale")
        await qbo.create(
            "Customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "a"}
        )
        response = await qbo.post(
            "customer", {"Id": created["Id"], "SyncToken": "0", "sparse": True, "Notes": "b"}
        )
        assert response.status_code == 400
        assert fault(response)["code"] == "5010"
        assert response.json()["Fault"]["type"] == "ValidationFault"

    async def test_invoice_line_ids_are_kept_on_update(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 50)
        line = invoice["Line"][0]
        updated = await qbo.create(
            "Invoice",
            {
                "Id": invoice["Id"],
                "SyncToken": invoice["SyncToken"],
                "sparse": True,
                "Line": [
                    {**line, "Amount": 70},
                    {
                        "Amount": 5,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "2"}},
                    },
                ],
            },
        )
        assert [x["Id"] for x in updated["Line"] if "Id" in x] == [line["Id"], "2"]
        assert updated["TotalAmt"] == 75
        assert updated["Line"][-1]["DetailType"] == "SubTotalLineDetail"


class TestDeletes:
    async def test_delete_transaction_answers_status_deleted_then_read_is_610(
        self, qbo: Company
    ) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"])
        response = await qbo.post(
            "invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="delete"
        )
        assert response.json()["Invoice"] == {
            "status": "Deleted",
            "domain": "QBO",
            "Id": invoice["Id"],
        }
        again = await qbo.get(f"invoice/{invoice['Id']}")
        assert again.status_code == 400
        assert fault(again)["code"] == "610"
        update = await qbo.post(
            "invoice", {"Id": invoice["Id"], "SyncToken": "0", "sparse": True, "PrivateNote": "x"}
        )
        assert fault(update)["code"] == "610"

    async def test_name_list_entities_cannot_be_deleted_only_inactivated(
        self, qbo: Company
    ) -> None:
        customer = await qbo.customer("Listed")
        response = await qbo.post(
            "customer", {"Id": customer["Id"], "SyncToken": "0"}, operation="delete"
        )
        assert response.status_code == 400
        assert fault(response)["code"] == "500"
        inactive = await qbo.create(
            "Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False}
        )
        assert inactive["Active"] is False
        assert "Customer" not in await qbo.query(
            "SELECT * FROM Customer WHERE DisplayName = 'Listed'"
        )
        both = await qbo.query(
            "SELECT * FROM Customer WHERE Active IN (true, false) AND DisplayName = 'Listed'"
        )
        assert len(both["Customer"]) == 1

    async def test_delete_invoice_with_linked_payment_is_refused_800(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 100)
        await qbo.payment(customer["Id"], 40, [("Invoice", invoice["Id"], 40)])
        current = await qbo.read("Invoice", invoice["Id"])
        response = await qbo.post(
            "invoice", {"Id": invoice["Id"], "SyncToken": current["SyncToken"]}, operation="delete"
        )
        assert response.status_code == 400
        assert fault(response)["code"] == "800"

    async def test_taxcode_is_read_only(self, qbo: Company) -> None:
        response = await qbo.post("taxcode", {"Name": "NEW"})
        assert fault(response)["code"] == "500"
        assert (await qbo.read("TaxCode", "TAX"))["Name"] == "TAX"


class TestValidationRules:
    async def test_duplicate_docnumber_same_type_is_6140(self, qbo: Company) -> None:
        customer = await qbo.customer()
        await qbo.invoice(customer["Id"], DocNumber="INV-1")
        response = await qbo.post(
            "invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "DocNumber": "INV-1",
                "Line": [
                    {
                        "Amount": 1,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            },
        )
        assert response.status_code == 400
        assert fault(response)["code"] == "6140"
        assert fault(response)["element"] == "DocNumber"

    async def test_docnumber_uniqueness_is_per_entity_type(self, qbo: Company) -> None:
        customer = await qbo.customer()
        await qbo.invoice(customer["Id"], DocNumber="SHARED-1")
        memo = await qbo.create(
            "CreditMemo",
            {
                "CustomerRef": {"value": customer["Id"]},
                "DocNumber": "SHARED-1",
                "Line": [
                    {
                        "Amount": 1,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            },
        )
        assert memo["DocNumber"] == "SHARED-1"

    async def test_docnumber_duplicates_allowed_when_custom_numbers_off(self, qbo: Company) -> None:
        prefs = (await qbo.get("preferences")).json()["Preferences"]
        await qbo.create(
            "Preferences",
            {
                "Id": prefs["Id"],
                "SyncToken": prefs["SyncToken"],
                "sparse": True,
                "SalesFormsPrefs": {"CustomTxnNumbers": False},
            },
        )
        customer = await qbo.customer()
        first = await qbo.invoice(customer["Id"], DocNumber="D-1")
        second = await qbo.invoice(customer["Id"], DocNumber="D-1")
        auto = await qbo.invoice(customer["Id"])
        assert first["DocNumber"] == second["DocNumber"] == "D-1"
        assert auto["DocNumber"]

    async def test_purchase_duplicate_docnumber_needs_allowduplicatedocnum(
        self, qbo: Company
    ) -> None:
        bank = await qbo.account_id("Checking")
        office = await qbo.account_id("Office Expenses")
        body = {
            "PaymentType": "Check",
            "AccountRef": {"value": bank},
            "DocNumber": "CHK-9",
            "Line": [
                {
                    "Amount": 10,
                    "DetailType": "AccountBasedExpenseLineDetail",
                    "AccountBasedExpenseLineDetail": {"AccountRef": {"value": office}},
                }
            ],
        }
        await qbo.create("Purchase", body)
        refused = await qbo.post("purchase", body)
        assert fault(refused)["code"] == "6140"
        allowed = await qbo.post("purchase", body, include="allowduplicatedocnum")
        assert allowed.status_code == 200

    @pytest.mark.parametrize("second", ["ACME ltd", "acme LTD", "Acme Ltd"])
    async def test_duplicate_displayname_is_6240_case_insensitive(
        self, qbo: Company, second: str
    ) -> None:
        await qbo.customer("Acme Ltd")
        response = await qbo.post("customer", {"DisplayName": second})
        assert response.status_code == 400
        assert fault(response)["code"] == "6240"

    async def test_reference_to_missing_item_is_2500(self, qbo: Company) -> None:
        customer = await qbo.customer()
        response = await qbo.post(
            "invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "Line": [
                    {
                        "Amount": 1,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "999"}},
                    }
                ],
            },
        )
        assert fault(response)["code"] == "2500"

    async def test_reference_to_inactive_customer_is_2500(self, qbo: Company) -> None:
        customer = await qbo.customer("Gone Away")
        await qbo.create(
            "Customer", {"Id": customer["Id"], "SyncToken": "0", "sparse": True, "Active": False}
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
        assert fault(response)["element"] == "CustomerRef"

    async def test_read_unknown_id_is_610(self, qbo: Company) -> None:
        response = await qbo.get("invoice/424242")
        assert response.status_code == 400
        assert fault(response)["code"] == "610"

    async def test_unbalanced_journal_entry_is_6000(self, qbo: Company) -> None:
        bank = await qbo.account_id("Checking")
        equity = await qbo.account_id("Opening Balance Equity")

        def line(posting: str, account: str, amount: float) -> dict[str, object]:
            return {
                "Amount": amount,
                "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {
                    "PostingType": posting,
                    "AccountRef": {"value": account},
                },
            }

        bad = await qbo.post(
            "journalentry", {"Line": [line("Debit", bank, 100), line("Credit", equity, 99.99)]}
        )
        assert fault(bad)["code"] == "6000"
        good = await qbo.create(
            "JournalEntry", {"Line": [line("Debit", bank, 100), line("Credit", equity, 100)]}
        )
        assert good["TotalAmt"] == 100

    async def test_more_than_two_decimals_is_6000(self, qbo: Company) -> None:
        customer = await qbo.customer()
        response = await qbo.post(
            "invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "Line": [
                    {
                        "Amount": 10.005,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            },
        )
        assert fault(response)["code"] == "6000"
        assert fault(response)["element"] == "Line.Amount"

    async def test_amount_not_qty_times_unitprice_is_6070(self, qbo: Company) -> None:
        customer = await qbo.customer()
        response = await qbo.post(
            "invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "Line": [
                    {
                        "Amount": 25,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": "1"},
                            "Qty": 2,
                            "UnitPrice": 10,
                        },
                    }
                ],
            },
        )
        assert fault(response)["code"] == "6070"

    async def test_transaction_currency_differing_from_customer_is_6000(
        self, client: httpx.AsyncClient
    ) -> None:
        from tests.sandbox.conftest import new_company

        qbo = await new_company(client, multicurrency=True)
        customer = await qbo.customer("Euro Client", CurrencyRef={"value": "EUR"})
        response = await qbo.post(
            "invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "CurrencyRef": {"value": "USD"},
                "Line": [
                    {
                        "Amount": 1,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            },
        )
        assert fault(response)["code"] == "6000"
        assert fault(response)["element"] == "CurrencyRef"
        ok = await qbo.invoice(customer["Id"], 10, ExchangeRate=1.1)
        assert ok["CurrencyRef"]["value"] == "EUR"
        assert ok["HomeTotalAmt"] == 11

    async def test_foreign_currency_customer_needs_multicurrency(self, qbo: Company) -> None:
        response = await qbo.post(
            "customer", {"DisplayName": "Euro", "CurrencyRef": {"value": "EUR"}}
        )
        assert fault(response)["code"] == "6000"

    async def test_payment_above_invoice_balance_is_refused(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 100)
        await qbo.payment(customer["Id"], 60, [("Invoice", invoice["Id"], 60)])
        response = await qbo.post(
            "payment",
            {
                "CustomerRef": {"value": customer["Id"]},
                "TotalAmt": 50,
                "Line": [
                    {"Amount": 50, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
                ],
            },
        )
        assert fault(response)["code"] == "6000"
        assert fault(response)["element"] == "Line.Amount"

    async def test_void_of_credit_memo_is_not_supported(self, qbo: Company) -> None:
        customer = await qbo.customer()
        memo = await qbo.create(
            "CreditMemo",
            {
                "CustomerRef": {"value": customer["Id"]},
                "Line": [
                    {
                        "Amount": 5,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            },
        )
        response = await qbo.post(
            "creditmemo", {"Id": memo["Id"], "SyncToken": "0"}, operation="void"
        )
        assert response.status_code == 400
        assert fault(response)["code"] == "500"

    @pytest.mark.parametrize("account", ["Payments in transit", "Accounts Payable (A/P)"])
    async def test_deposit_line_account_type_refused(self, qbo: Company, account: str) -> None:
        bank = await qbo.account_id("Checking")
        source = await qbo.account_id(account)
        response = await qbo.post(
            "deposit",
            {
                "DepositToAccountRef": {"value": bank},
                "Line": [
                    {
                        "Amount": 10,
                        "DetailType": "DepositLineDetail",
                        "DepositLineDetail": {"AccountRef": {"value": source}},
                    }
                ],
            },
        )
        assert fault(response)["code"] == "6000"
        assert fault(response)["element"] == "Line.DepositLineDetail.AccountRef"

    async def test_deposited_payment_cannot_be_voided_6540(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 30)
        payment = await qbo.payment(customer["Id"], 30, [("Invoice", invoice["Id"], 30)])
        bank = await qbo.account_id("Checking")
        await qbo.create(
            "Deposit",
            {
                "DepositToAccountRef": {"value": bank},
                "Line": [
                    {"Amount": 30, "LinkedTxn": [{"TxnId": payment["Id"], "TxnType": "Payment"}]}
                ],
            },
        )
        response = await qbo.post(
            "payment",
            {"Id": payment["Id"], "SyncToken": "0", "sparse": True},
            operation="update",
            include="void",
        )
        assert fault(response)["code"] == "6540"

    async def test_invalid_json_body_is_a_fault(self, qbo: Company) -> None:
        response = await qbo.client.post(
            f"{qbo.base}/customer",
            content=b"{not json",
            headers={**qbo.headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 400
        assert fault(response)["code"] == "2010"
