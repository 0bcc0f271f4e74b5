"""A week of a studio paid through Stripe (Momence): daily payouts, fees, a refund."""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from qbsync_dev.demo.model import JSON, TenantEvents, cents, money
from qbsync_dev.demo.tenants import HOME_CURRENCY, STUDIO

ZONE = ZoneInfo("America/New_York")
PRICES = {
    "Class packs": Decimal("120.00"),
    "Recurring memberships": Decimal("89.00"),
    "Virtual classes": Decimal("15.00"),
    "In-person classes": Decimal("25.00"),
}
UNMAPPED = "Workshops"
"""A new revenue category the studio has not mapped yet (PAY-9: Mapping error)."""


def stripe_fee(amount: Decimal) -> Decimal:
    """Stripe's card fee: 2.9 % + 0.30, to the cent."""
    return cents(amount * Decimal("0.029") + Decimal("0.30"))


def studio_week(rng: random.Random, start: date, days: int, per_day: int) -> TenantEvents:
    """One payout a day of `per_day` bookings; a dispute fee, a refund, an unmapped payout."""
    out = TenantEvents(STUDIO, "momence")
    charges = 0

    def at(day: int, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(start + timedelta(days=day), time(hour, minute), ZONE)

    for day in range(days):
        lines: list[JSON] = []
        for _ in range(per_day):
            charges += 1
            category = rng.choice(tuple(PRICES))
            lines.append(
                {
                    "revenue_category": category,
                    "amount": money(PRICES[category]),
                    "payment_ref": f"ch_{charges:05d}",
                }
            )
        if day == min(2, days - 1):
            charges += 1
            workshop = {"revenue_category": UNMAPPED, "amount": "180.00"}
            lines.append({**workshop, "payment_ref": f"ch_{charges:05d}"})
        fees = sum((stripe_fee(Decimal(x["amount"])) for x in lines), Decimal(0))
        gross = sum((Decimal(x["amount"]) for x in lines), Decimal(0))
        ref = f"po_{start:%m%d}{day:02d}"
        out.add(
            "payout.settled",
            at(day, 9),
            {
                "ref": ref,
                "processor": "stripe",
                "currency": HOME_CURRENCY,
                "arrival_date": (start + timedelta(days=day)).isoformat(),
                "lines": lines,
                "fees": money(fees),
                "net": money(gross - fees),
            },
        )
        # Stripe also reports the payout's fees one by one; the payout already carries them.
        out.add(
            "fee.charged",
            at(day, 9, 1),
            {
                "ref": f"fee_{ref}",
                "currency": HOME_CURRENCY,
                "amount": money(fees),
                "processor": "stripe",
                "charged_at": at(day, 9, 1).isoformat(),
                "payout_ref": ref,
            },
        )
    last = days - 1
    out.add(
        "fee.charged",
        at(min(3, last), 14),
        {
            "ref": "fee_dispute_0001",
            "currency": HOME_CURRENCY,
            "amount": "15.00",
            "processor": "stripe",
            "charged_at": at(min(3, last), 14).isoformat(),
            "description": "Dispute fee",
        },
    )
    out.add(
        "payment.refunded",
        at(min(4, last), 10),
        {
            "ref": "re_0001",
            "currency": HOME_CURRENCY,
            "amount": "25.00",
            "method": "card",
            "refunded_at": at(min(4, last), 10).isoformat(),
            "original_payment_ref": "ch_00001",
        },
    )
    out.ordered()
    return out
