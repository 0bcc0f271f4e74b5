"""A week of a hotel in journal mode (Cloudbeds): ledger postings per reservation."""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from qbsync_dev.demo.model import TenantEvents, cents, money
from qbsync_dev.demo.tenants import HOME_CURRENCY, JOURNAL_HOTEL, JOURNAL_ZONE

ZONE = ZoneInfo(JOURNAL_ZONE)
RATES = (Decimal("95.00"), Decimal("130.00"), Decimal("175.50"))
BREAKFAST = Decimal("12.00")
TAX_RATE = Decimal("0.06")


@dataclass
class JournalWeek:
    """Builds the journal hotel's ledger events; `owed` tracks each reservation's balance."""

    rng: random.Random
    start: date
    days: int
    out: TenantEvents = field(default_factory=lambda: TenantEvents(JOURNAL_HOTEL, "cloudbeds"))
    refs: int = 0
    reservations: int = 0

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        """A moment of day `day` of the week, hotel time."""
        return datetime.combine(self.start + timedelta(days=day), time(hour, minute), ZONE)

    def post(
        self,
        reservation: str,
        kind: str,
        amount: Decimal,
        when: datetime,
        *,
        category: str | None = None,
        method: str | None = None,
        currency: str = HOME_CURRENCY,
    ) -> None:
        """One ledger.posted event."""
        self.refs += 1
        data = {
            "ref": f"l-{self.refs:04d}",
            "reservation_ref": reservation,
            "kind": kind,
            "amount": money(amount),
            "currency": currency,
            "posted_at": when.isoformat(),
        }
        if category:
            data["category"] = category
        if method:
            data["method"] = method
        self.out.add("ledger.posted", when, data)

    def stay(self, arrival: int, *, opening: Decimal | None = None, slot: int = 0) -> str:
        """One reservation: maybe a deposit, nightly room + tax (+ breakfast), checkout payment."""
        self.reservations += 1
        res = f"res-{self.reservations:03d}"
        nights = self.rng.randint(1, 3)
        rate = self.rng.choice(RATES)
        owed = Decimal(0)
        if opening is not None:
            self.out.add(
                "ledger.opening_balance",
                self.at(0, 0, slot),
                {
                    "reservation_ref": res,
                    "balance": money(opening),
                    "currency": HOME_CURRENCY,
                    "as_of": (self.start - timedelta(days=1)).isoformat(),
                },
            )
            owed = opening
        elif self.rng.random() < 0.5:
            deposit = rate  # first night prepaid: Deposits, not AR (JRN-4 a/b)
            self.post(res, "payment", deposit, self.at(max(arrival - 1, 0), 9, slot), method="card")
            owed -= deposit
        breakfast = self.rng.random() < 0.6
        for night in range(arrival, min(arrival + nights, self.days)):
            self.post(res, "revenue", rate, self.at(night, 22, slot), category="Rooms")
            tax = cents(rate * TAX_RATE)
            self.post(res, "tax", tax, self.at(night, 22, slot + 1))
            owed += rate + tax
            if breakfast and night > arrival:
                self.post(res, "revenue", BREAKFAST, self.at(night, 8, slot), category="F&B")
                owed += BREAKFAST
        checkout = arrival + nights
        if checkout < self.days and owed > 0:
            method = self.rng.choice(("card", "card", "cash"))
            self.post(res, "payment", owed, self.at(checkout, 11, slot), method=method)
        return res

    def specials(self) -> None:
        """Opening balance, refund, adjustment, cash register, a foreign posting."""
        last = self.days - 1
        # JRN-5: in house since before the week, owing 240.00.
        self.stay(0, opening=Decimal("240.00"), slot=40)
        # An overpayment refunded by card the next day (refund raises the balance).
        res = f"res-{self.reservations + 1:03d}"
        self.reservations += 1
        self.post(res, "revenue", Decimal("130.00"), self.at(0, 22, 45), category="Rooms")
        self.post(res, "payment", Decimal("155.00"), self.at(min(1, last), 11, 45), method="card")
        self.post(res, "refund", Decimal("25.00"), self.at(min(1, last), 15, 45), method="card")
        # A goodwill discount (adjustment lowers the balance).
        res = self.stay(min(1, last), slot=46)
        self.post(res, "adjustment", Decimal("20.00"), self.at(min(1, last), 23, 46))
        # JRN-6: a point-of-sale drawer sale, skipped.
        drawer = self.at(min(1, last), 20)
        self.post(res, "payment", Decimal("8.50"), drawer, method="cash_register")
        # A posting in EUR: journal mode posts the home currency only (Validation).
        self.post(
            res,
            "revenue",
            Decimal("30.00"),
            self.at(min(2, last), 21),
            category="F&B",
            currency="EUR",
        )


def journal_week(rng: random.Random, start: date, days: int, per_day: int) -> TenantEvents:
    """The journal hotel's week: `per_day` arrivals a day plus the special cases."""
    week = JournalWeek(rng, start, days)
    week.specials()
    for day in range(days):
        for slot in range(per_day):
            week.stay(day, slot=slot * 2)
    week.out.ordered()
    return week.out
