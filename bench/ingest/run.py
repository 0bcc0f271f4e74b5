"""Accepted events per second through ingest, on the Kafka path and the HTTP path (issue 4).

Starts the embedded stack (broker, PostgreSQL, QBO sandbox, ingest as its own
process) in a temporary QBSYNC_HOME, then:
- Kafka: produces N events to qbsync.inbound.v1 and times until all N are on
  qbsync.accepted.v1 (validated, deduplicated in PostgreSQL, forwarded);
- HTTP: posts N events as arrays of 1,000, 4 requests at a time, timed until all
  are answered.
Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from qbsync_core.topics import ACCEPTED, INBOUND
from qbsync_dev.stack import StackState, start_stack, stop_stack

from bench.chaos.tenants import api_key

GOAL_KAFKA = 5000
RUNS = 3


def _event(tenant: str, index: int, run: str = "") -> bytes:
    return json.dumps(
        {
            "spec": "qbsync.event/1",
            "event_id": f"bench-{run}{uuid.uuid4()}",
            "tenant_id": tenant,
            "source": "bench",
            "type": "payment.received",
            "occurred_at": "2026-11-20T10:00:00+00:00",
            "data": {
                "ref": f"pay-{index}",
                "currency": "USD",
                "amount": "125.40",
                "method": "card",
                "received_at": "2026-11-20T10:00:00+00:00",
                "invoice_ref": f"inv-{index}",
                "customer": {"ref": f"c-{index % 97}", "name": "Guest", "currency": "USD"},
            },
        }
    ).encode()


async def _end_offsets(consumer: AIOKafkaConsumer, topic: str) -> None:
    partitions = [TopicPartition(topic, p) for p in range(ACCEPTED.partitions)]
    consumer.assign(partitions)
    await consumer.seek_to_end(*partitions)
    for tp in partitions:
        await consumer.position(tp)


async def _count_until(consumer: AIOKafkaConsumer, expected: int, timeout: float, run: str) -> int:
    """Count this run's accepted records: the embedded broker's seek_to_end can land before
    the real end (its ListOffsets answers the last batch's base offset + 1), so records of
    an earlier run may come first and must not count."""
    seen = 0
    tag = f'"bench-{run}'.encode()
    deadline = time.perf_counter() + timeout
    while seen < expected and time.perf_counter() < deadline:
        batches = await consumer.getmany(timeout_ms=200, max_records=5000)
        seen += sum(tag in (r.value or b"") for records in batches.values() for r in records)
    return seen


async def kafka_path(state: StackState, count: int) -> tuple[float, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=state.broker.url, enable_auto_commit=False)
    await consumer.start()
    await _end_offsets(consumer, ACCEPTED.name)
    run = f"{uuid.uuid4().hex[:8]}-"
    events = [
        (_event(f"tenant-{i % 200}", i, run), f"tenant-{i % 200}".encode()) for i in range(count)
    ]
    producer = AIOKafkaProducer(
        bootstrap_servers=state.broker.url, linger_ms=5, max_batch_size=256 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    try:
        await asyncio.gather(
            *[await producer.send(INBOUND.name, value, key=key) for value, key in events]
        )
        seen = await _count_until(consumer, count, timeout=300, run=run)
    finally:
        await producer.stop()
        await consumer.stop()
    return time.perf_counter() - started, seen


async def http_path(state: StackState, database_url: str, count: int) -> tuple[float, int]:
    tenant = "bench-http"
    token = await api_key(database_url, "ingest", tenant)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = [
        b"[" + b",".join(_event(tenant, i) for i in range(start, min(start + 1000, count))) + b"]"
        for start in range(0, count, 1000)
    ]
    accepted = 0
    semaphore = asyncio.Semaphore(4)
    async with httpx.AsyncClient(base_url=state.services["ingest"].url, timeout=120) as client:

        async def post(body: bytes) -> None:
            nonlocal accepted
            async with semaphore:
                response = await client.post("/v1/events", content=body, headers=headers)
                accepted += response.json()["accepted"]

        started = time.perf_counter()
        await asyncio.gather(*(post(body) for body in bodies))
    return time.perf_counter() - started, accepted


async def main_async(count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        os.environ["QBSYNC_HOME"] = str(home)
        state = await start_stack(home, kafka_port=0, postgres_port=0)
        try:
            # Three Kafka runs: the 2-core machine also hosts broker, database and load
            # generator, so single runs vary; the median is reported with the range.
            kafka_runs = [await kafka_path(state, count) for _ in range(RUNS)]
            http_s, http_accepted = await http_path(state, state.database.url, count)
        finally:
            stop_stack(home)
    rates = sorted(seen / seconds for seconds, seen in kafka_runs)
    kafka_rate, http_rate = statistics.median(rates), http_accepted / http_s
    kafka_seen = kafka_runs[0][1]
    print("## Ingest throughput (issue 4)\n")
    print(
        f"{count:,} `payment.received` events per path, 200 tenants on Kafka; "
        "ingest runs as its own process beside the broker, PostgreSQL and the load generator "
        "on the same machine.\n"
    )
    print("| path | events per run | accepted events/s | goal |")
    print("|---|---|---|---|")
    print(
        f"| Kafka (inbound -> accepted), median of {RUNS} (range {rates[0]:,.0f} - "
        f"{rates[-1]:,.0f}) | {kafka_seen:,} | {kafka_rate:,.0f} | "
        f">= {GOAL_KAFKA:,}/s: {'met' if kafka_rate >= GOAL_KAFKA else 'NOT met'} |"
    )
    print(f"| HTTP (arrays of 1,000, 4 in flight) | {http_accepted:,} | {http_rate:,.0f} | - |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(main_async(args.events))


if __name__ == "__main__":
    main()
