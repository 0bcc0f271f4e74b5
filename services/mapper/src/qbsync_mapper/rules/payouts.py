"""Processor fees and payouts: PAY-7 (fee Expense) and PAY-8..PAY-10 (one Deposit per payout)."""

from decimal import Decimal
from typing import Any

from qbsync_contracts.events import FeeCharged, PayoutSettled
from qbsync_core.commands import Entity, Operation
from qbsync_core.errors import ErrorCategory

from qbsync_mapper.rules.core import Mapping, money
from qbsync_mapper.rules.currency import currency_fields
from qbsync_mapper.rules.state import DocKind, DocState, DocStatus
from qbsync_mapper.tenants import FeeMode, PayoutSettings

EXPENSE = ErrorCategory.EXPENSE
CENT = Decimal("0.01")


def _fee_paid_from(m: Mapping) -> str:
    """The bank the fee leaves: the payout deposit account, else the default deposit account."""
    payouts = m.settings.payouts
    return payouts.deposit_account if payouts else m.settings.deposit_accounts.default


def _fee_purchase(
    m: Mapping, fee_account: str, amount: Decimal, day: str, note: str, currency: dict[str, Any]
) -> dict[str, Any]:
    return {
        "PaymentType": "Cash",
        "AccountRef": {"value": _fee_paid_from(m)},
        "TxnDate": day,
        "TotalAmt": money(amount),
        "PrivateNote": note,
        **currency,
        "Line": [
            {
                "Amount": money(amount),
                "DetailType": "AccountBasedExpenseLineDetail",
                "AccountBasedExpenseLineDetail": {"AccountRef": {"value": fee_account}},
            }
        ],
    }


def _no_fee_account(m: Mapping, what: str) -> None:
    m.fail(
        ErrorCategory.MAPPING,
        f"{what} has processor fees, and the tenant settings have no fee_account. "
        "Add one, then resync.",
        code="no-fee-account",
        field="data",
    )


def map_fee(m: Mapping, event: FeeCharged) -> None:
    """A processor fee becomes an Expense (Purchase) on the fee account (PAY-7).

    A fee that names its payout is skipped for tenants with payout settings: the
    payout's `fees` already carries it (a negative line or the payout's fee Expense),
    and posting both would count the fee twice.
    """
    data = event.data
    if m.state.get(DocKind.FEE, data.ref) is not None:
        m.skip("fee-known")
        return
    if data.payout_ref and m.settings.payouts is not None:
        m.skip("fee-in-payout")
        return
    if m.before_export_window(data.charged_at.date()):
        m.skip("before-export-from")
        return
    fee_account = m.settings.fee_account
    if fee_account is None:
        _no_fee_account(m, f"Fee {data.ref}")
        return
    currency = currency_fields(m, data.currency, data.exchange_rate, EXPENSE)
    if currency is None:
        return
    note = f"{data.processor} fee {data.ref}"
    if data.description:
        note += f": {data.description}"
    day = data.charged_at.astimezone(m.settings.zone).date().isoformat()
    m.command(
        Operation.CREATE,
        Entity.PURCHASE,
        m.ref("fee", data.ref),
        EXPENSE,
        body=_fee_purchase(m, fee_account, data.amount, day, note[:4000], currency),
        expected_total=data.amount,
    )
    m.state.put(
        DocState(
            kind=DocKind.FEE,
            ref=data.ref,
            status=DocStatus.ISSUED,
            currency=data.currency,
            total=data.amount,
        )
    )


