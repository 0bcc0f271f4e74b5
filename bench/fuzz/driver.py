"""Run the Kafka intake fuzz against whatever ingest consumes qbsync.inbound.v1.

Used by the reduced test (an in-process ingest) and by `bench/fuzz/run.py` (the
dev stack's ingest process): produce the cases, read what came out on the accepted
and errors topics after the offsets they had before, until every case is accounted
for or the time is up.
"""

import asyncio
from collections import Counter
from collections.abc import Sequence

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from qbsync_core.topics import ACCEPTED, ERRORS, INBOUND

from bench.fuzz.kafka_intake import (
    MAX_MESSAGE_BYTES,
    Message,
    Verdict,
    count_payloads,
    is_valid,
    judge,
)

Records = list[ConsumerRecord[bytes, bytes]]


class _Reader:
    """Every record a topic gets after `start()` (all partitions, no consumer group)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._topic = topic
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            max_partition_fetch_bytes=2 * 1024 * 1024,  # an error record may be ~900 kB
        )

    async def start(self) -> None:
        await self._consumer.start()
        partitions = self._consumer.partitions_for_topic(self._topic)
        if not partitions:
            await self._consumer.topics()
            partitions = self._consumer.partitions_for_topic(self._topic) or set()
        assigned = [TopicPartition(self._topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        for tp in assigned:  # resolve the positions now, before anything is produced
            await self._consumer.position(tp)

    async def poll(self) -> Records:
        """The records that arrived since the last poll."""
        batches = await self._consumer.getmany(timeout_ms=500, max_records=5000)
        return [r for records in batches.values() for r in records]

    async def stop(self) -> None:
        await self._consumer.stop()


async def _seen_keys(database_url: str) -> set[tuple[str, str, str]]:
    conn = await asyncpg.connect(database_url, server_settings={"search_path": "ingest"})
    try:
        rows = await conn.fetch("SELECT tenant_id, source, event_id FROM seen_events")
    finally:
        await conn.close()
    return {(r["tenant_id"], r["source"], r["event_id"]) for r in rows}


async def fuzz_inbound(
    bootstrap: str, database_url: str, cases: Sequence[Message], timeout: float = 120.0
) -> Verdict:
    """Produce `cases` to qbsync.inbound.v1 and judge what ingest made of them."""
    accepted, errors = _Reader(bootstrap, ACCEPTED.name), _Reader(bootstrap, ERRORS.name)
    await accepted.start()
    await errors.start()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, max_request_size=MAX_MESSAGE_BYTES + 100_000, linger_ms=5
    )
    await producer.start()
    try:
        futures = [
            await producer.send(INBOUND.name, c.value, key=c.key, headers=list(c.headers))
            for c in cases
        ]
        await asyncio.gather(*futures)
        deadline = asyncio.get_running_loop().time() + timeout
        forwarded: Counter[bytes] = Counter()
        recorded: Counter[bytes] = Counter()
        seen: set[tuple[str, str, str]] = set()
        while True:
            new_accepted, new_errors = await accepted.poll(), await errors.poll()
            count_payloads(new_accepted, new_errors, forwarded, recorded)
            verdict = judge(cases, forwarded, recorded, seen)
            if not verdict.lost:
                return verdict
            if asyncio.get_running_loop().time() > deadline:
                return judge(cases, forwarded, recorded, await _seen_keys(database_url))
            if all(is_valid(m.payload) for m in verdict.lost):
                seen = await _seen_keys(database_url)  # only duplicates are missing, maybe
    finally:
        await producer.stop()
        await accepted.stop()
        await errors.stop()
