"""A week of a hotel in document mode (Clock PMS): folios, corrections, voids, payments.

Every special case the requirements name appears at least once, on fixed days, so a
reduced week still has them; the rest is drawn from the seeded random generator.
"""

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from qbsync_dev.demo.model import JSON, DeletedCustomer, TenantEvents, cents, money
from qbsync_dev.demo.tenants import HOME_CURRENCY, HOTEL, HOTEL_TAX_RATE

ZONE = ZoneInfo("Europe/Sofia")
GUESTS = (
    ("g-101", "Maria Ivanova", None),
    ("g-102", "Georgi Petrov", None),
    ("g-103", "Ana Sousa", None),
    ("g-104", "John O'Neil", None),  # a quote, escaped in QBO queries
    ("g-105", "Elena Dimitrova", "Balkan Tours Ltd"),
    ("g-106", "Lukas Schmidt", None),
    ("g-107", "Sofia Rossi", "Rossi & Figli"),
    ("g-108", "Nikolay Georgiev", None),
)
DELETED_GUEST = ("g-190", "Petar Kolev", None)
"""Synced first, then deleted in QBO by the demo; his next folio must be an Account error."""
KWD_GUEST = ("g-170", "Fahad Al-Sabah", None)
"""Pays in Kuwaiti dinars (3 decimals): refused at intake (CUR-1)."""
ROOMS = (("Standard", Decimal("120.00")), ("Suite", Decimal("210.00")))
BREAKFAST = Decimal("14.50")
MINIBAR = Decimal("6.75")
SPA = Decimal("85.00")


def customer(guest: tuple[str, str, str | None], currency: str = HOME_CURRENCY) -> JSON:
    """The contract's customer object of a guest (number = ref, CUS-3)."""
    ref, name, company = guest
    out: JSON = {
        "ref": ref,
        "name": name,
        "email": f"{ref}@guests.example",
        "number": ref.upper(),
        "currency": currency,
    }
    if company:
        out["company"] = company
    return out


def line(group: str, category: str, qty: int, price: Decimal, desc: str, tax: bool) -> JSON:
    """One folio line; `amount` = quantity x unit_price exactly (CUR-4)."""
    out: JSON = {
        "description": desc,
        "quantity": str(qty),
        "unit_price": money(price),
        "amount": money(price * qty),
        "revenue_group": group,
        "revenue_category": category,
    }
    if tax:
        out["tax_code"] = "VAT"
    return out


def totals(lines: list[JSON]) -> tuple[Decimal, Decimal]:
    """(tax, total): tax is the VAT rate on taxed lines, half up to cents, as QBO computes."""
    taxed = sum((Decimal(x["amount"]) for x in lines if x.get("tax_code")), Decimal(0))
    tax = cents(taxed * HOTEL_TAX_RATE / 100)
    return tax, sum((Decimal(x["amount"]) for x in lines), Decimal(0)) + tax


