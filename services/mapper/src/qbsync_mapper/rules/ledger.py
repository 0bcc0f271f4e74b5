"""Journal-mode events: `ledger.posted` and `ledger.opening_balance` (JRN-1..JRN-6).

Mapping a ledger event posts nothing by itself: it moves the reservation's balance
and appends the posting's balanced lines to its business day. The day's
JournalEntry is built when the day has ended and the tenant's export window opens
(`qbsync_mapper.exports`); lines for a day already posted become an adjusting
entry for that day, so history is never rewritten silently (JRN-3).
"""

from qbsync_contracts.events import LedgerOpeningBalance, LedgerPosted
from qbsync_core.errors import ErrorCategory

from qbsync_mapper.rules.core import Mapping, money
from qbsync_mapper.rules.journal import ledger_lines
from qbsync_mapper.rules.schedule import business_day
from qbsync_mapper.rules.state import PendingLine


def _journal_ready(m: Mapping, currency: str) -> bool:
    if m.settings.journal is None:
        m.fail(
            ErrorCategory.MAPPING,
            "A journal-mode ledger event arrived, and the tenant settings have no journal "
            "section (AR, Deposits, revenue, tax and payment accounts). Add one, then resync.",
            code="no-journal-settings",
            field="type",
        )
        return False
    if currency != m.settings.home_currency:
        m.fail(
            ErrorCategory.VALIDATION,
            f"Journal mode posts in the home currency {m.settings.home_currency}; this "
            f"ledger event is in {currency} and carries no exchange rate.",
            code="journal-foreign-currency",
            field="data.currency",
        )
        return False
    return True


def _already_applied(m: Mapping) -> bool:
    # A resync (or a second one) replays an event past the processed-event check;
    # folding it again would move the balance and append its lines twice (JRN-2, JRN-4).
    key = (m.event.source, m.event.event_id)
    if key in m.state.ledger_applied:
        m.skip("ledger-already-applied")
        return True
    return False


def _applied(m: Mapping) -> None:
    key = (m.event.source, m.event.event_id)
    m.state.ledger_applied.add(key)
    m.state.ledger_new.append(key)
    m.outcome = "journal"


def map_ledger(m: Mapping, event: LedgerPosted) -> None:
    """Fold one ledger posting into its business day (JRN-1, JRN-2, JRN-4, JRN-6).

    Idempotent per event: a posting already folded in is skipped.
    """
    data = event.data
    if _already_applied(m) or not _journal_ready(m, data.currency):
        return
    journal = m.settings.journal
    assert journal is not None
    if data.method and data.method in journal.cash_register_methods:
        # JRN-6: point-of-sale drawer money is not a reservation posting.
        m.skip("cash-register")
        return
    day = business_day(data.posted_at, m.settings.zone)
    if m.before_export_window(day):
        m.skip("before-export-from")
        return
    reservation = m.state.reservation(data.reservation_ref, data.currency)
    reservation.balance, lines = ledger_lines(
        journal,
        reservation.balance,
        data.kind,
        data.amount,
        category=data.category,
        method=data.method,
    )
    reservation.active = True
    m.state.journal_lines.append(
        PendingLine(day, data.currency, event.event_id, [line.as_json() for line in lines])
    )
    _applied(m)


def map_opening(m: Mapping, event: LedgerOpeningBalance) -> None:
    """Seed a reservation's AR/Deposits position from the upstream's reports (JRN-5).

    The opening position is already in QBO (the operator's opening entry, built from
    the outstanding-balances and deposit-ledger reports), so nothing is posted: the
    balance only decides where the reservation's next postings go.
    """
    data = event.data
    if _already_applied(m) or not _journal_ready(m, data.currency):
        return
    reservation = m.state.reservation(data.reservation_ref, data.currency)
    if reservation.active:
        m.fail(
            ErrorCategory.VALIDATION,
            f"Opening balance {money(data.balance)} for reservation {data.reservation_ref} "
            "arrived after postings on it; it was not applied (its balance is "
            f"{money(reservation.balance)}).",
            code="opening-after-postings",
            field="data.reservation_ref",
        )
        return
    reservation.balance = data.balance
    reservation.active = True
    _applied(m)
