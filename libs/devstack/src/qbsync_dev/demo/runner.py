"""Drive a running stack through the demo week and wait until QBO shows its outcome."""

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from qbsync_dev.demo.expected import Expected, actual_entities, expected_outcome
from qbsync_dev.demo.model import DeletedCustomer, DemoWeek, Planted
from qbsync_dev.demo.stack_api import Keys, StackApi, StackUrls, publish
from qbsync_dev.demo.tenants import DemoTenant, demo_tenants, settings_document

POLL_SECONDS = 1.0
JOURNAL_PATIENCE = 60.0
"""Seconds the journal export waits for its dry run to match once all else is synced."""


@dataclass
class Progress:
    """A snapshot while the week is processed."""

    posted: int
    expected_posted: int
    errors: int
    expected_errors: int
    stage: str

    def line(self) -> str:
        """One human line."""
        if not self.expected_posted:
            return self.stage
        return (
            f"{self.stage}: {self.posted}/{self.expected_posted} QBO entities posted, "
            f"{self.errors}/{self.expected_errors} planted problems reported"
        )


@dataclass
class DemoRun:
    """What the demo did: the companies it connected and whether QBO settled as expected."""

    week: DemoWeek
    expected: Expected
    realms: dict[str, str] = field(default_factory=dict)
    """Actual tenant id -> QBO company."""
    settled: bool = False
    seconds: float = 0.0


async def set_up_company(
    api: StackApi, tenant: DemoTenant, tenant_id: str, realm: str
) -> dict[str, str]:
    """The accountant's part: the tenant's accounts and items in its QBO company."""
    token = await api.admin_token(realm)
    accounts = await api.accounts(tenant_id)
    for name, account_type in tenant.chart.accounts:
        if name not in accounts:
            account = {"Name": name, "AccountType": account_type}
            accounts[name] = str((await api.qbo_write(realm, token, "Account", account))["Id"])
    for name, income in tenant.chart.items:
        item = {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": accounts[income]}}
        await api.qbo_write(realm, token, "Item", item)
    return accounts


async def connect_tenants(api: StackApi, week: DemoWeek) -> dict[str, str]:
    """Connect every demo tenant through OAuth2, set up its company, apply its settings."""
    realms: dict[str, str] = {}
    for role, tenant in demo_tenants(week.start).items():
        tenant_id = week.tenant_id(role)
        realm = await api.connect(tenant_id)
        accounts = await set_up_company(api, tenant, tenant_id, realm)
        document = settings_document(tenant, tenant_id, realm, accounts)
        await api.apply_settings(tenant_id, document)
        realms[tenant_id] = realm
    return realms


async def planted_reported(api: StackApi, problem: Planted) -> bool:
    """True once an open error of the problem's category names its event."""
    found = await api.errors(tenant=problem.tenant_id, status="open", text=problem.event_id)
    return any(e["category"] == problem.category for e in found)


async def snapshot(api: StackApi, run: DemoRun, stage: str) -> tuple[Progress, set[str]]:
    """Progress so far, and the tenants whose outcome QBO or the errors API lacks yet."""
    posted = expected_posted = 0
    waiting: set[str] = set()
    for tenant, want in run.expected.tenants.items():
        have = actual_entities(await api.realm_export(run.realms[tenant]))
        for entity, keys in want.entities.items():
            got = have.get(entity, Counter())
            posted += sum(min(n, got[k]) for k, n in keys.items())
            expected_posted += sum(keys.values())
            if got != keys:
                waiting.add(tenant)
    reported = 0
    for problem in run.expected.problems:
        if await planted_reported(api, problem):
            reported += 1
        else:
            waiting.add(problem.tenant_id)
    progress = Progress(posted, expected_posted, reported, len(run.expected.problems), stage)
    return progress, waiting


async def export_journal_when_mapped(api: StackApi, run: DemoRun, tenant: str) -> bool:
    """Export the journal days once a dry run shows every day as expected (manual schedule).

    A day closed while its postings are still arriving would be completed by an
    adjusting entry (JRN-3): correct books, but not the one entry a day the demo shows.
    """
    want = run.expected.tenants[tenant].journal_days
    last = run.week.start + timedelta(days=run.week.days - 1)
    plan = await api.dry_run(tenant, run.week.start.isoformat(), last.isoformat())
    shown = {
        c["body"]["DocNumber"]: c.get("expected_total")
        for c in plan["commands"]
        if c["entity"] == "JournalEntry"
    }
    if {k: str(v) for k, v in want.items()} != {k: str(v) for k, v in shown.items()}:
        return False
    await api.export(tenant)
    return True


async def wait_for_outcome(
    api: StackApi, run: DemoRun, report: Callable[[Progress], None], deadline: float
) -> bool:
    """Poll until QBO and the errors service show the whole expected outcome."""
    journal_pending = {t for t, e in run.expected.tenants.items() if e.journal_days}
    others_done_at: float | None = None
    while True:
        for tenant in sorted(journal_pending):
            if await export_journal_when_mapped(api, run, tenant):
                journal_pending.discard(tenant)
        stage = "mapping journal days" if journal_pending else "syncing the week"
        progress, waiting = await snapshot(api, run, stage)
        report(progress)
        if not waiting and not journal_pending:
            return True
        if journal_pending and waiting <= journal_pending:
            others_done_at = others_done_at or time.monotonic()
            if time.monotonic() - others_done_at > JOURNAL_PATIENCE:
                # The dry run never matched: export what there is, so the summary shows
                # the difference instead of the demo waiting until its deadline.
                for tenant in journal_pending:
                    await api.export(tenant)
                journal_pending.clear()
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)


async def synced_customer(api: StackApi, realm: str, deleted: DeletedCustomer) -> str | None:
    """The QBO id of the customer to delete, once its first invoice is in QBO."""
    entities = (await api.realm_export(realm)).get("entities", {})
    numbers = {doc.get("DocNumber") for doc in entities.get("Invoice", [])}
    if deleted.synced_doc_number not in numbers:
        return None
    for customer in entities.get("Customer", []):
        if customer.get("DisplayName") == deleted.display_name:
            return str(customer["Id"])
    return None


async def run_demo(
    urls: StackUrls,
    week: DemoWeek,
    keys: Keys,
    report: Callable[[Progress], None] = lambda _: None,
    timeout: float = 600.0,
) -> DemoRun:
    """Connect, configure, publish the week, delete a synced customer in QBO, wait.

    Returns with `settled` False if QBO did not reach the expected state in `timeout`.
    """
    began = time.monotonic()
    deadline = began + timeout
    run = DemoRun(week, expected_outcome(week))
    async with httpx.AsyncClient(timeout=30) as client:
        api = StackApi(urls, keys, client)
        run.realms = await connect_tenants(api, week)
        await publish(urls.broker, [e for t in week.tenants.values() for e in t.events])
        deleted = week.deleted
        realm = run.realms[deleted.tenant_id]
        # CUS-7: once the guest is in QBO, the hotel's bookkeeper deletes him there.
        while (customer := await synced_customer(api, realm, deleted)) is None:
            if time.monotonic() > deadline:
                run.seconds = time.monotonic() - began
                return run
            stage = f"waiting for {deleted.display_name} in QBO (to delete him there)"
            report(Progress(0, 0, 0, 0, stage))
            await asyncio.sleep(POLL_SECONDS)
        await api.delete_in_qbo(realm, "Customer", customer)
        await publish(urls.broker, [e for t in week.tenants.values() for e in t.later])
        run.settled = await wait_for_outcome(api, run, report, deadline)
    run.seconds = time.monotonic() - began
    return run
