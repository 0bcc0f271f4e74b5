"""A mapper app on the real broker and database, shared by the module's tests."""

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from qbsync_core.topics import ACCEPTED, COMMANDS, ERRORS
from qbsync_mapper.app import create_app
from qbsync_mapper.settings import MapperSettings

from tests.fixtures.kafka_tap import TopicTap, tap

JSON = dict[str, Any]


def accepted_headers(payload: JSON, traceparent: str | None = None) -> list[tuple[str, bytes]]:
    headers = [
        ("qbsync-event-id", str(payload["event_id"]).encode()),
        ("qbsync-source", str(payload["source"]).encode()),
        ("qbsync-type", str(payload["type"]).encode()),
    ]
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return headers


@dataclass
class Mapper:
    app: FastAPI
    http: httpx.AsyncClient
    settings: MapperSettings
    producer: AIOKafkaProducer
    commands: TopicTap
    errors: TopicTap

    async def publish(self, payloads: Sequence[JSON], traceparent: str | None = None) -> None:
        """Publish events to qbsync.accepted.v1 as ingest does (exact bytes, keyed by tenant)."""
        await self.publish_raw([(json.dumps(p).encode(), p, traceparent) for p in payloads])

    async def publish_raw(self, items: Sequence[tuple[bytes, JSON, str | None]]) -> None:
        futures = [
            await self.producer.send(
                ACCEPTED.name,
                raw,
                key=str(payload["tenant_id"]).encode(),
                headers=accepted_headers(payload, traceparent),
            )
            for raw, payload, traceparent in items
        ]
        for future in futures:
            await future

    def commands_of(self, tenant: str) -> list[JSON]:
        return [json.loads(r.value) for r in self.commands.keyed(tenant) if r.value]

    def errors_of(self, tenant: str) -> list[JSON]:
        return [json.loads(r.value) for r in self.errors.keyed(tenant) if r.value]


@pytest.fixture(scope="session")
async def mapper(
    kafka_bootstrap: str, database_url: str, kafka_idempotent: bool
) -> AsyncIterator[Mapper]:
    settings = MapperSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        kafka_idempotent_producer=kafka_idempotent,
        group_id=f"qbsync-mapper-{uuid.uuid4().hex[:8]}",
        kafka_max_records=1000,
        release_interval_seconds=0.2,
    )
    app = create_app(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=kafka_idempotent, linger_ms=5
    )
    await producer.start()
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://mapper"
            ) as client,
            tap(kafka_bootstrap, COMMANDS.name) as commands,
            tap(kafka_bootstrap, ERRORS.name) as errors,
        ):
            yield Mapper(app, client, settings, producer, commands, errors)
    finally:
        await producer.stop()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"
