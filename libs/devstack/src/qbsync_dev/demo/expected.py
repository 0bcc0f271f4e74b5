"""The demo's expected outcome, computed from the generated events alone.

Compared with QBO's (the emulator's) own state by the end-to-end test and printed
next to it by `qbsync demo`; see docs/demo.md for the bookkeeping rules used.
"""

import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from qbsync_dev.demo.books import TenantExpected
from qbsync_dev.demo.expect_books import journal_expected, studio_expected
from qbsync_dev.demo.expect_hotel import hotel_expected
from qbsync_dev.demo.model import DemoWeek, Planted
from qbsync_dev.demo.tenants import HOTEL, JOURNAL_HOTEL, STUDIO

TRACKED = ("Customer", "Invoice", "CreditMemo", "Payment", "Purchase", "Deposit", "JournalEntry")
"""QBO entity types qbsync posts (items and accounts are the accountant's set-up)."""
_NOTE_KEY = re.compile(r"^(Refund [^\s:]+|\S+ fee [^\s:]+|\S+ payout [^\s:]+)")


@dataclass
class Expected:
    """Per tenant: entities, planted problems and trial balance."""

    tenants: dict[str, TenantExpected]
    """By actual tenant id."""

    @property
    def problems(self) -> list[Planted]:
        """Every planted problem of every tenant."""
        return [p for t in self.tenants.values() for p in t.problems]


def expected_outcome(week: DemoWeek) -> Expected:
    """What QBO and the errors service must show after the demo ran `week`."""
    t = week.tenants
    return Expected(
        {
            t[HOTEL].tenant_id: hotel_expected(t[HOTEL].events, t[HOTEL].later, week.deleted),
            t[JOURNAL_HOTEL].tenant_id: journal_expected(week.all_events(JOURNAL_HOTEL)),
            t[STUDIO].tenant_id: studio_expected(week.all_events(STUDIO)),
        }
    )


def entity_key(entity: str, doc: dict[str, Any]) -> str:
    """The key an expected entity is known by, read from a QBO entity."""
    if entity == "Customer":
        return str(doc.get("DisplayName"))
    if entity == "Payment":
        return str(doc.get("PaymentRefNum"))
    if entity in ("Purchase", "Deposit"):
        note = str(doc.get("PrivateNote") or "").removeprefix("Voided ")
        found = _NOTE_KEY.match(note)
        return found.group(1) if found else note
    return str(doc.get("DocNumber"))


def actual_entities(export: dict[str, Any]) -> dict[str, Counter[str]]:
    """Keys of the tracked entities in an emulator realm export (`/_admin/.../export`)."""
    found: dict[str, Counter[str]] = {}
    for entity in TRACKED:
        docs = export.get("entities", {}).get(entity, [])
        if docs:
            found[entity] = Counter(entity_key(entity, d) for d in docs)
    return found


def actual_trial_balance(report: dict[str, Any]) -> dict[str, Decimal]:
    """Net debit per account name from the emulator's trial balance, zero rows left out."""
    out: dict[str, Decimal] = {}
    for row in report["accounts"]:
        net = Decimal(str(row["debit"])) - Decimal(str(row["credit"]))
        if net:
            out[row["name"]] = net
    return dict(sorted(out.items()))
