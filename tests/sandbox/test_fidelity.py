"""Behaviour of the real QBO API that the emulator must not be more lenient about."""

# ruff: noqa: S314 - the XML parsed here comes from the in-process emulator

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.etree import ElementTree

import httpx
import pytest
from qbsync_sandbox.settings import SandboxSettings

from tests.sandbox.conftest import Company, SandboxFactory, fault, new_company

BASIC = "Basic " + base64.b64encode(b"qbsync-dev:qbsync-dev-secret").decode()


def sales_line(amount: float = 10) -> dict[str, Any]:
    return {
        "Amount": amount,
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
    }


def deposit_line(account: str, amount: float = 10) -> dict[str, Any]:
    return {
        "Amount": amount,
        "DetailType": "DepositLineDetail",
        "DepositLineDetail": {"AccountRef": {"value": account}},
    }


class TestWire:
    @pytest.mark.parametrize("path", ["Customer", "Query", "Batch"])
    async def test_resource_segments_are_lowercase_and_case_sensitive(
        self, qbo: Company, path: str
    ) -> None:
        await qbo.customer()
        response = await qbo.post(path, {"DisplayName": "Upper"})
        assert response.status_code == 400
        assert fault(response)["code"] == "500"

    async def test_write_without_json_content_type_is_refused(self, qbo: Company) -> None:
        response = await qbo.client.post(
            f"{qbo.base}/customer",
            content=b'{"DisplayName": "Text"}',
            headers={**qbo.headers, "Content-Type": "text/plain"},
        )
        assert response.status_code == 400
        assert fault(response)["code"] == "500"
        assert "Customer" not in await qbo.query("SELECT * FROM Customer")

    async def test_query_by_post_needs_application_text(self, qbo: Company) -> None:
        response = await qbo.client.post(
            f"{qbo.base}/query",
            content="SELECT * FROM Item",
            headers={**qbo.headers, "Content-Type": "application/json"},
        )
        assert fault(response)["code"] == "500"

    async def test_send_needs_octet_stream(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], BillEmail={"Address": "ap@example.com"})
        as_json = await qbo.post(f"invoice/{invoice['Id']}/send", {})
        assert as_json.status_code == 400
        assert fault(as_json)["code"] == "2020"
        sent = await qbo.client.post(
            f"{qbo.base}/invoice/{invoice['Id']}/send",
            content=b"",
            headers={**qbo.headers, "Content-Type": "application/octet-stream"},
        )
        assert sent.json()["Invoice"]["EmailStatus"] == "EmailSent"

    async def test_answers_are_xml_unless_json_is_accepted(self, qbo: Company) -> None:
        customer = await qbo.customer("Xml Co")
        headers = {"Authorization": qbo.headers["Authorization"]}
        response = await qbo.client.get(f"{qbo.base}/customer/{customer['Id']}", headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
        root = ElementTree.fromstring(response.content)
        ns = "{http://schema.intuit.com/finance/v3}"
        assert root.tag == f"{ns}IntuitResponse"
        node = root.find(f"{ns}Customer")
        assert node is not None
        assert node.get("domain") == "QBO"
        assert node.findtext(f"{ns}DisplayName") == "Xml Co"
        assert node.findtext(f"{ns}CurrencyRef") == "USD"
        missing = await qbo.client.get(f"{qbo.base}/invoice/999", headers=headers)
        error = ElementTree.fromstring(missing.content).find(f"{ns}Fault/{ns}Error")
        assert error is not None
        assert error.get("code") == "610"

    async def test_query_entity_names_are_case_sensitive(self, qbo: Company) -> None:
        response = await qbo.get("query", query="SELECT * FROM customer")
        assert fault(response)["code"] == "4000"
        assert "Item" in await qbo.query("select * from Item")

    async def test_not_equal_is_not_an_operator(self, qbo: Company) -> None:
        response = await qbo.get("query", query="SELECT * FROM Item WHERE Name != 'Hours'")
        assert fault(response)["code"] == "4000"


class TestRequestIdLimits:
    async def test_requestid_over_50_characters_is_6000(self, qbo: Company) -> None:
        response = await qbo.post("customer", {"DisplayName": "Long"}, requestid="r" * 51)
        assert response.status_code == 400
        assert fault(response)["code"] == "6000"
        assert fault(response)["element"] == "requestid"
        ok = await qbo.post("customer", {"DisplayName": "Long"}, requestid="r" * 50)
        assert ok.status_code == 200

    async def test_batch_requestid_over_36_characters_is_6000(self, qbo: Company) -> None:
        body = {"BatchItemRequest": [{"bId": "1", "Query": "SELECT * FROM Item"}]}
        response = await qbo.post("batch", body, requestid="b" * 37)
        assert fault(response)["code"] == "6000"
        assert (await qbo.post("batch", body, requestid="b" * 36)).status_code == 200

    async def test_bid_over_10_characters_with_requestid_faults_the_item(
        self, qbo: Company
    ) -> None:
        body = {
            "BatchItemRequest": [
                {"bId": "b" * 11, "operation": "create", "Class": {"Name": "Long bId"}},
                {"bId": "b" * 10, "operation": "create", "Class": {"Name": "Short bId"}},
            ]
        }
        response = await qbo.post("batch", body, requestid="rid-bid")
        items = {i["bId"]: i for i in response.json()["BatchItemResponse"]}
        assert items["b" * 11]["Fault"]["Error"][0]["code"] == "6000"
        assert items["b" * 10]["Class"]["Name"] == "Short bId"
        without = await qbo.post("batch", {"BatchItemRequest": [{**body["BatchItemRequest"][0]}]})
        assert "Class" in without.json()["BatchItemResponse"][0]


class TestBatchIndependence:
    async def test_an_item_cannot_use_what_another_item_created(self, qbo: Company) -> None:
        customer = await qbo.customer("Existing")
        predicted = str(int(customer["Id"]) + 1)
        response = await qbo.post(
            "batch",
            {
                "BatchItemRequest": [
                    {"bId": "c", "operation": "create", "Customer": {"DisplayName": "New"}},
                    {
                        "bId": "i",
                        "operation": "create",
                        "Invoice": {"CustomerRef": {"value": predicted}, "Line": [sales_line()]},
                    },
                    {"bId": "q", "Query": "SELECT * FROM Customer WHERE DisplayName = 'New'"},
                ]
            },
        )
        items = {i["bId"]: i for i in response.json()["BatchItemResponse"]}
        assert items["c"]["Customer"]["Id"] == predicted
        assert items["i"]["Fault"]["Error"][0]["code"] == "2500"
        assert items["q"]["QueryResponse"] == {}
        assert (await qbo.read("Customer", predicted))["DisplayName"] == "New"


class TestPerSecondLimit:
    async def test_more_than_10_requests_in_a_second_get_429(
        self, sandbox_factory: SandboxFactory
    ) -> None:
        async with sandbox_factory(SandboxSettings()) as client:
            qbo = await new_company(client)
            answers = [await qbo.get("preferences") for _ in range(11)]
            assert [r.status_code for r in answers[:10]] == [200] * 10
            assert answers[10].status_code == 429
            assert 'code="3001"' in answers[10].text

    async def test_per_second_limit_can_be_switched_off(
        self, sandbox_factory: SandboxFactory
    ) -> None:
        async with sandbox_factory(SandboxSettings(requests_per_second=0)) as client:
            qbo = await new_company(client)
            answers = [await qbo.get("preferences") for _ in range(15)]
            assert all(r.status_code == 200 for r in answers)


class TestOAuthStrictness:
    async def test_token_endpoint_reads_forms_only(self, qbo: Company) -> None:
        response = await qbo.client.post(
            "/oauth2/v1/tokens/bearer",
            json={"grant_type": "refresh_token", "refresh_token": qbo.tokens["refresh_token"]},
            headers={"Authorization": BASIC},
        )
        assert response.status_code == 415

    async def test_token_without_accounting_scope_is_403_3100(
        self, client: httpx.AsyncClient
    ) -> None:
        redirect = "https://app.example/cb"
        params = {
            "client_id": "qbsync-dev",
            "response_type": "code",
            "redirect_uri": redirect,
            "state": "s",
        }
        missing = await client.get("/oauth2/authorize", params=params)
        assert missing.json() == {"error": "invalid_scope"}
        granted = await client.get("/oauth2/authorize", params={**params, "scope": "openid"})
        query = parse_qs(urlparse(granted.headers["location"]).query)
        tokens = await client.post(
            "/oauth2/v1/tokens/bearer",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": redirect,
            },
            headers={"Authorization": BASIC},
        )
        qbo = Company(client, query["realmId"][0], tokens.json())
        response = await qbo.get("preferences")
        assert response.status_code == 403
        assert response.json()["fault"]["error"][0]["code"] == "3100"


