"""Schedules, outbox, journal days, manual export and dry run on the real database (SET-3,
SET-5, JRN-1, JRN-3), and a week of two tenants through the real broker.

The clock is injected (`FakeClock`): windows open because the test moves time, never
because it waits.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from qbsync_core.commands import PostingCommand
from qbsync_core.db import create_pool, migrate
from qbsync_core.records import Stage
from qbsync_core.topics import COMMANDS
from qbsync_mapper import storage
from qbsync_mapper.exports import run_schedules, run_tenant
from qbsync_mapper.mapping import dry_run, map_batch
from qbsync_mapper.migrations_path import MIGRATIONS, SCHEMA
from qbsync_mapper.publishing import KafkaPublisher

from tests.fixtures.events import make_envelope, make_payout_settled
from tests.fixtures.kafka_tap import tap
from tests.mapper.test_journal import JOURNAL
from tests.mapper.test_mapping_real import TRACER, MemoryPublisher, configure, items
from tests.mapper.test_payouts import PAYOUTS

pytestmark = [pytest.mark.postgres]
D = Decimal


class FakeClock:
    def __init__(self, start: str) -> None:
        self.now = datetime.fromisoformat(start)

    def __call__(self) -> datetime:
        return self.now

    def at(self, moment: str) -> "FakeClock":
        self.now = datetime.fromisoformat(moment)
        return self


@pytest.fixture(scope="module")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    await migrate(database_url, SCHEMA, MIGRATIONS)
    pool = await create_pool(database_url, SCHEMA, max_size=3)
    yield pool
    await pool.close()


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def payout(ref: str, day: str, *lines: tuple[str, str], fees: str = "0") -> dict[str, Any]:
    total = sum((D(a) for _, a in lines), D(0))
    return make_payout_settled(
        source="momence",
        data={
            "ref": ref,
            "arrival_date": day,
            "lines": [{"revenue_category": c, "amount": a} for c, a in lines],
            "fees": fees,
            "net": str(total - D(fees)),
        },
    )


def ledger(
    ref: str, reservation: str, kind: str, amount: str, at: str, **data: Any
) -> dict[str, Any]:
    body = {
        "ref": ref,
        "reservation_ref": reservation,
        "kind": kind,
        "amount": amount,
        "currency": "USD",
        "posted_at": at,
        **data,
    }
    return make_envelope("ledger.posted", body, source="cloudbeds")


def journal_lines(command: PostingCommand) -> list[tuple[str, str, str]]:
    return [
        (
            line["JournalEntryLineDetail"]["AccountRef"]["value"],
            line["JournalEntryLineDetail"]["PostingType"],
            line["Amount"],
        )
        for line in command.body["Line"]
    ]


def balanced(command: PostingCommand) -> bool:
    return sum((D(a) if p == "Debit" else -D(a) for _, p, a in journal_lines(command)), D(0)) == D(
        0
    )


class TestOutbox:
    async def test_interval_commands_wait_for_their_window_and_survive_a_restart_SET_3(
        self, pool: asyncpg.Pool, database_url: str
    ) -> None:
        tenant, clock = new_tenant(), FakeClock("2026-11-20T08:00:00+00:00")
        await configure(pool, tenant, payouts=PAYOUTS, schedule="12h")
        publisher = MemoryPublisher()
        summary = await map_batch(
            pool,
            publisher,
            TRACER,
            items(tenant, payout("po-1", "2026-11-20", ("Class packs", "50"))),
            clock=clock,
        )
        assert (summary.queued, publisher.commands) == (1, [])
        assert (
            await run_tenant(pool, publisher, tenant, clock.at("2026-11-20T11:59:00+00:00").now)
        ).commands == 0
        # A restart: a new pool (new process) finds the command still waiting.
        restarted = await create_pool(database_url, SCHEMA, max_size=1)
        try:
            assert await storage.outbox_counts(restarted, tenant) == 1
            done = await run_tenant(
                restarted, publisher, tenant, clock.at("2026-11-20T12:00:00+00:00").now
            )
            assert done.commands == 1
            again = await run_tenant(
                restarted, publisher, tenant, clock.at("2026-11-20T12:01:00+00:00").now
            )
            assert again.commands == 0
        finally:
            await restarted.close()
        assert [c.upstream_ref for c in publisher.commands] == [f"payout:{tenant}:po-1"]

    async def test_broker_failure_keeps_the_commands_in_the_outbox_SET_3(
        self, pool: asyncpg.Pool
    ) -> None:
        tenant, clock = new_tenant(), FakeClock("2026-11-20T08:00:00+00:00")
        await configure(pool, tenant, payouts=PAYOUTS, schedule="manual")
        publisher = MemoryPublisher()
        await map_batch(
            pool,
            publisher,
            TRACER,
            items(tenant, payout("po-1", "2026-11-20", ("A", "5"))),
            clock=clock,
        )
        publisher.fail = True
        with pytest.raises(Exception, match="broker down"):
            await run_tenant(pool, publisher, tenant, clock.now, manual=True)
        assert await storage.outbox_counts(pool, tenant) == 1
        publisher.fail = False
        assert (await run_tenant(pool, publisher, tenant, clock.now, manual=True)).commands == 1

    async def test_manual_export_from_a_start_date_reports_each_earlier_command_SET_3(
        self, pool: asyncpg.Pool
    ) -> None:
        # Nothing leaves the outbox silently: each command left out is an error record.
        tenant, clock = new_tenant(), FakeClock("2026-11-21T08:00:00+00:00")
        await configure(pool, tenant, payouts=PAYOUTS, schedule="manual")
        publisher = MemoryPublisher()
        events = [payout(f"po-{d}", f"2026-11-{d}", ("Class packs", "10")) for d in (18, 19, 20)]
        await map_batch(pool, publisher, TRACER, items(tenant, *events), clock=clock)
        clock.at("2026-11-22T08:00:00+00:00")
        assert (await run_tenant(pool, publisher, tenant, clock.now)).commands == 0  # manual only
        done = await run_tenant(
            pool, publisher, tenant, clock.now, manual=True, start=date(2026, 11, 19)
        )
        assert (done.commands, done.skipped) == (2, 1)
        assert [c.upstream_ref for c in publisher.commands] == [
            f"payout:{tenant}:po-19",
            f"payout:{tenant}:po-20",
        ]
        (left_out,) = publisher.errors
        assert left_out.record_id == done.not_sent[0].record_id
        assert (left_out.tenant_id, left_out.stage, left_out.retriable) == (
            tenant,
            Stage.POSTER,  # a resync hands the command itself to the poster
            False,
        )
        assert "2026-11-18, before the start date 2026-11-19" in left_out.cause
        command = PostingCommand.model_validate_json(left_out.payload)
        assert (command.upstream_ref, left_out.command_id) == (
            f"payout:{tenant}:po-18",
            command.command_id,
        )
        assert await storage.outbox_counts(pool, tenant) == 0
        # The CLI's path: a request the service's loop picks up.
        await map_batch(
            pool,
            publisher,
            TRACER,
            items(tenant, payout("po-21", "2026-11-21", ("A", "1"))),
            clock=clock,
        )
        await storage.request_export(pool, tenant, None)
        assert (await run_tenant(pool, publisher, tenant, clock.now)).commands == 1
        assert publisher.commands[-1].upstream_ref == f"payout:{tenant}:po-21"


class TestJournalDays:
    async def test_catch_up_gives_one_entry_per_day_and_a_late_event_an_adjusting_entry_JRN_3(
        self, pool: asyncpg.Pool
    ) -> None:
        tenant, clock = new_tenant(), FakeClock("2026-11-23T00:30:00+00:00")
        await configure(pool, tenant, journal=JOURNAL, schedule="12h", time_zone="Europe/Lisbon")
        publisher = MemoryPublisher()
        events = [
            ledger("l1", "r1", "payment", "100", "2026-11-20T10:00:00+00:00", method="card"),
            ledger("l2", "r1", "revenue", "150", "2026-11-21T10:00:00+00:00", category="Rooms"),
            ledger("l3", "r2", "revenue", "80", "2026-11-21T11:00:00+00:00", category="F&B"),
            ledger("l4", "r1", "payment", "50", "2026-11-22T09:00:00+00:00"),
        ]
        await map_batch(pool, publisher, TRACER, items(tenant, *events), clock=clock)
        assert publisher.commands == []  # days are summarised when the window opens
        done = await run_tenant(pool, publisher, tenant, clock.at("2026-11-23T12:00:00+00:00").now)
        assert (done.commands, done.entries) == (3, 3)
        day20, day21, day22 = publisher.commands
        assert [c.body["DocNumber"] for c in publisher.commands] == [
            "J20261120",
            "J20261121",
            "J20261122",
        ]
        assert journal_lines(day20) == [("1010", "Debit", "100.00"), ("2400", "Credit", "100.00")]
        assert journal_lines(day21) == [
            ("4000", "Credit", "150.00"),
            ("2400", "Debit", "100.00"),
            ("1200", "Debit", "130.00"),
            ("4100", "Credit", "80.00"),
        ]
        assert journal_lines(day22) == [("1000", "Debit", "50.00"), ("1200", "Credit", "50.00")]
        assert all(balanced(c) for c in publisher.commands)
        assert day21.customer is not None
        assert day21.customer.lookup["display_name"] == "Hóspedes"
        # A late posting for the 21st: an adjusting entry for that day, not a rewrite.
        late = ledger("l5", "r2", "payment", "100", "2026-11-21T20:00:00+00:00", method="card")
        await map_batch(
            pool,
            publisher,
            TRACER,
            items(tenant, late),
            clock=clock.at("2026-11-23T13:00:00+00:00"),
        )
        assert (await run_tenant(pool, publisher, tenant, clock.now)).commands == 0
        done = await run_tenant(pool, publisher, tenant, clock.at("2026-11-24T00:00:00+00:00").now)
        (adjusting,) = publisher.commands[3:]
        assert (
            adjusting.body["DocNumber"],
            adjusting.body["TxnDate"],
            adjusting.body["Adjustment"],
        ) == (
            "J20261121-1",
            "2026-11-21",
            True,
        )
        # r2 owed 80 (AR); the payment of 100 clears it and leaves a 20 deposit.
        assert journal_lines(adjusting) == [
            ("1010", "Debit", "100.00"),
            ("1200", "Credit", "80.00"),
            ("2400", "Credit", "20.00"),
        ]
        assert adjusting.upstream_ref != day21.upstream_ref

    async def test_continuous_tenant_posts_each_day_once_it_has_ended_JRN_1(
        self, pool: asyncpg.Pool
    ) -> None:
        tenant, clock = new_tenant(), FakeClock("2026-11-20T20:00:00+00:00")
        await configure(pool, tenant, journal=JOURNAL)
        publisher = MemoryPublisher()
        event = ledger("l1", "r1", "revenue", "99.99", "2026-11-20T19:00:00+00:00")
        await map_batch(pool, publisher, TRACER, items(tenant, event), clock=clock)
        assert (await run_tenant(pool, publisher, tenant, clock.now)).commands == 0
        assert (
            await run_tenant(pool, publisher, tenant, clock.at("2026-11-21T00:00:01+00:00").now)
        ).entries == 1
        assert journal_lines(publisher.commands[0]) == [
            ("4000", "Credit", "99.99"),
            ("1200", "Debit", "99.99"),
        ]


class TestDryRun:
    async def test_dry_run_shows_commands_and_errors_and_posts_nothing_SET_5(
        self, pool: asyncpg.Pool
    ) -> None:
        tenant, clock = new_tenant(), FakeClock("2026-11-22T08:00:00+00:00")
        packs_only = {
            **PAYOUTS,
            "default_account": None,
            "categories": {"Class packs": {"account": "401"}},
        }
        await configure(pool, tenant, payouts=packs_only, schedule="manual")
        publisher = MemoryPublisher()
        waiting = [payout(f"po-{d}", f"2026-11-{d}", ("Class packs", "10")) for d in (19, 21)]
        await map_batch(pool, publisher, TRACER, items(tenant, *waiting), clock=clock)
        test_payout = payout("po-test", "2026-11-21", ("Class packs", "7"), fees="1")
        unmapped = payout("po-bad", "2026-11-21", ("Unknown", "7"))
        raws = [json.dumps(e).encode() for e in items_payloads(tenant, test_payout, unmapped)]
        result = await dry_run(
            pool, TRACER, tenant, date(2026, 11, 20), date(2026, 11, 21), raws, clock=clock
        )
        assert [c.upstream_ref for c in result.commands] == [
            f"payout:{tenant}:po-test",
            f"payout:{tenant}:po-21",
        ]
        (error,) = result.errors
        assert "Unknown" in error.cause
        assert (publisher.commands, publisher.errors) == ([], [])
        assert await storage.outbox_counts(pool, tenant) == 2
        # The tried events were not remembered: sent for real later, they are mapped.
        summary = await map_batch(
            pool, publisher, TRACER, [a for a in items(tenant, test_payout)], clock=clock
        )
        assert (summary.queued, summary.duplicates) == (1, 0)


def items_payloads(tenant: str, *payloads: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**p, "tenant_id": tenant} for p in payloads]


async def test_a_week_of_payouts_and_ledger_events_posts_the_expected_set_once_SET_3_PAY_8_JRN_3(
    pool: asyncpg.Pool, kafka_bootstrap: str, kafka_idempotent: bool
) -> None:
    studio, hotel = new_tenant(), new_tenant()
    await configure(pool, studio, payouts=PAYOUTS, schedule="12h", time_zone="America/New_York")
    await configure(pool, hotel, journal=JOURNAL, schedule="manual", time_zone="Europe/Lisbon")
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=kafka_idempotent, acks="all"
    )
    await producer.start()
    publisher = KafkaPublisher(producer)
    clock = FakeClock("2026-11-16T06:00:00+00:00")
    expected_studio: set[str] = set()
    try:
        async with tap(kafka_bootstrap, COMMANDS.name) as commands:
            for offset in range(7):
                day = date(2026, 11, 16) + timedelta(days=offset)
                clock.at(f"{day.isoformat()}T14:00:00+00:00")
                fees = "0" if offset % 2 else "3.10"
                batch = [
                    payout(
                        f"po-{offset}",
                        day.isoformat(),
                        ("Class packs", "120.00"),
                        ("Virtual classes", "35.50"),
                        ("Recurring memberships", "49.00"),
                        fees=fees,
                    ),
                    make_envelope(
                        "fee.charged",
                        {
                            "ref": f"fee-{offset}",
                            "currency": "USD",
                            "amount": "0.30",
                            "processor": "stripe",
                            "charged_at": f"{day.isoformat()}T13:00:00+00:00",
                        },
                        source="momence",
                    ),
                ]
                expected_studio |= {f"payout:{studio}:po-{offset}", f"fee:{studio}:fee-{offset}"}
                stays = [
                    ledger(f"l{offset}a", f"r{offset}", "payment", "200", f"{day}T10:00:00+00:00"),
                    ledger(f"l{offset}b", f"r{offset}", "revenue", "180", f"{day}T11:00:00+00:00"),
                    ledger(f"l{offset}c", f"r{offset}", "tax", "40.50", f"{day}T11:00:00+00:00"),
                ]
                await map_batch(
                    pool,
                    publisher,
                    TRACER,
                    items(studio, *batch) + items(hotel, *stays),
                    clock=clock,
                )
                # Ticks of the service's loop through the day (and a redundant one).
                for hour in ("14:00", "23:59", "23:59"):
                    clock.at(f"{day.isoformat()}T{hour}:00+00:00")
                    await run_schedules(pool, publisher, clock)
            clock.at("2026-11-23T06:00:00+00:00")
            await run_schedules(pool, publisher, clock)  # 01:00 New York: a window opened
            # Manual export of the hotel, from the 17th on: the 16th is not sent.
            done = await run_tenant(
                pool, publisher, hotel, clock.now, manual=True, start=date(2026, 11, 17)
            )
            assert (done.entries, done.skipped) == (6, 1)
            await run_schedules(pool, publisher, clock.at("2026-11-23T18:00:00+00:00"))
            expected_hotel = {f"journal:{hotel}:2026-11-{d}:USD:0" for d in range(17, 23)}
            await commands.wait_until(
                lambda: len(commands.keyed(studio)) >= 14 and len(commands.keyed(hotel)) >= 6
            )
            await asyncio.sleep(0.5)  # anything extra would have arrived by now
            got = {
                t: [json.loads(r.value or b"{}") for r in commands.keyed(t)]
                for t in (studio, hotel)
            }
    finally:
        await producer.stop()
    for tenant, expected in ((studio, expected_studio), (hotel, expected_hotel)):
        refs = [c["upstream_ref"] for c in got[tenant]]
        assert sorted(refs) == sorted(expected), tenant
        assert len({c["command_id"] for c in got[tenant]}) == len(refs)
    deposits = [c for c in got[studio] if c["entity"] == "Deposit"]
    for deposit in deposits:
        lines = sum(D(line["Amount"]) for line in deposit["body"]["Line"])
        assert lines == D(deposit["expected_total"])
    for entry in got[hotel]:
        command = PostingCommand.model_validate(entry)
        assert balanced(command)
        # Each stay: 200 prepaid, then 220.50 charged: Deposits back to 0 (no line), 20.50 owed.
        assert journal_lines(command) == [
            ("1000", "Debit", "200.00"),
            ("4000", "Credit", "180.00"),
            ("2200", "Credit", "40.50"),
            ("1200", "Debit", "20.50"),
        ]
