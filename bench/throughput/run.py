"""Events per second through the whole pipeline, latency at half that load, RSS (issue 10).

Usage:
    python bench/throughput/run.py [--tenants 200] [--events 20000] [--latency-seconds 30]
    BENCH_PYSPY=<dir> samples each service and the emulator with py-spy in phase 1;
    BENCH_THROUGHPUT_HOME=<dir> keeps the stack's home (logs) there; QBSYNC_LOG_LEVEL
    (default WARNING here) sets the services' log level.

Starts the dev stack (broker, PostgreSQL, QBO emulator, the four services) in a temporary
QBSYNC_HOME with the emulator's limits off, no latency and no faults (the poster's pacing
off too), connects and configures the tenants, then:
1. throughput: produces every event to qbsync.inbound.v1 at once and times from the first
   send until each event's first QBO write is reported on qbsync.posted.v1 (ingest ->
   mapper -> poster -> emulator);
2. latency: new events at half the measured rate for `--latency-seconds`, each timed from
   its send to its posted record (p50, p99);
3. peak RSS of each service process over both phases.
Events are invoices (1-3 lines) and payments of some of them, customers matched by e-mail
(created once per tenant). Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import httpx
from aiokafka import AIOKafkaProducer
from qbsync_core.topics import INBOUND
from qbsync_dev.stack import start_stack, stop_stack

from bench.chaos.tenants import set_up
from bench.chaos.workload import event_ids, workload
from bench.cpu import (
    cpu_by_program,
    cpu_seconds,
    machine_busy_seconds,
    program_deltas,
    sampled,
    stop_sampling,
)
from bench.throughput.pipeline import SERVICES, PostedWatch, RssWatch, interleaved, produce

GOAL = 2000


async def paced(
    producer: AIOKafkaProducer, events: list[tuple[str, bytes]], rate: float
) -> dict[tuple[str, str], float]:
    """Send at `rate` events/s in 50 ms steps; (tenant, event id) -> send time."""
    sent: dict[tuple[str, str], float] = {}
    started, position = time.monotonic(), 0
    while position < len(events):
        due = min(len(events), int((time.monotonic() - started) * rate) + 1)
        futures = []
        for tenant, raw in events[position:due]:
            sent[tenant, json.loads(raw)["event_id"]] = time.monotonic()
            futures.append(await producer.send(INBOUND.name, raw, key=tenant.encode()))
        position = due
        await asyncio.gather(*futures)
        await asyncio.sleep(0.05)
    return sent


async def qbo_requests(emulator: httpx.AsyncClient) -> int:
    """Requests the emulator has answered so far, all realms."""
    realms = (await emulator.get("/_admin/stats")).json()["realms"]
    return sum(int(stats["requests"]) for stats in realms.values())


async def main_async(tenant_count: int, events: int, latency_seconds: float) -> None:
    os.environ["QBSYNC_POSTER_LIMITS_ENABLED"] = "false"
    os.environ.setdefault("QBSYNC_LOG_LEVEL", "WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(os.environ.get("BENCH_THROUGHPUT_HOME") or tmp)
        state = await start_stack(
            home, kafka_port=0, postgres_port=0, timeout=90.0, default_http_ports=False
        )
        try:
            emulator = httpx.AsyncClient(base_url=state.services["qbo_sandbox"].url)
            await emulator.post("/_admin/limits", json={"enabled": False})
            await emulator.post("/_admin/latency", json={"fixed_ms": 0})
            await emulator.delete("/_admin/faults")
            names = [f"load-{i:03d}" for i in range(tenant_count)]
            await set_up(state, names)
            rss, watch = RssWatch(state), PostedWatch(state.broker.url)
            rss.start()
            await watch.start()
            producer = AIOKafkaProducer(
                bootstrap_servers=state.broker.url, linger_ms=5, max_batch_size=256 * 1024
            )
            await producer.start()
            try:
                plans = workload(names, events, 0, seed=1, prepaid_share=0)
                wanted = [e for p in plans for e in event_ids(p)]
                pids = {n: state.services[n].pid for n in (*SERVICES, "qbo_sandbox")}
                cpu_before = {n: cpu_seconds(pid) for n, pid in pids.items()}
                busy, programs = machine_busy_seconds(), cpu_by_program()
                requests = await qbo_requests(emulator)
                spies = sampled(pids)
                started = time.monotonic()
                await produce(producer, interleaved(plans))
                complete = await watch.wait_for(wanted, timeout=1800)
                stop_sampling(spies)
                requests = await qbo_requests(emulator) - requests
                cpu = {n: cpu_seconds(pid) - cpu_before[n] for n, pid in pids.items()}
                busy = machine_busy_seconds() - busy
                top = program_deltas(programs, cpu_by_program())
                done = [watch.seen[e] for e in wanted if e in watch.seen]
                seconds = max(done) - started
                rate = len(done) / seconds
                count = max(tenant_count * 2, int(rate / 2 * latency_seconds))
                plans = workload(names, count, 0, seed=2, prefix="L", prepaid_share=0)
                wanted_l = [e for p in plans for e in event_ids(p)]
                sent = await paced(producer, interleaved(plans), rate / 2)
                await watch.wait_for(wanted_l, timeout=900)
                latencies = sorted(watch.seen[e] - sent[e] for e in wanted_l if e in watch.seen)
            finally:
                await producer.stop()
                await watch.stop()
                await emulator.aclose()
                rss.stop()
        finally:
            stop_stack(home)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    cuts = statistics.quantiles(latencies, n=100)
    print("## Throughput: the whole pipeline (issue 10)\n")
    print(
        f"`python bench/throughput/run.py`: {tenant_count} tenants, emulator limits off, no "
        "latency, no faults; every service its own process beside the broker, PostgreSQL, "
        "the emulator and the load generator on this machine; events produced to "
        f"qbsync.inbound.v1, timed to their posted record on qbsync.posted.v1. Load average "
        f"at the end: {load} (1/5/15 min).\n"
    )
    print("| measure | result | goal |")
    print("|---|---|---|")
    print(
        f"| throughput, {len(done):,} events{'' if complete else ' (NOT all posted)'} | "
        f"**{rate:,.0f} events/s** ({seconds:.1f} s) | >= {GOAL:,}/s: "
        f"{'met' if rate >= GOAL and complete else 'NOT met'} |"
    )
    print(
        f"| latency intake -> posted at {rate / 2:,.0f} events/s ({len(latencies):,} of "
        f"{len(wanted_l):,} events) | p50 **{cuts[49] * 1000:,.0f} ms**, p99 "
        f"**{cuts[98] * 1000:,.0f} ms** | - |"
    )
    per_event = ", ".join(f"{n} {c / len(done) * 1000:.2f}" for n, c in cpu.items())
    print(
        f"| CPU in the throughput phase, ms per event | {per_event}; whole machine "
        f"{busy / len(done) * 1000:.2f} ({busy / seconds / (os.cpu_count() or 1):.0%} of "
        f"{os.cpu_count()} cores busy) | - |"
    )
    print(f"| CPU by program in that phase | {top} | - |")
    print(
        f"| QBO requests in that phase | {requests:,} ({len(done) / max(requests, 1):.1f} "
        "events per request) | - |"
    )
    peaks = ", ".join(f"{name} {rss.peak[name] / 2**20:,.0f}" for name in rss.peak)
    print(f"| peak RSS per service, MiB | {peaks} | - |")
    print(
        "\nEvents: 60% `invoice.issued` (1-3 lines), 40% `payment.received` of those invoices, "
        "25 customers per tenant matched by e-mail and created on first use; an event counts "
        "when its first QBO write is reported. The latency phase sends new documents (same "
        "customers) evenly at half the measured rate.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    args = parser.parse_args()
    asyncio.run(main_async(args.tenants, args.events, args.latency_seconds))


if __name__ == "__main__":
    main()
