"""Journal mode, pure rules (JRN-1..JRN-6): AR vs Deposits by reservation balance, FIFO."""

from datetime import date
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from qbsync_contracts.events import LedgerKind
from qbsync_core.errors import ErrorCategory
from qbsync_mapper.rules.journal import (
    JournalLine,
    Leg,
    Posting,
    Side,
    entry_body,
    is_balanced,
    ledger_lines,
    signed,
    split,
    summarise,
)
from qbsync_mapper.tenants import JournalSettings

from tests.fixtures.events import make_envelope
from tests.mapper.helpers import run

D = Decimal
AR, DEP, CASH, CARD, ROOMS, FNB, TAX, ADJ = (
    "1200",
    "2400",
    "1000",
    "1010",
    "4000",
    "4100",
    "2200",
    "4900",
)
JOURNAL: dict[str, Any] = {
    "accounts_receivable": AR,
    "deposits": DEP,
    "ar_customer": "Hóspedes",
    "revenue_accounts": {"Rooms": ROOMS, "F&B": FNB},
    "default_revenue_account": ROOMS,
    "tax_account": TAX,
    "payment_accounts": {"card": CARD},
    "default_payment_account": CASH,
    "adjustment_account": ADJ,
}
SETTINGS = JournalSettings.model_validate(JOURNAL)
DEBIT, CREDIT = Posting.DEBIT, Posting.CREDIT


def ledger(kind: str, amount: str, *, reservation: str = "res-1", **data: Any) -> dict[str, Any]:
    body = {
        "ref": f"l-{kind}-{amount}",
        "reservation_ref": reservation,
        "kind": kind,
        "amount": amount,
        "currency": "USD",
        "posted_at": "2026-11-20T23:30:00+00:00",
    }
    body.update(data)
    return make_envelope("ledger.posted", body, source="cloudbeds")


class TestSplit:
    def test_the_four_worked_examples_line_by_line_and_balance_by_balance_JRN_4(self) -> None:
        cases = [
            # (example, kind, amount, balance before, balance after, lines)
            ("a", LedgerKind.PAYMENT, "100", "0", "-100", [(CASH, DEBIT), (DEP, CREDIT)]),
            ("b", LedgerKind.REVENUE, "100", "-100", "0", [(ROOMS, CREDIT), (DEP, DEBIT)]),
            ("c", LedgerKind.REVENUE, "100", "0", "100", [(ROOMS, CREDIT), (AR, DEBIT)]),
            ("d", LedgerKind.PAYMENT, "100", "100", "0", [(CASH, DEBIT), (AR, CREDIT)]),
        ]
        for example, kind, amount, before, after, expected in cases:
            balance, lines = ledger_lines(SETTINGS, D(before), kind, D(amount), category="Rooms")
            assert balance == D(after), example
            assert [(line.account, line.posting, line.amount) for line in lines] == [
                (account, posting, D(amount)) for account, posting in expected
            ], example
            assert is_balanced(lines), example

    def test_an_amount_crossing_zero_is_split_between_deposits_and_ar_JRN_4(self) -> None:
        # Revenue 150 on a prepaid 100: 100 uses up the deposit, 50 is owed.
        assert split(D(-100), D(150), raises=True) == (
            D(50),
            [Leg(Side.DEPOSITS, DEBIT, D(100)), Leg(Side.AR, DEBIT, D(50))],
        )
        # Payment 150 on an owed 100: 100 clears AR, 50 is a deposit.
        assert split(D(100), D(150), raises=False) == (
            D(-50),
            [Leg(Side.AR, CREDIT, D(100)), Leg(Side.DEPOSITS, CREDIT, D(50))],
        )
        balance, lines = ledger_lines(SETTINGS, D(-100), LedgerKind.REVENUE, D(150))
        assert balance == D(50)
        assert [(x.account, x.posting, x.amount, x.customer) for x in lines] == [
            (ROOMS, CREDIT, D(150), False),
            (DEP, DEBIT, D(100), False),
            (AR, DEBIT, D(50), True),
        ]

    def test_fifo_sequence_on_one_reservation_balance_by_balance_JRN_4(self) -> None:
        steps = [
            (LedgerKind.PAYMENT, "200", "-200", [(DEP, CREDIT, "200")]),
            (LedgerKind.REVENUE, "120", "-80", [(DEP, DEBIT, "120")]),
            (LedgerKind.TAX, "30", "-50", [(DEP, DEBIT, "30")]),
            (LedgerKind.REVENUE, "120", "70", [(DEP, DEBIT, "50"), (AR, DEBIT, "70")]),
            (LedgerKind.ADJUSTMENT, "20", "50", [(AR, CREDIT, "20")]),
            (LedgerKind.PAYMENT, "60", "-10", [(AR, CREDIT, "50"), (DEP, CREDIT, "10")]),
            (LedgerKind.REFUND, "10", "0", [(DEP, DEBIT, "10")]),
        ]
        balance = D(0)
        for kind, amount, after, legs in steps:
            balance, lines = ledger_lines(SETTINGS, balance, kind, D(amount))
            assert balance == D(after), (kind, amount)
            assert [(x.account, x.posting, x.amount) for x in lines[1:]] == [
                (a, p, D(v)) for a, p, v in legs
            ]
            assert is_balanced(lines)

    def test_each_kind_has_its_own_counter_account(self) -> None:
        cases = [
            (LedgerKind.REVENUE, {"category": "F&B"}, (FNB, CREDIT)),
            (LedgerKind.REVENUE, {"category": "Spa"}, (ROOMS, CREDIT)),
            (LedgerKind.TAX, {}, (TAX, CREDIT)),
            (LedgerKind.FEE, {}, (ROOMS, CREDIT)),
            (LedgerKind.PAYMENT, {"method": "card"}, (CARD, DEBIT)),
            (LedgerKind.PAYMENT, {"method": "cash"}, (CASH, DEBIT)),
            (LedgerKind.REFUND, {"method": "card"}, (CARD, CREDIT)),
            (LedgerKind.ADJUSTMENT, {}, (ADJ, DEBIT)),
        ]
        for kind, extra, expected in cases:
            _, lines = ledger_lines(SETTINGS, D(0), kind, D(5), **extra)
            assert (lines[0].account, lines[0].posting) == expected, kind


