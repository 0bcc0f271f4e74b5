"""An errors app on the real broker and database, shared by the package's tests.

Its schedules are shrunk to fractions of a second (retry, digest, pause), and the
same app object is also served by uvicorn on a free port for the browser and CLI.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from qbsync_core.db import create_pool
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import ErrorRecord, Reason, Stage, encode_payload, record_id_for
from qbsync_core.topics import ACCEPTED, COMMANDS, ERRORS, INBOUND
from qbsync_dev.processes import free_port
from qbsync_errors.app import SCHEMA, create_app
from qbsync_errors.keys import create_api_key
from qbsync_errors.settings import ErrorsSettings

from tests.fixtures.kafka_tap import TopicTap, tap


@dataclass
class Errors:
    app: FastAPI
    http: httpx.AsyncClient
    settings: ErrorsSettings
    producer: AIOKafkaProducer
    inbound: TopicTap
    accepted: TopicTap
    commands: TopicTap

    async def key(self, tenant: str | None) -> str:
        pool = await create_pool(self.settings.database_url, SCHEMA, max_size=1)
        try:
            async with pool.acquire() as conn:
                return (await create_api_key(conn, tenant)).token
        finally:
            await pool.close()

    async def publish(self, *records: ErrorRecord) -> None:
        for record in records:
            key = record.tenant_id.encode() if record.tenant_id else b"unknown-tenant"
            await self.producer.send_and_wait(
                ERRORS.name, record.model_dump_json().encode(), key=key
            )

    async def wait_error(
        self,
        key: str,
        record_id: str,
        until: Callable[[dict[str, Any]], bool] = lambda _: True,
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        last: Any = None
        while asyncio.get_running_loop().time() < deadline:
            response = await self.http.get(
                f"/v1/errors/{record_id}", headers={"Authorization": f"Bearer {key}"}
            )
            last = response.json()
            if response.status_code == 200 and until(last):
                return dict(last)
            await asyncio.sleep(0.05)
        raise AssertionError(f"error {record_id} never reached the state: last {last}")


def make_record(
    tenant: str | None,
    *,
    stage: Stage = Stage.MAPPER,
    category: ErrorCategory = ErrorCategory.MAPPING,
    payload: bytes | None = None,
    retriable: bool = False,
    reasons: list[Reason] | None = None,
    **extra: Any,
) -> ErrorRecord:
    raw = payload or f'{{"event_id": "{uuid.uuid4()}", "tenant_id": "{tenant}"}}'.encode()
    return ErrorRecord(
        record_id=record_id_for(stage, tenant or "", raw),
        tenant_id=tenant,
        category=category,
        stage=stage,
        cause=f"{category.value} failure {uuid.uuid4().hex[:6]}",
        reasons=reasons or [Reason(field="lines[0].item", message="no mapping")],
        payload_b64=encode_payload(raw),
        retriable=retriable,
        trace_id=uuid.uuid4().hex,
        occurred_at=extra.pop("occurred_at", datetime.now(UTC)),
        **extra,
    )


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
async def errors(
    kafka_bootstrap: str, database_url: str, kafka_idempotent: bool
) -> AsyncIterator[Errors]:
    settings = ErrorsSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        kafka_idempotent_producer=kafka_idempotent,
        group_id=f"qbsync-errors-{uuid.uuid4().hex[:8]}",
        tick_seconds=0.1,
        retry_base_seconds=0.3,
        retry_factor=2.0,
        retry_max_attempts=2,
        digest_seconds=1.0,
        webhook_retry_base_seconds=0.2,
        webhook_max_attempts=4,
        webhook_timeout_seconds=2.0,
        auth_pause_after_seconds=1.0,
    )
    app = create_app(settings)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://errors"
        ) as client,
        tap(kafka_bootstrap, INBOUND.name) as inbound,
        tap(kafka_bootstrap, ACCEPTED.name) as accepted,
        tap(kafka_bootstrap, COMMANDS.name) as commands,
    ):
        await producer.start()
        try:
            yield Errors(app, client, settings, producer, inbound, accepted, commands)
        finally:
            await producer.stop()


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free port of this loop; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture(scope="session")
async def errors_url(errors: Errors) -> AsyncIterator[str]:
    """The session's errors app served over real HTTP (its lifespan already runs)."""
    async with serve(errors.app) as url:
        yield url


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"
