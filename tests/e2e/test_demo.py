"""Issue 9: the demo week on the whole stack, checked against the QBO emulator's state.

The expected outcome is computed from the generated events alone
(`qbsync_dev.demo.expected_outcome`); what is compared is the emulator's own export,
trial balance and the errors API, never qbsync's ledger.
"""

import asyncio
import os
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from qbsync_core.spanstore import StoredSpan
from qbsync_dev.demo import expected_outcome, generate_week
from qbsync_dev.demo.expected import actual_entities, actual_trial_balance
from qbsync_dev.demo.runner import run_demo
from qbsync_dev.demo.stack_api import Keys, StackUrls, loads

from tests.e2e.traces import named, trace_when

pytestmark = [pytest.mark.slow]

SEED = 11


class TestGeneratedWeek:
    def test_the_same_seed_gives_the_same_week_and_another_seed_another(self) -> None:
        first, again, other = generate_week(SEED), generate_week(SEED), generate_week(SEED + 1)
        for role in first.tenants:
            assert first.all_events(role) == again.all_events(role)
        assert first.all_events("harbour-hotel") != other.all_events("harbour-hotel")

    def test_every_expected_trial_balance_balances_and_every_problem_is_planted(self) -> None:
        expected = expected_outcome(generate_week(SEED))
        for tenant in expected.tenants.values():
            assert sum(tenant.trial_balance().values(), Decimal(0)) == 0
        assert Counter(p.category for p in expected.problems) == Counter(
            {"Validation": 2, "Mapping": 2, "Invoice": 1, "Account": 1}
        )

    def test_a_suffix_renames_tenants_and_event_ids_only(self) -> None:
        plain, renamed = generate_week(SEED), generate_week(SEED, suffix="x1")
        event = renamed.all_events("flow-studio")[0]
        assert (event["tenant_id"], event["event_id"]) == ("flow-studio-x1", "flow-studio-x1-0001")
        assert event["data"] == plain.all_events("flow-studio")[0]["data"]


class TestDemoCommand:
    def test_without_a_running_stack_it_says_how_to_start_one_and_fails(
        self, tmp_path: Path
    ) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "qbsync_dev", "demo"],
            env={**os.environ, "QBSYNC_HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 1
        assert "No dev stack is running: start one with `qbsync dev up`." in done.stderr


def _open_errors(urls: StackUrls, keys: Keys, tenant: str) -> list[tuple[str, str]]:
    """(event id, category) of every open error of a tenant, from the errors API."""
    auth = {"Authorization": f"Bearer {keys.errors}"}
    with httpx.Client(base_url=urls.errors, headers=auth, timeout=30) as http:
        page = http.get("/v1/errors", params={"tenant": tenant, "status": "open", "limit": 500})
        items: list[dict[str, Any]] = page.json()["items"]
        return sorted(
            (str(http.get(f"/v1/errors/{e['record_id']}").json()["event_id"]), e["category"])
            for e in items
        )


def _emulator(urls: StackUrls, realm: str, report: str) -> dict[str, Any]:
    answer = httpx.get(f"{urls.sandbox}/_admin/realms/{realm}/{report}", timeout=30)
    answer.raise_for_status()
    result: dict[str, Any] = loads(answer.content)
    return result


class TestDemoOnTheWholeStack:
    def test_qbo_holds_exactly_the_week_computed_from_its_events(
        self, e2e_urls: StackUrls, e2e_keys: Keys, e2e_home: Path
    ) -> None:
        week = generate_week(SEED, suffix="e2e")
        run = asyncio.run(run_demo(e2e_urls, week, e2e_keys, timeout=240))
        assert set(run.realms) == {t.tenant_id for t in week.tenants.values()}
        for tenant, expected in run.expected.tenants.items():
            realm = run.realms[tenant]
            export = _emulator(e2e_urls, realm, "export")
            # Every expected entity exactly once, nothing else of the kinds qbsync posts.
            wanted = {entity: keys for entity, keys in expected.entities.items() if keys}
            assert actual_entities(export) == wanted, tenant
            # Every planted problem an open error in its category, and no other open error.
            planted = sorted((p.event_id, p.category) for p in expected.problems)
            assert _open_errors(e2e_urls, e2e_keys, tenant) == planted, tenant
            report = _emulator(e2e_urls, realm, "trial-balance")
            assert report["balanced"] is True
            assert actual_trial_balance(report) == expected.trial_balance(), tenant
        assert run.settled
        # A demo event's one trace covers ingest, the mapper, the poster and a QBO call.
        # Writes coalesced into one /batch request share that request's span, which sits
        # in the trace of the command that opened the group: look among the documents.
        hotel = next(t for t in week.tenants.values() if t.tenant_id.startswith("harbour-hotel"))
        failing = {p.event_id for p in run.expected.tenants[hotel.tenant_id].problems}
        documents = [
            e["event_id"]
            for e in hotel.events
            if e["type"] == "invoice.issued" and e["event_id"] not in failing
        ]
        stages = {
            ("qbsync-ingest", "ingest.accept"),
            ("qbsync-mapper", "mapper.map"),
            ("qbsync-poster", "poster.post"),
        }

        def whole(spans: list[StoredSpan]) -> bool:
            calls = [s for s in spans if s.kind == "CLIENT" and s.service == "qbsync-poster"]
            return stages <= named(spans) and bool(calls)

        first = trace_when(e2e_home, documents[0], lambda spans: stages <= named(spans))
        assert stages <= named(first), named(first)
        traced = [trace_when(e2e_home, event_id, whole, wait=0.0) for event_id in documents]
        assert any(whole(spans) for spans in traced), "no document's trace reached QBO"
