"""Fees and payouts, pure rules: PAY-7 (fee Expense), PAY-8/9 (one Deposit), PAY-10 (targets)."""

from decimal import Decimal
from typing import Any

import pytest
from qbsync_core.commands import Entity, Operation
from qbsync_core.errors import ErrorCategory
from qbsync_mapper.tenants import (
    AccountInfo,
    AccountType,
    TargetRole,
    deposit_target_problems,
    validate_document,
)

from tests.fixtures.events import make_envelope, make_payout_settled
from tests.mapper.helpers import Run, run, settings_document

T = "hotel-lisboa"
PAYOUTS: dict[str, Any] = {
    "deposit_account": "35",
    "categories": {
        "Class packs": {"account": "401", "class": "10"},
        "Virtual classes": {"account": "402"},
        "In-person classes": {"account": "403"},
        "Recurring memberships": {"class": "20"},
    },
    "default_account": "400",
}
ACCOUNTS = {
    "35": {"name": "Checking", "type": "Bank"},
    "77": {"name": "Payments in transit", "type": "Other Current Liability"},
    "92": {"name": "Stripe fees", "type": "Expense"},
    "400": {"name": "Sales", "type": "Income"},
    "401": {"name": "Class pack sales", "type": "Income"},
}


def studio(**payouts: Any) -> Run:
    return run(payouts={**PAYOUTS, **payouts}, accounts=ACCOUNTS)


def fee(**data: Any) -> dict[str, Any]:
    body = {
        "ref": "fee-1",
        "currency": "USD",
        "amount": "2.90",
        "processor": "stripe",
        "charged_at": "2026-11-21T10:00:00Z",
        "description": "Card fee for booking 88",
    }
    body.update(data)
    return make_envelope("fee.charged", body, source="momence")


def payout(lines: list[tuple[str, str]], fees: str, net: str) -> dict[str, Any]:
    return make_payout_settled(
        data={
            "lines": [{"revenue_category": c, "amount": a} for c, a in lines],
            "fees": fees,
            "net": net,
        }
    )


class TestFees:
    def test_processor_fee_is_an_expense_on_the_fee_account_PAY_7(self) -> None:
        (command,) = run().commands(fee())
        assert (command.operation, command.entity, command.category) == (
            Operation.CREATE,
            Entity.PURCHASE,
            ErrorCategory.EXPENSE,
        )
        assert command.upstream_ref == f"fee:{T}:fee-1"
        body = command.body
        assert (body["PaymentType"], body["AccountRef"], body["TotalAmt"]) == (
            "Cash",
            {"value": "35"},
            "2.90",
        )
        assert body["Line"][0]["AccountBasedExpenseLineDetail"] == {"AccountRef": {"value": "92"}}
        assert body["TxnDate"] == "2026-11-21"
        assert command.expected_total == Decimal("2.90")

    def test_fee_without_fee_account_is_a_mapping_error_PAY_7(self) -> None:
        (error,) = run(fee_account=None).errors(fee())
        assert (error.category, error.retriable) == (ErrorCategory.MAPPING, True)
        assert "fee_account" in error.cause

    def test_fee_failures_are_expense_errors_PAY_7(self) -> None:
        # A foreign fee for a single-currency company: the fee's own error category.
        r = run(multicurrency=False, deposit_accounts={"default": "35", "rules": []})
        (error,) = r.errors(fee(currency="EUR", exchange_rate="1.1"))
        assert error.category is ErrorCategory.EXPENSE

    def test_fee_of_a_payout_is_left_to_the_payout_PAY_7_PAY_8(self) -> None:
        r = studio()
        assert r.commands(fee(payout_ref="po_123")) == []
        assert r.mappings[-1].outcome == "skipped:fee-in-payout"

    def test_same_fee_twice_is_posted_once_PAY_7(self) -> None:
        r = run()
        assert len(r.commands(fee())) == 1
        assert r.commands(fee()) == []