@dataclass
class HotelWeek:
    """Builds the hotel's events day by day."""

    rng: random.Random
    start: date
    days: int
    out: TenantEvents = field(default_factory=lambda: TenantEvents(HOTEL, "clock-pms"))
    number: int = 1000
    refs: int = 0

    def at(self, day: int, hour: int, minute: int = 0) -> datetime:
        """A moment of day `day` of the week, hotel time."""
        return datetime.combine(self.start + timedelta(days=day), time(hour, minute), ZONE)

    def next_ref(self, prefix: str) -> str:
        """A new upstream reference."""
        self.refs += 1
        return f"{prefix}-{self.refs:04d}"

    def folio(
        self,
        day: int,
        guest: tuple[str, str, str | None],
        *,
        extra: list[JSON] | None = None,
        currency: str = HOME_CURRENCY,
        later: bool = False,
        minute: int = 0,
    ) -> JSON:
        """Close a folio on `day`: invoice.issued with rooms, breakfast, maybe minibar."""
        self.number += 1
        nights = self.rng.randint(1, 3)
        category, rate = self.rng.choice(ROOMS)
        lines = [line("Rooms", category, nights, rate, f"{category} room, {nights} night(s)", True)]
        if self.rng.random() < 0.7:
            lines.append(line("F&B", "Breakfast", nights, BREAKFAST, "Breakfast", False))
        if self.rng.random() < 0.4:
            qty = self.rng.randint(1, 4)
            lines.append(line("F&B", "Minibar", qty, MINIBAR, "Minibar", False))
        lines.extend(extra or [])
        tax, total = totals(lines)
        data: JSON = {
            "ref": f"folio-{self.number}",
            "number": str(self.number),
            "customer": customer(guest, currency),
            "currency": currency,
            "issue_date": (self.start + timedelta(days=day)).isoformat(),
            "due_date": (self.start + timedelta(days=day + 14)).isoformat(),
            "lines": lines,
            "tax_total": money(tax),
            "total": money(total),
        }
        self.out.add("invoice.issued", self.at(day, 11, minute), data, later=later)
        return data

    def pay(self, folio: JSON, amount: Decimal, when: datetime, method: str = "card") -> str:
        """payment.received for a folio (before its close it is held: PAY-3)."""
        ref = self.next_ref("pay")
        data = {
            "ref": ref,
            "customer": folio["customer"],
            "currency": folio["currency"],
            "amount": money(amount),
            "method": method,
            "received_at": when.isoformat(),
            "invoice_ref": folio["ref"],
        }
        self.out.add("payment.received", when, data)
        return ref

    def refund(self, folio: JSON, payment_ref: str, amount: Decimal, when: datetime) -> str:
        """payment.refunded by card (PAY-4)."""
        ref = self.next_ref("rf")
        data = {
            "ref": ref,
            "customer": folio["customer"],
            "currency": folio["currency"],
            "amount": money(amount),
            "method": "card",
            "refunded_at": when.isoformat(),
            "original_payment_ref": payment_ref,
        }
        self.out.add("payment.refunded", when, data)
        return ref

    def ordinary(self, day: int, slot: int) -> JSON:
        """A folio with a random payment pattern: deposit + rest, at checkout, later, or open."""
        folio = self.folio(day, self.rng.choice(GUESTS), minute=slot * 5)
        total = Decimal(folio["total"])
        pattern = self.rng.choice(("deposit", "checkout", "checkout", "later", "open"))
        method = self.rng.choice(("card", "card", "cash"))
        if pattern == "deposit":
            first = Decimal(folio["lines"][0]["unit_price"])  # one night, before arrival
            self.pay(folio, first, self.at(day, 8, slot), method)
            self.pay(folio, total - first, self.at(day, 12, slot), "card")
        elif pattern == "checkout":
            self.pay(folio, total, self.at(day, 12, slot), method)
        elif pattern == "later" and day + 1 < self.days:
            self.pay(folio, total, self.at(day + 1, 16, slot), "card")
        return folio

    def specials(self) -> DeletedCustomer:
        """The cases every week must show, on its first three days."""
        last = self.days - 1
        d1, d2 = 1, 2
        # DOC-2: a folio edited after posting (minibar found), then paid in full.
        issued = self.folio(0, GUESTS[0], minute=50)
        lines = [*issued["lines"], line("F&B", "Minibar", 2, MINIBAR, "Minibar", False)]
        tax, total = totals(lines)
        edited = {**issued, "lines": lines, "tax_total": money(tax), "total": money(total)}
        self.out.add("invoice.updated", self.at(0, 11, 55), edited)
        self.pay(edited, total, self.at(0, 12, 55))
        # DOC-6: a negative correction (breakfast not taken), less than the open balance,
        # and its void later, which QBO cannot do through the API (DOC-8).
        corrected = self.folio(
            d1,
            GUESTS[1],
            extra=[line("F&B", "Breakfast", 2, BREAKFAST, "Breakfast", False)],
            minute=50,
        )
        credit = {
            "ref": f"{corrected['ref']}-c1",
            "number": f"{corrected['number']}-C1",
            "customer": corrected["customer"],
            "currency": HOME_CURRENCY,
            "issue_date": (self.start + timedelta(days=d2)).isoformat(),
            "lines": [line("F&B", "Breakfast", 1, BREAKFAST, "Breakfast not taken", False)],
            "tax_total": "0.00",
            "total": money(BREAKFAST),
            "credited_invoice_ref": corrected["ref"],
        }
        self.out.add("credit_note.issued", self.at(d2, 9), credit)
        self.out.add("credit_note.voided", self.at(last, 18), {"ref": credit["ref"]})
        # DOC-6: a positive correction folio for a late minibar charge.
        late = self.folio(d1, GUESTS[2], minute=52)
        extra = [line("F&B", "Minibar", 3, MINIBAR, "Minibar (late charge)", False)]
        tax, total = totals(extra)
        self.out.add(
            "invoice.issued",
            self.at(d2, 10),
            {
                **late,
                "ref": f"{late['ref']}-1",
                "number": f"{late['number']}-1",
                "issue_date": (self.start + timedelta(days=d2)).isoformat(),
                "lines": extra,
                "tax_total": money(tax),
                "total": money(total),
            },
        )
        # DOC-7: a paid folio voided in the evening (its payment is voided too).
        voided = self.folio(d1, GUESTS[3], minute=54)
        self.pay(voided, Decimal(voided["total"]), self.at(d1, 12, 54))
        self.out.add("invoice.voided", self.at(d2, 19), {"ref": voided["ref"]})
        # PAY-4: a refund kept, and a refund voided (its Expense deleted, PAY-5).
        refunded = self.folio(d1, GUESTS[4], minute=56)
        paid = self.pay(refunded, Decimal(refunded["total"]), self.at(d1, 12, 56))
        self.refund(refunded, paid, Decimal("20.00"), self.at(d2, 15))
        undone = self.refund(refunded, paid, Decimal("15.00"), self.at(d2, 16))
        self.out.add("payment.voided", self.at(d2, 20), {"ref": undone})
        # CUR-1: a guest billed in KWD (3 decimals) is refused at intake.
        kwd = {
            "description": "Standard room, 1 night",
            "quantity": "1",
            "unit_price": "38.250",
            "amount": "38.250",
            "revenue_group": "Rooms",
            "revenue_category": "Standard",
        }
        self.number += 1
        self.out.add(
            "invoice.issued",
            self.at(d1, 13),
            {
                "ref": f"folio-{self.number}",
                "number": str(self.number),
                "customer": customer(KWD_GUEST, "KWD"),
                "currency": "KWD",
                "issue_date": (self.start + timedelta(days=d1)).isoformat(),
                "lines": [kwd],
                "total": "38.250",
            },
        )
        # SET-4: a spa treatment; the hotel has not mapped the Spa revenue group yet.
        spa = line("Spa", "Massage", 1, SPA, "Massage 60 min", False)
        self.folio(d2, GUESTS[5], extra=[spa], minute=58)
        # CUS-7: a guest synced, deleted in QBO, then billed again.
        synced = self.folio(0, DELETED_GUEST, minute=58)
        self.folio(last, DELETED_GUEST, later=True, minute=59)
        name = f"{DELETED_GUEST[1]}/{HOME_CURRENCY}"
        return DeletedCustomer(HOTEL, DELETED_GUEST[0], name, synced["number"])


def hotel_week(
    rng: random.Random, start: date, days: int, per_day: int
) -> tuple[TenantEvents, DeletedCustomer]:
    """The hotel's week: `per_day` ordinary folios a day plus the special cases."""
    if days < 3:
        raise ValueError("the hotel's special cases need at least three days")
    week = HotelWeek(rng, start, days)
    deleted = week.specials()
    for day in range(days):
        for slot in range(per_day):
            week.ordinary(day, slot)
    week.out.ordered()
    return week.out, deleted
