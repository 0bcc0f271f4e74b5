"""Messages through the real broker: groups split partitions, offsets commit after handling."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from qbsync_core.broker import ensure_topics, make_broker
from qbsync_core.topics import ALL_TOPICS, TopicSpec

pytestmark = pytest.mark.kafka

PARTITIONS = 4


async def _eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def _topic(bootstrap: str, name: str) -> str:
    await ensure_topics(bootstrap, (TopicSpec(name, PARTITIONS, "test"),))
    return name


async def _produce(bootstrap: str, topic: str, count: int, start: int = 0) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i in range(start, start + count):
            await producer.send_and_wait(topic, f"m{i}".encode(), key=f"tenant-{i % 7}".encode())
    finally:
        await producer.stop()


class TestTopics:
    async def test_qbsync_topics_exist_with_their_partition_counts(
        self, kafka_bootstrap: str
    ) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics([spec.name for spec in ALL_TOPICS])
        finally:
            await admin.close()
        counts = {topic["topic"]: len(topic["partitions"]) for topic in described}
        assert counts == {spec.name: spec.partitions for spec in ALL_TOPICS}

    async def test_ensure_topics_is_idempotent(self, kafka_bootstrap: str) -> None:
        assert await ensure_topics(kafka_bootstrap) == []


class TestConsumerGroup:
    async def test_two_consumers_split_the_partitions_and_each_message_arrives_once(
        self, kafka_bootstrap: str, unique_name: str
    ) -> None:
        topic = await _topic(kafka_bootstrap, f"t-split-{unique_name}")
        group = f"g-split-{unique_name}"
        consumers = [
            AIOKafkaConsumer(
                topic,
                bootstrap_servers=kafka_bootstrap,
                group_id=group,
                auto_offset_reset="earliest",
                enable_auto_commit=False,
            )
            for _ in range(2)
        ]
        received: list[list[str]] = [[], []]

        async def drain(index: int) -> None:
            async for record in consumers[index]:
                received[index].append(record.value.decode())
                await consumers[index].commit()

        for consumer in consumers:
            await consumer.start()
        tasks = [asyncio.create_task(drain(i)) for i in range(2)]
        try:
            await _eventually(
                lambda: all(len(c.assignment()) == PARTITIONS // 2 for c in consumers)
            )
            first, second = (c.assignment() for c in consumers)
            assert not first & second
            assert {tp.partition for tp in first | second} == set(range(PARTITIONS))
            await _produce(kafka_bootstrap, topic, 40)
            await _eventually(lambda: len(received[0]) + len(received[1]) >= 40)
            await asyncio.sleep(0.5)  # anything duplicated would arrive now
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for consumer in consumers:
                await consumer.stop()
        everything = received[0] + received[1]
        assert sorted(everything) == sorted(f"m{i}" for i in range(40))
        assert received[0]
        assert received[1]


class TestBrokerFactory:
    @pytest.fixture(autouse=True)
    def _idempotence(self, kafka_idempotent: bool) -> None:
        self.idempotent = kafka_idempotent

    async def _run_once(
        self, bootstrap: str, topic: str, group: str, on_message: Callable[[str], Awaitable[None]]
    ) -> KafkaBroker:
        broker = make_broker(bootstrap, client_id=f"test-{group}", idempotent=self.idempotent)

        @broker.subscriber(topic, group_id=group, auto_offset_reset="earliest")
        async def handle(body: str) -> None:
            await on_message(body)

        await broker.start()
        return broker

    async def test_committed_offsets_are_not_redelivered_after_restart(
        self, kafka_bootstrap: str, unique_name: str
    ) -> None:
        topic = await _topic(kafka_bootstrap, f"t-commit-{unique_name}")
        group = f"g-commit-{unique_name}"
        seen: list[str] = []

        async def record(body: str) -> None:
            seen.append(body)

        await _produce(kafka_bootstrap, topic, 10)
        broker = await self._run_once(kafka_bootstrap, topic, group, record)
        try:
            await _eventually(lambda: len(seen) == 10)
        finally:
            await broker.stop()

        await _produce(kafka_bootstrap, topic, 5, start=10)
        second_run: list[str] = []

        async def record_again(body: str) -> None:
            second_run.append(body)

        broker = await self._run_once(kafka_bootstrap, topic, group, record_again)
        try:
            await _eventually(lambda: len(second_run) >= 5)
            await asyncio.sleep(1.0)  # a redelivery of the first ten would show up now
        finally:
            await broker.stop()
        assert sorted(second_run) == sorted(f"m{i}" for i in range(10, 15))

    async def test_offset_is_committed_after_the_handler_not_before(
        self, kafka_bootstrap: str, unique_name: str
    ) -> None:
        topic = await _topic(kafka_bootstrap, f"t-ack-{unique_name}")
        group = f"g-ack-{unique_name}"
        committed_during_handler: list[int | None] = []
        handled = asyncio.Event()
        # A consumer of the same group that never subscribes: it only reads committed offsets.
        probe = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
        )
        await probe.start()

        async def committed_now() -> int | None:
            offsets = [await probe.committed(TopicPartition(topic, p)) for p in range(PARTITIONS)]
            return max((o for o in offsets if o is not None), default=None)

        async def handler(_: str) -> None:
            committed_during_handler.append(await committed_now())
            handled.set()

        await _produce(kafka_bootstrap, topic, 1)
        broker = await self._run_once(kafka_bootstrap, topic, group, handler)
        try:
            await asyncio.wait_for(handled.wait(), 20)
            for _ in range(100):
                if await committed_now() == 1:
                    break
                await asyncio.sleep(0.05)
            after = await committed_now()
        finally:
            await broker.stop()
            await probe.stop()
        assert committed_during_handler == [None]
        assert after == 1
