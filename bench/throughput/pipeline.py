"""Shared by the whole-pipeline benchmarks (bench/throughput, bench/vs_naive).

`PostedWatch` reads qbsync.posted.v1 from its end and notes when each event's first
QBO write was reported; `RssWatch` samples the services' resident memory.
"""

import asyncio
import json
import time
from collections.abc import Iterable

import psutil
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from qbsync_core.topics import INBOUND, POSTED
from qbsync_dev.stack import StackState

from bench.chaos.workload import TenantPlan

SERVICES = ("ingest", "mapper", "poster", "errors")


class PostedWatch:
    """(tenant, event id) -> monotonic time its first posted record was read.

    Event ids are unique per tenant only (the contract), so both make the key.
    """

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.seen: dict[tuple[str, str], float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        parts = [TopicPartition(POSTED.name, p) for p in range(POSTED.partitions)]
        self.consumer.assign(parts)
        await self.consumer.seek_to_end(*parts)
        for tp in parts:
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200, max_records=10_000)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    value = json.loads(record.value or b"{}")
                    if value.get("event_id") is not None:
                        self.seen.setdefault((value["tenant_id"], value["event_id"]), now)

    async def wait_for(self, event_ids: Iterable[tuple[str, str]], timeout: float) -> bool:
        """True once every id was posted; False after `timeout` seconds."""
        wanted = set(event_ids)
        deadline = time.monotonic() + timeout
        while not wanted <= self.seen.keys():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.2)
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self.consumer.stop()


class RssWatch:
    """Peak RSS (bytes) of each service process, sampled every half second."""

    def __init__(self, state: StackState, names: Iterable[str] = SERVICES) -> None:
        self.processes = {n: psutil.Process(state.services[n].pid) for n in names}
        self.peak: dict[str, int] = dict.fromkeys(self.processes, 0)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            for name, process in self.processes.items():
                try:
                    rss = int(process.memory_info().rss)
                except psutil.Error:
                    continue
                self.peak[name] = max(self.peak[name], rss)
            await asyncio.sleep(0.5)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def interleaved(plans: list[TenantPlan]) -> list[tuple[str, bytes]]:
    """(tenant, event) across tenants in turn, each tenant's events in order."""
    out = []
    longest = max(len(p.events) for p in plans)
    for index in range(longest):
        out += [(p.tenant, p.events[index]) for p in plans if index < len(p.events)]
    return out


async def produce(
    producer: AIOKafkaProducer, events: list[tuple[str, bytes]]
) -> dict[tuple[str, str], float]:
    """Send to the inbound topic as fast as the producer takes them.

    Returns (tenant, event id) -> send time.
    """
    sent: dict[tuple[str, str], float] = {}
    futures = []
    for tenant, raw in events:
        sent[tenant, json.loads(raw)["event_id"]] = time.monotonic()
        futures.append(await producer.send(INBOUND.name, raw, key=tenant.encode()))
    await asyncio.gather(*futures)
    return sent