class TestDailyEntry:
    def test_summary_lines_per_account_net_and_balance_JRN_1_JRN_2(self) -> None:
        lines = [
            JournalLine(CASH, DEBIT, D("100")),
            JournalLine(DEP, CREDIT, D("100")),
            JournalLine(ROOMS, CREDIT, D("80")),
            JournalLine(DEP, DEBIT, D("80")),
            JournalLine(CASH, DEBIT, D("5")),
            JournalLine(AR, CREDIT, D("5"), True),
        ]
        summary = summarise(lines)
        assert summary == [
            JournalLine(CASH, DEBIT, D("105")),
            JournalLine(DEP, CREDIT, D("20")),
            JournalLine(ROOMS, CREDIT, D("80")),
            JournalLine(AR, CREDIT, D("5"), True),
        ]
        assert is_balanced(summary)
        body = entry_body(
            date(2026, 11, 20),
            0,
            summary,
            customer_ref="customer:t:journal:USD",
            currency={},
        )
        assert (body["TxnDate"], body["DocNumber"]) == ("2026-11-20", "J20261120")
        ar_line = body["Line"][3]["JournalEntryLineDetail"]
        assert ar_line["Entity"] == {
            "Type": "Customer",
            "EntityRef": {"$ref": "customer:t:journal:USD"},
        }
        assert [line["Amount"] for line in body["Line"]] == ["105.00", "20.00", "80.00", "5.00"]

    def test_ledger_event_is_folded_into_its_business_day_in_tenant_time_JRN_1(self) -> None:
        r = run(journal=JOURNAL, time_zone="America/Sao_Paulo")
        assert r.commands(ledger("payment", "100")) == []  # nothing until the day ends
        (pending,) = r.state.journal_lines
        # 23:30 UTC is 20:30 in São Paulo: still the 20th; in Tokyo it is the 21st.
        assert pending.day.isoformat() == "2026-11-20"
        assert r.state.reservations["res-1"].balance == D(-100)
        tokyo = run(journal=JOURNAL, time_zone="Asia/Tokyo")
        tokyo.map(ledger("payment", "100"))
        assert tokyo.state.journal_lines[0].day.isoformat() == "2026-11-21"

    def test_cash_register_postings_are_out_of_scope_JRN_6(self) -> None:
        r = run(journal=JOURNAL)
        r.map(ledger("payment", "40", method="cash_register"))
        assert (r.state.journal_lines, r.mappings[-1].outcome) == ([], "skipped:cash-register")

    def test_ledger_event_without_journal_settings_is_a_mapping_error_JRN_1(self) -> None:
        (error,) = run().errors(ledger("revenue", "10"))
        assert (error.category, error.retriable) == (ErrorCategory.MAPPING, True)

    def test_opening_balance_seeds_the_reservation_position_JRN_5(self) -> None:
        r = run(journal=JOURNAL)
        opening = {"reservation_ref": "res-9", "balance": "-250.00", "currency": "USD"}
        r.map(make_envelope("ledger.opening_balance", {**opening, "as_of": "2026-11-19"}))
        assert r.state.journal_lines == []  # already in QBO: nothing posted
        r.map(ledger("revenue", "300", reservation="res-9"))
        lines = [JournalLine.from_json(x) for x in r.state.journal_lines[0].lines]
        assert [(x.account, x.posting, x.amount) for x in lines] == [
            (ROOMS, CREDIT, D(300)),
            (DEP, DEBIT, D(250)),
            (AR, DEBIT, D(50)),
        ]

    def test_opening_balance_after_postings_is_refused_JRN_5(self) -> None:
        r = run(journal=JOURNAL)
        r.map(ledger("revenue", "10"))
        opening = {"reservation_ref": "res-1", "balance": "5", "currency": "USD"}
        (error,) = r.errors(
            make_envelope("ledger.opening_balance", {**opening, "as_of": "2026-11-19"})
        )
        assert error.category is ErrorCategory.VALIDATION
        assert r.state.reservations["res-1"].balance == D(10)


