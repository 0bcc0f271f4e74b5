"""Every service's consumers commit after their handler and seek back on nack.

FastStream fixes a subscriber's commit mode when it is declared, from its router: a
bare `KafkaRouter()` included into a broker built with AckPolicy.ACK still yields
auto-committing consumers whose nack is a no-op, so a SIGKILL or a retried batch
loses messages (found by the chaos benchmark). `qbsync_core.broker.make_router`
fixes that; these tests keep every service on it.
"""

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaMessage
from faststream.kafka.message import KafkaAckableMessage
from qbsync_core.broker import ensure_topics, make_broker, make_router
from qbsync_core.consuming import raw_only, retry_later, tolerant_headers
from qbsync_core.topics import TopicSpec

from tests.fixtures.routers import ROUTERS


@pytest.mark.parametrize("service", ROUTERS)
def test_service_consumers_commit_after_the_handler(service: str) -> None:
    broker = make_broker("127.0.0.1:9", client_id=f"check-{service}")
    broker.include_router(ROUTERS[service]())
    subscribers: list[Any] = list(broker.subscribers)
    assert subscribers
    for sub in subscribers:
        assert sub._connection_args["enable_auto_commit"] is False, sub.group_id
        assert sub.parser.msg_class is KafkaAckableMessage, sub.group_id


@pytest.mark.parametrize("service", ROUTERS)
def test_service_consumers_tolerate_headers_that_are_not_utf8(service: str) -> None:
    # FastStream's own parser fails on such a header before the handler runs, and the
    # batch is acknowledged unhandled (found by the Kafka intake fuzz).
    subscribers: list[Any] = list(ROUTERS[service]().subscribers)
    assert subscribers
    for sub in subscribers:
        assert sub._call_options.parser is tolerant_headers, sub.group_id


async def test_a_nacked_batch_on_a_router_is_handled_again(
    kafka_bootstrap: str, kafka_idempotent: bool
) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic = TopicSpec(f"t-router-nack-{suffix}", 3, "router nack test")
    await ensure_topics(kafka_bootstrap, (topic,))
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for i in range(30):
            await producer.send_and_wait(topic.name, f"m{i}".encode(), key=str(i % 3).encode())
    finally:
        await producer.stop()

    seen: list[str] = []
    failed_once = asyncio.Event()
    router = make_router()

    @router.subscriber(
        topic.name,
        group_id=f"g-router-nack-{suffix}",
        batch=True,
        max_records=100,
        auto_offset_reset="earliest",
        decoder=raw_only,
    )
    async def handle(message: KafkaMessage) -> None:
        records = message.raw_message
        values = [r.value.decode() for r in (records if isinstance(records, tuple) else (records,))]
        if not failed_once.is_set():
            failed_once.set()
            await retry_later(RuntimeError("database down"), 0.1)
        seen.extend(values)

    broker = make_broker(kafka_bootstrap, client_id=f"nack-{suffix}", idempotent=kafka_idempotent)
    broker.include_router(router)
    await broker.start()
    try:
        for _ in range(400):
            if len(set(seen)) == 30:
                break
            await asyncio.sleep(0.05)
    finally:
        await broker.stop()
    assert failed_once.is_set()
    assert sorted(set(seen)) == sorted(f"m{i}" for i in range(30)), "a nacked batch was lost"
