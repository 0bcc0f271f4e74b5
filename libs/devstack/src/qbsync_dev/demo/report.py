"""The summary `qbsync demo` prints once the week is synced."""

from collections import Counter
from decimal import Decimal

import httpx

from qbsync_dev.demo.expected import actual_entities, actual_trial_balance
from qbsync_dev.demo.runner import DemoRun
from qbsync_dev.demo.stack_api import Keys, StackApi, StackUrls
from qbsync_dev.demo.tenants import demo_tenants


def _money(value: Decimal) -> str:
    return f"{value:>12,.2f}"


async def summary(urls: StackUrls, keys: Keys, run: DemoRun) -> list[str]:
    """Lines of the summary, read back from QBO (the emulator) and the errors API."""
    out: list[str] = []
    labels = {run.week.tenant_id(role): t.label for role, t in demo_tenants(run.week.start).items()}
    async with httpx.AsyncClient(timeout=30) as client:
        api = StackApi(urls, keys, client)
        for tenant, realm in run.realms.items():
            expected = run.expected.tenants[tenant]
            have = actual_entities(await api.realm_export(realm))
            out.append(f"{tenant} ({labels[tenant]}), QBO company {realm}")
            want = expected.counts()
            posted = ", ".join(
                f"{entity} {sum(have.get(entity, Counter()).values())}/{want.get(entity, 0)}"
                for entity in sorted({*have, *want})
            )
            out.append(f"  posted (QBO / expected): {posted or 'nothing'}")
            counts = await api.error_counts(tenant)
            open_by = ", ".join(f"{c} {n}" for c, n in counts["by_category"].items() if n)
            out.append(f"  open errors: {counts['open_total']} ({open_by or 'none'})")
            out.extend(
                f"    planted: {p.category:<10} {p.event_id}  {p.what}" for p in expected.problems
            )
            report = await api.trial_balance(realm)
            balances = actual_trial_balance(report)
            same = balances == expected.trial_balance()
            out.append(
                f"  trial balance ({'equals' if same else 'DIFFERS FROM'} the one computed from "
                "the events):"
            )
            for row in report["accounts"]:
                debit, credit = Decimal(str(row["debit"])), Decimal(str(row["credit"]))
                if debit or credit:
                    out.append(f"    {row['name']:<28}{_money(debit)}{_money(credit)}")
            out.append(
                f"    {'total':<28}{_money(Decimal(str(report['total_debit'])))}"
                f"{_money(Decimal(str(report['total_credit'])))}"
            )
    # A mapping failure crossed ingest, the mapper and the errors service: a telling trace.
    mapping = [p.event_id for p in run.expected.problems if p.category == "Mapping"]
    example = mapping[0] if mapping else "<event id>"
    out += [
        "",
        f"Operator page   {urls.errors}/ui  (sign in with the errors key below)",
        "API docs        "
        + "  ".join(f"{u}/docs" for u in (urls.ingest, urls.mapper, urls.poster, urls.errors)),
        f"Traces          qbsync trace {example}   (any event id or trace id; spans are kept in "
        "$QBSYNC_HOME/traces.db, and to OTEL_EXPORTER_OTLP_ENDPOINT when set; docs/tracing.md)",
        f"QBO emulator    {urls.sandbox}/_admin/realms/<realm>/export, .../trial-balance",
    ]
    return out