KINDS = list(LedgerKind)
postings = st.lists(
    st.tuples(
        st.integers(0, 4),  # reservation
        st.sampled_from(KINDS),
        st.integers(1, 100_000).map(lambda cents: D(cents) / 100),
        st.integers(0, 6),  # business day
    ),
    max_size=60,
)
openings = st.dictionaries(
    st.integers(0, 4), st.integers(-50_000, 50_000).map(lambda c: D(c) / 100), max_size=5
)


@settings(max_examples=300, deadline=None)
@given(openings, postings)
def test_every_day_balances_and_all_entries_equal_the_final_positions_JRN_2_JRN_4(
    opening: dict[int, Decimal], events: list[tuple[int, LedgerKind, Decimal, int]]
) -> None:
    balances = dict(opening)
    days: dict[int, list[JournalLine]] = {}
    for reservation, kind, amount, day in events:
        balances[reservation], lines = ledger_lines(
            SETTINGS, balances.get(reservation, D(0)), kind, amount, method="card"
        )
        days.setdefault(day, []).extend(lines)
    entries = {day: summarise(lines) for day, lines in days.items()}
    assert all(is_balanced(entry) for entry in entries.values())

    # Independently: each reservation's final balance is its opening plus charges and
    # refunds minus payments and adjustments; AR holds the owed parts, Deposits the prepaid.
    final = dict(opening)
    for reservation, kind, amount, _ in events:
        sign = (
            1
            if kind in {LedgerKind.REVENUE, LedgerKind.TAX, LedgerKind.FEE, LedgerKind.REFUND}
            else -1
        )
        final[reservation] = final.get(reservation, D(0)) + sign * amount

    def position(balances: dict[int, Decimal], owed: bool) -> Decimal:
        return sum((max(b if owed else -b, D(0)) for b in balances.values()), D(0))

    def net(account: str) -> Decimal:
        return sum(
            (signed(x) for entry in entries.values() for x in entry if x.account == account), D(0)
        )

    assert net(AR) == position(final, True) - position(opening, True)
    assert -net(DEP) == position(final, False) - position(opening, False)