class TestNames:
    @pytest.mark.parametrize("name", ["Parent:Child", "Tab\tbed", "New\nline"])
    async def test_displayname_rejects_colon_tab_newline(self, qbo: Company, name: str) -> None:
        response = await qbo.post("customer", {"DisplayName": name})
        assert fault(response)["code"] == "6000"
        assert fault(response)["element"] == "DisplayName"

    async def test_name_parts_are_checked_and_build_the_displayname(self, qbo: Company) -> None:
        bad = await qbo.post("customer", {"GivenName": "A:B"})
        assert fault(bad)["element"] == "GivenName"
        long_title = await qbo.post("customer", {"Title": "T" * 17, "GivenName": "Ann"})
        assert fault(long_title)["code"] == "2050"
        built = await qbo.create("Customer", {"GivenName": "Ann", "FamilyName": "Lee"})
        assert built["DisplayName"] == "Ann Lee"

    async def test_company_name_alone_does_not_name_a_customer(self, qbo: Company) -> None:
        response = await qbo.post("customer", {"CompanyName": "Only Company"})
        assert fault(response)["code"] == "2020"

    async def test_email_needs_at_and_dot(self, qbo: Company) -> None:
        response = await qbo.post(
            "customer", {"DisplayName": "Mail", "PrimaryEmailAddr": {"Address": "a@localhost"}}
        )
        assert fault(response)["code"] == "2210"

    @pytest.mark.parametrize(("field", "value"), [("Name", "Cash:Petty"), ("Name", 'Big "A"')])
    async def test_account_name_rejects_colon_and_quote(
        self, qbo: Company, field: str, value: str
    ) -> None:
        response = await qbo.post("account", {field: value, "AccountType": "Expense"})
        assert fault(response)["code"] == "6000"

    async def test_account_gets_default_subtype_and_needs_a_type(self, qbo: Company) -> None:
        created = await qbo.create("Account", {"Name": "Trips", "AccountType": "Expense"})
        assert created["AccountSubType"] == "Travel"
        assert created["Classification"] == "Expense"
        missing = await qbo.post("account", {"Name": "Untyped"})
        assert fault(missing)["code"] == "6010"

    async def test_item_needs_a_type_and_groups_cannot_be_created(self, qbo: Company) -> None:
        income = await qbo.account_id("Sales")
        untyped = await qbo.post("item", {"Name": "Widget", "IncomeAccountRef": {"value": income}})
        assert fault(untyped)["code"] == "2020"
        assert fault(untyped)["element"] == "Type"
        group = await qbo.post("item", {"Name": "Bundle", "Type": "Group"})
        assert fault(group)["code"] == "6000"

    async def test_inventory_item_needs_asset_account_and_quantities(self, qbo: Company) -> None:
        income = await qbo.account_id("Sales")
        body = {
            "Name": "Stocked",
            "Type": "Inventory",
            "IncomeAccountRef": {"value": income},
            "TrackQtyOnHand": True,
            "QtyOnHand": 5,
            "InvStartDate": "2026-01-01",
        }
        missing = await qbo.post("item", body)
        assert fault(missing)["element"] == "AssetAccountRef"
        asset = await qbo.account_id("Undeposited Funds")
        created = await qbo.create("Item", {**body, "AssetAccountRef": {"value": asset}})
        untrack = await qbo.post(
            "item",
            {"Id": created["Id"], "SyncToken": "0", "sparse": True, "TrackQtyOnHand": False},
        )
        assert fault(untrack)["element"] == "TrackQtyOnHand"


