"""qbsync against a naive one-request-at-a-time sync (issue 10).

Usage:
    python bench/vs_naive/run.py [--invoices 3000] [--naive-invoices N]

One realm, the emulator's Intuit limits on (500 requests/min, 10/s, 10 concurrent,
40 batches/min) and 150 ms latency per request. The same events - `--invoices`
invoices (1-3 lines, 25 customers) and a payment for each - go:
- through qbsync: produced to qbsync.inbound.v1, timed from the first send until every
  event's QBO write is reported on qbsync.posted.v1 (whole stack, poster pacing on);
- through bench/vs_naive/naive.py: python-quickbooks pointed at the emulator, one request
  at a time, into a second realm.
Both realms are then checked against the expected ledger. `--naive-invoices` runs the
baseline on the first N invoices only (its rate is flat: one request after another).
Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import httpx
from aiokafka import AIOKafkaProducer
from qbsync_dev.stack import start_stack, stop_stack

from bench.chaos.judge import Verdict, judge_tenant
from bench.chaos.tenants import set_up
from bench.chaos.workload import TenantPlan, event_ids, tenant_plan
from bench.throughput.pipeline import PostedWatch, produce
from bench.vs_naive.naive import NaiveResult, client, run_naive

LATENCY_MS = 150


async def _export(emulator: httpx.AsyncClient, realm: str) -> dict[str, list[dict[str, object]]]:
    response = await emulator.get(f"/_admin/realms/{realm}/export")
    response.raise_for_status()
    entities: dict[str, list[dict[str, object]]] = response.json()["entities"]
    return entities


async def _throttled(emulator: httpx.AsyncClient, realm: str) -> int:
    stats = (await emulator.get("/_admin/stats")).json()["realms"]
    return int(stats.get(realm, {}).get("throttled", 0))


def _subset(plan: TenantPlan, invoices: int) -> TenantPlan:
    """The first `invoices` invoices of `plan` and their payments."""
    keep = {f"N{i:05d}" for i in range(invoices)}
    out = TenantPlan(plan.tenant)
    for raw in plan.events:
        data = json.loads(raw)["data"]
        number = data.get("number") or f"N{int(data['invoice_ref'].split('-')[1]):05d}"
        if number in keep:
            out.events.append(raw)
    out.invoices = {n: i for n, i in plan.invoices.items() if n in keep}
    out.payments = {r: p for r, p in plan.payments.items() if p.invoice_number in keep}
    out.customers = {i.customer for i in out.invoices.values()}
    return out


async def main_async(invoices: int, naive_invoices: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["QBSYNC_LOG_LEVEL"] = "WARNING"
        state = await start_stack(
            home, kafka_port=0, postgres_port=0, timeout=90.0, default_http_ports=False
        )
        emulator = httpx.AsyncClient(base_url=state.services["qbo_sandbox"].url, timeout=60)
        try:
            await emulator.delete("/_admin/faults")
            await emulator.post("/_admin/latency", json={"fixed_ms": LATENCY_MS})
            await emulator.post("/_admin/limits", json={"enabled": True, "reset_windows": True})
            (tenant,) = await set_up(state, ["naive-vs-qbsync"])
            plan = tenant_plan(
                tenant.tenant_id,
                2 * invoices,
                0,
                random.Random(3),
                prepaid_share=0,
                invoice_share=Decimal("0.5"),
            )
            watch = PostedWatch(state.broker.url)
            await watch.start()
            producer = AIOKafkaProducer(bootstrap_servers=state.broker.url, linger_ms=5)
            await producer.start()
            try:
                wanted = event_ids(plan)
                started = time.monotonic()
                await produce(producer, [(tenant.tenant_id, raw) for raw in plan.events])
                complete = await watch.wait_for(wanted, timeout=3600)
                ours = max(watch.seen.get(e, 0.0) for e in wanted) - started
            finally:
                await producer.stop()
                await watch.stop()
            ours_verdict = judge_tenant(plan, await _export(emulator, tenant.realm_id))
            ours_429 = await _throttled(emulator, tenant.realm_id)
            realm = str(
                (await emulator.post("/_admin/realms", json={"name": "naive"})).json()["realm_id"]
            )
            token = (await emulator.post(f"/_admin/realms/{realm}/tokens")).json()["access_token"]
            naive_plan = _subset(plan, naive_invoices)
            naive: NaiveResult = await asyncio.to_thread(
                run_naive, client(str(emulator.base_url), realm, token), naive_plan.events
            )
            naive_verdict = judge_tenant(naive_plan, await _export(emulator, realm))
            naive_429 = await _throttled(emulator, realm)
        finally:
            await emulator.aclose()
            stop_stack(home)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    entities = len(plan.invoices) + len(plan.payments) + len(plan.customers)
    ours_rate = entities / ours * 60
    naive_rate = naive.entities / naive.seconds * 60
    print("## qbsync vs a naive loop (issue 10)\n")
    print(
        f"`python bench/vs_naive/run.py`: one realm each, emulator limits on (500/min, 10/s, "
        f"10 concurrent, 40 batches/min), {LATENCY_MS} ms latency per request; {invoices:,} "
        f"invoices (1-3 lines, 25 customers) with a payment each. Naive = python-quickbooks "
        "pointed at the emulator, one request at a time (customer look-up + create once, "
        "then invoice, then payment). Load average at the end: "
        f"{load} (1/5/15 min).\n"
    )
    print("| sync | entities | time | entities/min | 429s | ledger check |")
    print("|---|---|---|---|---|---|")
    print(
        f"| qbsync (whole stack) | {entities:,}{'' if complete else ' (NOT all posted)'} | "
        f"{ours:.0f} s | **{ours_rate:,.0f}** | {ours_429} | {_verdict(ours_verdict)} |"
    )
    extra = naive.requests - naive.entities
    print(
        f"| naive loop ({naive_invoices:,} invoices) | {naive.entities:,} (+{extra} look-ups "
        f"and retries) | {naive.seconds:.0f} s | **{naive_rate:,.0f}** | {naive_429} | "
        f"{_verdict(naive_verdict)} |"
    )
    print(f"\nRatio qbsync / naive: **{ours_rate / naive_rate:.1f}x**.\n")


def _verdict(verdict: Verdict) -> str:
    return f"lost {verdict.lost}, duplicated {verdict.duplicated}, wrong {verdict.wrong}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=3000)
    parser.add_argument("--naive-invoices", type=int, default=None)
    args = parser.parse_args()
    asyncio.run(main_async(args.invoices, args.naive_invoices or args.invoices))


if __name__ == "__main__":
    main()
