"""The generated week: deterministic from a seed."""

import random
from dataclasses import replace
from datetime import date

from qbsync_dev.demo.gen_hotel import hotel_week
from qbsync_dev.demo.gen_journal import journal_week
from qbsync_dev.demo.gen_studio import studio_week
from qbsync_dev.demo.model import DemoWeek

DEFAULT_START = date(2026, 11, 16)
"""A Monday in the past: journal days are exported only once they have ended."""


def generate_week(
    seed: int = 7,
    *,
    start: date = DEFAULT_START,
    days: int = 7,
    per_day: int = 3,
    suffix: str = "",
) -> DemoWeek:
    """The demo's events for the three tenants; the same seed gives the same events.

    Args:
        seed: seed of the random generator (one per tenant, derived from it).
        start: first business day.
        days: length of the "week" (the test uses fewer).
        per_day: ordinary documents per tenant and day, besides the special cases.
        suffix: appended to the tenant ids (`harbour-hotel-<suffix>`), so the demo can
            run again against a database that remembers an earlier run's tenants.
    """
    # Not for security: a seeded generator is the point (the same seed, the same week).
    hotel, deleted = hotel_week(random.Random(f"{seed}:hotel"), start, days, per_day)  # noqa: S311
    journal = journal_week(random.Random(f"{seed}:journal"), start, days, per_day)  # noqa: S311
    studio = studio_week(random.Random(f"{seed}:studio"), start, days, per_day)  # noqa: S311
    tenants = {t.tenant_id: t for t in (hotel, journal, studio)}
    if suffix:
        for t in tenants.values():
            t.rename(f"{t.tenant_id}-{suffix}")
        deleted = replace(deleted, tenant_id=hotel.tenant_id)
    return DemoWeek(seed, start, days, tenants, deleted)