def _category_lines(
    m: Mapping, payouts: PayoutSettings, event: PayoutSettled
) -> list[dict[str, Any]] | None:
    """One Deposit line per revenue category, in first-seen order (micro-categories apart)."""
    totals: dict[str, Decimal] = {}
    for line in event.data.lines:
        totals[line.revenue_category] = totals.get(line.revenue_category, Decimal(0)) + line.amount
    out: list[dict[str, Any]] = []
    missing: list[str] = []
    for category, amount in totals.items():
        target = payouts.categories.get(category)
        account = (target.account if target else None) or payouts.default_account
        if account is None:
            missing.append(category)
            continue
        detail: dict[str, Any] = {"AccountRef": {"value": account}}
        if target is not None and target.class_:
            detail["ClassRef"] = {"value": target.class_}
        out.append(
            {
                "Amount": money(amount),
                "Description": category,
                "DetailType": "DepositLineDetail",
                "DepositLineDetail": detail,
            }
        )
    if missing:
        m.fail(
            ErrorCategory.MAPPING,
            f"Payout {event.data.ref} has revenue categories with no account: "
            f"{', '.join(missing)}. Map them under payouts.categories (or set "
            "payouts.default_account), then resync.",
            code="payout-category-unmapped",
            field="data.lines",
        )
        return None
    return out


def map_payout(m: Mapping, event: PayoutSettled) -> None:
    """One Deposit per payout: a line per revenue category, fees apart (PAY-8, PAY-9).

    Fees are a negative line on the fee account (`fees: line`) or a separate Expense
    from the deposit account (`fees: expense`). Either way the bank moves by exactly
    `net`, which is checked to the cent before anything is posted.
    """
    data = event.data
    payouts = m.settings.payouts
    if m.state.get(DocKind.PAYOUT, data.ref) is not None:
        m.skip("payout-known")
        return
    if m.before_export_window(data.arrival_date):
        m.skip("before-export-from")
        return
    if payouts is None:
        m.fail(
            ErrorCategory.MAPPING,
            f"Payout {data.ref} arrived, and the tenant settings have no payouts section "
            "(deposit account and category mapping). Add one, then resync.",
            code="no-payout-settings",
            field="data",
        )
        return
    fee_account = m.settings.fee_account
    if data.fees > 0 and fee_account is None:
        _no_fee_account(m, f"Payout {data.ref}")
        return
    lines = _category_lines(m, payouts, event)
    currency = currency_fields(m, data.currency, data.exchange_rate, ErrorCategory.PAYMENT)
    if lines is None or currency is None:
        return
    fee_line = payouts.fees is FeeMode.LINE and data.fees > 0
    if fee_line:
        lines.append(
            {
                "Amount": money(-data.fees),
                "Description": f"{data.processor} fees",
                "DetailType": "DepositLineDetail",
                "DepositLineDetail": {"AccountRef": {"value": fee_account}},
            }
        )
    deposit_total = sum((Decimal(line["Amount"]) for line in lines), Decimal(0))
    bank_moves = deposit_total - (Decimal(0) if fee_line else data.fees)
    if bank_moves != data.net.quantize(CENT):
        # Cannot happen for a valid event (ingest checks net = lines - fees); kept so a
        # change in line building can never post a deposit that differs from the bank's.
        m.fail(
            ErrorCategory.VALIDATION,
            f"Payout {data.ref}: the deposit would move {money(bank_moves)} {data.currency} "
            f"but the bank received {money(data.net)}.",
            code="payout-net-mismatch",
            field="data.net",
        )
        return
    payout_ref = m.ref("payout", data.ref)
    note = f"{data.processor} payout {data.ref}"
    m.command(
        Operation.CREATE,
        Entity.DEPOSIT,
        payout_ref,
        ErrorCategory.PAYMENT,
        body={
            "DepositToAccountRef": {"value": payouts.deposit_account},
            "TxnDate": data.arrival_date.isoformat(),
            "PrivateNote": note,
            **currency,
            "Line": lines,
        },
        expected_total=deposit_total,
    )
    if not fee_line and data.fees > 0:
        assert fee_account is not None
        m.command(
            Operation.CREATE,
            Entity.PURCHASE,
            m.ref("payout-fee", data.ref),
            EXPENSE,
            body=_fee_purchase(
                m, fee_account, data.fees, data.arrival_date.isoformat(), f"{note}: fees", currency
            ),
            expected_total=data.fees,
        )
    m.state.put(
        DocState(
            kind=DocKind.PAYOUT,
            ref=data.ref,
            status=DocStatus.ISSUED,
            currency=data.currency,
            total=data.net,
        )
    )