class TestPayouts:
    def test_one_deposit_per_payout_with_a_line_per_category_and_fees_negative_PAY_8_PAY_9(
        self,
    ) -> None:
        event = payout(
            [
                ("Class packs", "100.00"),
                ("Virtual classes", "40.00"),
                ("Class packs", "60.00"),
                ("Recurring memberships", "99.00"),
                ("In-person classes", "25.50"),
            ],
            fees="9.87",
            net="314.63",
        )
        (command,) = studio().commands(event)
        assert (command.operation, command.entity) == (Operation.CREATE, Entity.DEPOSIT)
        assert command.upstream_ref == f"payout:{T}:po_123"
        body = command.body
        assert (body["DepositToAccountRef"], body["TxnDate"]) == ({"value": "35"}, "2026-11-21")
        lines = [
            (line["Description"], line["Amount"], line["DepositLineDetail"])
            for line in body["Line"]
        ]
        assert lines == [
            (
                "Class packs",
                "160.00",
                {"AccountRef": {"value": "401"}, "ClassRef": {"value": "10"}},
            ),
            ("Virtual classes", "40.00", {"AccountRef": {"value": "402"}}),
            (
                "Recurring memberships",
                "99.00",
                {"AccountRef": {"value": "400"}, "ClassRef": {"value": "20"}},
            ),
            ("In-person classes", "25.50", {"AccountRef": {"value": "403"}}),
            ("stripe fees", "-9.87", {"AccountRef": {"value": "92"}}),
        ]
        total = sum(Decimal(line["Amount"]) for line in body["Line"])
        assert total == Decimal("314.63") == command.expected_total

    def test_fees_as_a_separate_expense_keep_the_bank_movement_equal_to_net_PAY_8(self) -> None:
        deposit, expense = studio(fees="expense").commands(
            payout([("Class packs", "300.00"), ("Virtual classes", "200.00")], "14.80", "485.20")
        )
        assert (deposit.entity, expense.entity) == (Entity.DEPOSIT, Entity.PURCHASE)
        assert [line["Amount"] for line in deposit.body["Line"]] == ["300.00", "200.00"]
        assert expense.upstream_ref == f"payout-fee:{T}:po_123"
        assert (expense.body["AccountRef"], expense.body["TotalAmt"]) == ({"value": "35"}, "14.80")
        assert deposit.expected_total - expense.expected_total == Decimal("485.20")  # type: ignore[operator]

    def test_unmapped_category_without_default_is_a_mapping_error_naming_it_PAY_9(self) -> None:
        r = studio(default_account=None, categories={"Class packs": {"account": "401"}})
        (error,) = r.errors(payout([("Class packs", "1.00"), ("Workshops", "2.00")], "0", "3.00"))
        assert error.category is ErrorCategory.MAPPING
        assert "Workshops" in error.cause
        assert "Class packs" not in error.cause.split(":")[1]
        assert r.mappings[-1].commands == []

    def test_payout_without_payout_settings_is_a_mapping_error_PAY_8(self) -> None:
        (error,) = run().errors(make_payout_settled())
        assert (error.category, error.retriable) == (ErrorCategory.MAPPING, True)

    def test_same_payout_twice_is_one_deposit_PAY_8(self) -> None:
        r = studio()
        assert len(r.commands(make_payout_settled())) == 1
        assert r.commands(make_payout_settled()) == []

    def test_payout_before_export_from_is_not_sent_SET_2(self) -> None:
        r = run(payouts=PAYOUTS, export_from="2026-12-01")
        assert r.commands(make_payout_settled()) == []

    def test_foreign_payout_carries_currency_and_rate_CUR_2(self) -> None:
        event = make_payout_settled(data={"currency": "EUR", "exchange_rate": "1.08"})
        (command,) = studio().commands(event)
        assert (command.body["CurrencyRef"], command.body["ExchangeRate"]) == (
            {"value": "EUR"},
            "1.08",
        )


class TestDepositTargets:
    @pytest.mark.parametrize(
        ("field", "account", "message"),
        [
            (
                "payouts.deposit_account",
                "77",
                "account 77 'Payments in transit' is of type Other Current Liability, "
                "a clearing/liability account",
            ),
            (
                "payouts.categories.Class packs.account",
                "77",
                "account 77 'Payments in transit' is of type Other Current Liability",
            ),
            ("payouts.default_account", "35", "account 35 'Checking' is of type Bank"),
        ],
    )
    def test_clearing_or_liability_target_is_refused_naming_account_and_type_PAY_10(
        self, field: str, account: str, message: str
    ) -> None:
        payouts: dict[str, Any] = {**PAYOUTS}
        if field == "payouts.deposit_account":
            payouts["deposit_account"] = account
        elif field == "payouts.default_account":
            payouts["default_account"] = account
        else:
            payouts["categories"] = {"Class packs": {"account": account}}
        problems = validate_document(settings_document(payouts=payouts, accounts=ACCOUNTS))
        assert isinstance(problems, list)
        assert [p.field for p in problems] == [field]
        assert problems[0].message.startswith(message)

    def test_check_is_a_pure_function_any_account_type_source_can_feed_PAY_10(self) -> None:
        types = {
            "1": AccountInfo(name="Checking", type=AccountType.BANK),
            "2": AccountInfo(name="Payments in transit", type=AccountType.OTHER_CURRENT_LIABILITY),
            "3": AccountInfo(name="Undeposited Funds", type=AccountType.OTHER_CURRENT_ASSET),
            "4": AccountInfo(name="Fees", type=AccountType.EXPENSE),
        }
        targets = [
            ("a", "1", TargetRole.DEPOSIT_TO),
            ("b", "2", TargetRole.DEPOSIT_TO),
            ("c", "3", TargetRole.REVENUE_LINE),
            ("d", "4", TargetRole.REVENUE_LINE),
            ("e", "4", TargetRole.FEE),
            ("f", "unknown", TargetRole.DEPOSIT_TO),
        ]
        assert [p.field for p in deposit_target_problems(targets, types)] == ["b", "d"]

    def test_payouts_need_a_fee_account_and_mapped_categories_PAY_8_PAY_9(self) -> None:
        problems = validate_document(
            settings_document(
                fee_account=None,
                payouts={"deposit_account": "35", "categories": {"Packs": {"class": "1"}}},
            )
        )
        assert isinstance(problems, list)
        assert {p.field for p in problems} == {"payouts.categories.Packs", "fee_account"}
