"""Balances, voids, credits, sends, trial balance and AR aging."""

from __future__ import annotations

from tests.sandbox.conftest import Company


async def trial_balance(qbo: Company) -> dict[str, dict[str, float]]:
    body = (await qbo.client.get(f"/_admin/realms/{qbo.realm_id}/trial-balance")).json()
    assert body["total_debit"] == body["total_credit"]
    assert body["balanced"] is True
    return {row["name"]: row for row in body["accounts"]}


class TestInvoiceBalance:
    async def test_payments_reduce_invoice_and_customer_balance(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 100)
        payment = await qbo.payment(customer["Id"], 30, [("Invoice", invoice["Id"], 30)])
        current = await qbo.read("Invoice", invoice["Id"])
        assert current["Balance"] == 70
        assert current["SyncToken"] == "1"
        assert current["LinkedTxn"] == [{"TxnId": payment["Id"], "TxnType": "Payment"}]
        assert (await qbo.read("Customer", customer["Id"]))["Balance"] == 70

    async def test_applied_credit_memo_reduces_invoice_balance(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 100)
        memo = await qbo.create(
            "CreditMemo",
            {
                "CustomerRef": {"value": customer["Id"]},
                "Line": [
                    {
                        "Amount": 25,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            },
        )
        assert memo["RemainingCredit"] == 25
        await qbo.payment(
            customer["Id"], 0, [("Invoice", invoice["Id"], 25), ("CreditMemo", memo["Id"], 25)]
        )
        assert (await qbo.read("Invoice", invoice["Id"]))["Balance"] == 75
        assert (await qbo.read("CreditMemo", memo["Id"]))["RemainingCredit"] == 0
        assert (await qbo.read("Customer", customer["Id"]))["Balance"] == 75

    async def test_void_invoice_zeroes_it_and_frees_payment(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 100, PrivateNote="order 7")
        payment = await qbo.payment(customer["Id"], 40, [("Invoice", invoice["Id"], 40)])
        current = await qbo.read("Invoice", invoice["Id"])
        voided = (
            await qbo.post(
                "invoice",
                {"Id": invoice["Id"], "SyncToken": current["SyncToken"]},
                operation="void",
            )
        ).json()["Invoice"]
        assert voided["TotalAmt"] == 0
        assert voided["Balance"] == 0
        assert voided["PrivateNote"].startswith("Voided")
        assert all(line["Amount"] == 0 for line in voided["Line"])
        freed = await qbo.read("Payment", payment["Id"])
        assert freed["UnappliedAmt"] == 40
        assert freed["Line"] == []

    async def test_void_payment_restores_invoice_balance(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 100)
        payment = await qbo.payment(customer["Id"], 100, [("Invoice", invoice["Id"], 100)])
        assert (await qbo.read("Invoice", invoice["Id"]))["Balance"] == 0
        response = await qbo.post(
            "payment",
            {"Id": payment["Id"], "SyncToken": "0", "sparse": True},
            operation="update",
            include="void",
        )
        assert response.json()["Payment"]["TotalAmt"] == 0
        assert (await qbo.read("Invoice", invoice["Id"]))["Balance"] == 100

    async def test_delete_payment_restores_invoice_balance(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 80)
        payment = await qbo.payment(customer["Id"], 80, [("Invoice", invoice["Id"], 80)])
        await qbo.post("payment", {"Id": payment["Id"], "SyncToken": "0"}, operation="delete")
        restored = await qbo.read("Invoice", invoice["Id"])
        assert restored["Balance"] == 80
        assert "LinkedTxn" not in restored

    async def test_void_sales_receipt(self, qbo: Company) -> None:
        receipt = await qbo.create(
            "SalesReceipt",
            {
                "Line": [
                    {
                        "Amount": 15,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ]
            },
        )
        response = await qbo.post(
            "salesreceipt",
            {"Id": receipt["Id"], "SyncToken": "0", "sparse": True},
            operation="update",
            include="void",
        )
        assert response.json()["SalesReceipt"]["TotalAmt"] == 0


class TestSend:
    async def test_send_sets_email_status_and_delivery(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 10)
        response = await qbo.client.post(
            f"{qbo.base}/invoice/{invoice['Id']}/send",
            params={"sendTo": "ap@example.com"},
            headers={**qbo.headers, "Content-Type": "application/octet-stream"},
        )
        sent = response.json()["Invoice"]
        assert sent["EmailStatus"] == "EmailSent"
        assert sent["BillEmail"]["Address"] == "ap@example.com"
        assert sent["DeliveryInfo"]["DeliveryType"] == "Email"
        assert sent["SyncToken"] == "1"

    async def test_send_without_address_is_a_fault(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 10)
        response = await qbo.client.post(
            f"{qbo.base}/invoice/{invoice['Id']}/send", headers=qbo.headers
        )
        assert response.status_code == 400


class TestLedgerReports:
    async def test_trial_balance_balances_across_all_transaction_types(self, qbo: Company) -> None:
        customer = await qbo.customer()
        bank = await qbo.account_id("Checking")
        office = await qbo.account_id("Office Expenses")
        fees = await qbo.account_id("Bank Charges")
        equity = await qbo.account_id("Opening Balance Equity")
        invoice = await qbo.invoice(customer["Id"], 100, TxnTaxDetail={"TotalTax": 8})
        payment = await qbo.payment(customer["Id"], 108, [("Invoice", invoice["Id"], 108)])
        await qbo.create(
            "CreditMemo",
            {
                "CustomerRef": {"value": customer["Id"]},
                "Line": [
                    {
                        "Amount": 10,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "2"}},
                    }
                ],
            },
        )
        await qbo.create(
            "SalesReceipt",
            {
                "Line": [
                    {
                        "Amount": 20,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ]
            },
        )
        await qbo.create(
            "RefundReceipt",
            {
                "CustomerRef": {"value": customer["Id"]},
                "DepositToAccountRef": {"value": bank},
                "Line": [
                    {
                        "Amount": 5,
                        "DetailType": "SalesItemLineDetail",
                        "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
                    }
                ],
            },
        )
        await qbo.create(
            "Purchase",
            {
                "PaymentType": "Cash",
                "AccountRef": {"value": bank},
                "Line": [
                    {
                        "Amount": 7,
                        "DetailType": "AccountBasedExpenseLineDetail",
                        "AccountBasedExpenseLineDetail": {"AccountRef": {"value": office}},
                    }
                ],
            },
        )
        await qbo.create(
            "Deposit",
            {
                "DepositToAccountRef": {"value": bank},
                "Line": [
                    {"Amount": 108, "LinkedTxn": [{"TxnId": payment["Id"], "TxnType": "Payment"}]},
                    {
                        "Amount": -2,
                        "DetailType": "DepositLineDetail",
                        "DepositLineDetail": {"AccountRef": {"value": fees}},
                    },
                ],
            },
        )
        await qbo.create(
            "JournalEntry",
            {
                "Line": [
                    {
                        "Amount": 500,
                        "DetailType": "JournalEntryLineDetail",
                        "JournalEntryLineDetail": {
                            "PostingType": "Debit",
                            "AccountRef": {"value": bank},
                        },
                    },
                    {
                        "Amount": 500,
                        "DetailType": "JournalEntryLineDetail",
                        "JournalEntryLineDetail": {
                            "PostingType": "Credit",
                            "AccountRef": {"value": equity},
                        },
                    },
                ]
            },
        )
        rows = await trial_balance(qbo)
        assert rows["Undeposited Funds"]["debit"] == 20  # the sales receipt, not yet deposited
        assert rows["Accounts Receivable (A/R)"]["credit"] == 10
        assert rows["Sales Tax Payable"]["credit"] == 8
        assert rows["Office Expenses"]["debit"] == 7
        assert rows["Bank Charges"]["debit"] == 2
        assert rows["Checking"]["debit"] == 108 - 2 + 500 - 5 - 7
        account = await qbo.read("Account", bank)
        assert account["CurrentBalance"] == 594

    async def test_voided_invoice_leaves_no_postings(self, qbo: Company) -> None:
        customer = await qbo.customer()
        invoice = await qbo.invoice(customer["Id"], 100)
        await qbo.post("invoice", {"Id": invoice["Id"], "SyncToken": "0"}, operation="void")
        rows = await trial_balance(qbo)
        assert rows["Accounts Receivable (A/R)"]["debit"] == 0

    async def test_ar_aging_lists_open_balance_per_customer_and_invoice(self, qbo: Company) -> None:
        first = await qbo.customer("First")
        second = await qbo.customer("Second")
        old = await qbo.invoice(first["Id"], 100, TxnDate="2026-01-01", DueDate="2026-01-31")
        await qbo.invoice(first["Id"], 50, TxnDate="2026-03-01", DueDate="2026-03-31")
        paid = await qbo.invoice(second["Id"], 40, TxnDate="2026-03-01")
        await qbo.payment(second["Id"], 40, [("Invoice", paid["Id"], 40)])
        await qbo.payment(first["Id"], 30, [("Invoice", old["Id"], 30)])
        aging = (
            await qbo.client.get(
                f"/_admin/realms/{qbo.realm_id}/ar-aging", params={"as_of": "2026-04-15"}
            )
        ).json()
        assert aging["total"] == 120
        [row] = aging["customers"]
        assert row["name"] == "First"
        assert row["open_balance"] == 120
        assert row["buckets"]["61-90"] == 70
        assert row["buckets"]["1-30"] == 50
        assert old["Id"] in {i["invoice_id"] for i in row["invoices"]}
        assert len(row["invoices"]) == 2