class TestTransactionRules:
    @pytest.mark.parametrize("entity", ["Invoice", "CreditMemo", "SalesReceipt"])
    async def test_sales_forms_need_a_line(self, qbo: Company, entity: str) -> None:
        customer = await qbo.customer()
        response = await qbo.post(entity.lower(), {"CustomerRef": {"value": customer["Id"]}})
        assert fault(response)["code"] == "2020"
        assert fault(response)["element"] == "Line"

    async def test_full_update_without_lines_is_refused(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"])
        response = await qbo.post(
            "invoice",
            {"Id": invoice["Id"], "SyncToken": "0", "CustomerRef": {"value": customer["Id"]}},
        )
        assert fault(response)["element"] == "Line"

    async def test_deposit_and_purchase_need_a_line(self, qbo: Company) -> None:
        bank = await qbo.account_id("Checking")
        deposit = await qbo.post("deposit", {"DepositToAccountRef": {"value": bank}})
        assert fault(deposit)["element"] == "Line"
        purchase = await qbo.post(
            "purchase", {"PaymentType": "Cash", "AccountRef": {"value": bank}}
        )
        assert fault(purchase)["element"] == "Line"

    async def test_auto_generate_docnumber_assigns_the_next_number(self, qbo: Company) -> None:
        customer = await qbo.customer()
        first = await qbo.invoice(customer["Id"], DocNumber="AUTO_GENERATE")
        second = await qbo.invoice(customer["Id"], DocNumber="AUTO_GENERATE")
        assert first["DocNumber"].isdigit()
        assert int(second["DocNumber"]) == int(first["DocNumber"]) + 1

    async def test_customer_memo_is_at_most_1000_characters(self, qbo: Company) -> None:
        customer = await qbo.customer()
        response = await qbo.post(
            "invoice",
            {
                "CustomerRef": {"value": customer["Id"]},
                "CustomerMemo": {"value": "m" * 1001},
                "Line": [sales_line()],
            },
        )
        assert fault(response)["code"] == "2050"

    @pytest.mark.parametrize("account", ["Checking", "Visa Credit Card", "Accounts Payable (A/P)"])
    async def test_deposit_line_accounts_follow_the_documented_types(
        self, qbo: Company, account: str
    ) -> None:
        bank = await qbo.account_id("Checking")
        source = await qbo.account_id(account)
        response = await qbo.post(
            "deposit", {"DepositToAccountRef": {"value": bank}, "Line": [deposit_line(source)]}
        )
        assert fault(response)["element"] == "Line.DepositLineDetail.AccountRef"

    @pytest.mark.parametrize("target", ["Sales", "Undeposited Funds"])
    async def test_deposit_goes_to_a_bank_account(self, qbo: Company, target: str) -> None:
        account = await qbo.account_id(target)
        income = await qbo.account_id("Sales")
        response = await qbo.post(
            "deposit",
            {"DepositToAccountRef": {"value": account}, "Line": [deposit_line(income)]},
        )
        assert fault(response)["element"] == "DepositToAccountRef"

    async def test_deposit_links_only_payments_in_undeposited_funds(self, qbo: Company) -> None:
        customer = await qbo.customer()
        bank = await qbo.account_id("Checking")
        direct = await qbo.create(
            "Payment",
            {
                "CustomerRef": {"value": customer["Id"]},
                "TotalAmt": 20,
                "DepositToAccountRef": {"value": bank},
            },
        )
        response = await qbo.post(
            "deposit",
            {
                "DepositToAccountRef": {"value": bank},
                "Line": [
                    {"Amount": 20, "LinkedTxn": [{"TxnId": direct["Id"], "TxnType": "Payment"}]}
                ],
            },
        )
        assert fault(response)["element"] == "Line.LinkedTxn"

    async def test_payment_deposit_account_must_hold_cash(self, qbo: Company) -> None:
        customer = await qbo.customer()
        income = await qbo.account_id("Sales")
        response = await qbo.post(
            "payment",
            {
                "CustomerRef": {"value": customer["Id"]},
                "TotalAmt": 5,
                "DepositToAccountRef": {"value": income},
            },
        )
        assert fault(response)["element"] == "DepositToAccountRef"

    async def test_payment_linking_another_customers_invoice_is_620(self, qbo: Company) -> None:
        owner = await qbo.customer("Owner")
        other = await qbo.customer("Other")
        invoice = await qbo.invoice(owner["Id"], 50)
        response = await qbo.post(
            "payment",
            {
                "CustomerRef": {"value": other["Id"]},
                "TotalAmt": 50,
                "Line": [
                    {"Amount": 50, "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}
                ],
            },
        )
        assert fault(response)["code"] == "620"

    async def test_purchase_account_matches_payment_type(self, qbo: Company) -> None:
        bank = await qbo.account_id("Checking")
        office = await qbo.account_id("Office Expenses")
        line = {
            "Amount": 10,
            "DetailType": "AccountBasedExpenseLineDetail",
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": office}},
        }
        response = await qbo.post(
            "purchase",
            {"PaymentType": "CreditCard", "AccountRef": {"value": bank}, "Line": [line]},
        )
        assert fault(response)["element"] == "AccountRef"

    async def test_purchase_item_line_amount_is_qty_times_price(self, qbo: Company) -> None:
        bank = await qbo.account_id("Checking")
        response = await qbo.post(
            "purchase",
            {
                "PaymentType": "Check",
                "AccountRef": {"value": bank},
                "Line": [
                    {
                        "Amount": 31,
                        "DetailType": "ItemBasedExpenseLineDetail",
                        "ItemBasedExpenseLineDetail": {
                            "ItemRef": {"value": "1"},
                            "Qty": 3,
                            "UnitPrice": 10,
                        },
                    }
                ],
            },
        )
        assert fault(response)["code"] == "6070"

    async def test_journal_entry_payable_line_needs_a_vendor(self, qbo: Company) -> None:
        payable = await qbo.account_id("Accounts Payable (A/P)")
        bank = await qbo.account_id("Checking")

        def line(posting: str, account: str) -> dict[str, Any]:
            return {
                "Amount": 10,
                "DetailType": "JournalEntryLineDetail",
                "JournalEntryLineDetail": {
                    "PostingType": posting,
                    "AccountRef": {"value": account},
                },
            }

        response = await qbo.post(
            "journalentry", {"Line": [line("Debit", payable), line("Credit", bank)]}
        )
        assert fault(response)["element"] == "Line.JournalEntryLineDetail.Entity"


class TestMulticurrency:
    async def test_foreign_invoice_without_rate_is_booked_at_1(
        self, client: httpx.AsyncClient
    ) -> None:
        qbo = await new_company(client, multicurrency=True)
        customer = await qbo.customer("Euro Buyer", CurrencyRef={"value": "EUR"})
        invoice = await qbo.invoice(customer["Id"], 40)
        assert invoice["CurrencyRef"]["value"] == "EUR"
        assert invoice["ExchangeRate"] == 1
        assert invoice["HomeTotalAmt"] == 40
        zero = await qbo.post(
            "invoice",
            {"CustomerRef": {"value": customer["Id"]}, "ExchangeRate": 0, "Line": [sales_line()]},
        )
        assert fault(zero)["element"] == "ExchangeRate"

    async def test_income_accounts_stay_in_home_currency(self, client: httpx.AsyncClient) -> None:
        qbo = await new_company(client, multicurrency=True)
        income = await qbo.post(
            "account",
            {"Name": "EU Sales", "AccountType": "Income", "CurrencyRef": {"value": "EUR"}},
        )
        assert fault(income)["element"] == "CurrencyRef"
        bank = await qbo.create(
            "Account",
            {"Name": "EU Bank", "AccountType": "Bank", "CurrencyRef": {"value": "EUR"}},
        )
        assert bank["CurrencyRef"]["value"] == "EUR"

    async def test_foreign_account_needs_multicurrency(self, qbo: Company) -> None:
        response = await qbo.post(
            "account", {"Name": "EU Bank", "AccountType": "Bank", "CurrencyRef": {"value": "EUR"}}
        )
        assert fault(response)["element"] == "CurrencyRef"

    async def test_multicurrency_cannot_be_switched_through_the_api(self, qbo: Company) -> None:
        prefs = (await qbo.get("preferences")).json()["Preferences"]
        response = await qbo.post(
            "preferences",
            {
                "Id": prefs["Id"],
                "SyncToken": prefs["SyncToken"],
                "sparse": True,
                "CurrencyPrefs": {"MultiCurrencyEnabled": True},
            },
        )
        assert fault(response)["element"] == "CurrencyPrefs.MultiCurrencyEnabled"
