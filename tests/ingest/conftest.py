"""An ingest app on the real broker and database, shared by the module's tests."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from qbsync_core.db import create_pool
from qbsync_core.topics import ACCEPTED, COMMANDS, ERRORS
from qbsync_ingest.app import SCHEMA, create_app
from qbsync_ingest.settings import IngestSettings
from qbsync_ingest.storage import create_api_key

from tests.fixtures.kafka_tap import TopicTap, tap

WEBHOOK_TOKEN = "verifier-for-tests"


@dataclass
class Ingest:
    app: FastAPI
    http: httpx.AsyncClient
    settings: IngestSettings
    accepted: TopicTap
    errors: TopicTap
    commands: TopicTap

    async def api_key(self, tenant: str) -> str:
        pool = await create_pool(self.settings.database_url, SCHEMA, max_size=1)
        try:
            async with pool.acquire() as conn:
                return (await create_api_key(conn, tenant)).token
        finally:
            await pool.close()


@pytest.fixture(scope="session")
async def ingest(
    kafka_bootstrap: str, database_url: str, kafka_idempotent: bool
) -> AsyncIterator[Ingest]:
    settings = IngestSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        kafka_idempotent_producer=kafka_idempotent,
        group_id=f"qbsync-ingest-{uuid.uuid4().hex[:8]}",
        qbo_webhook_verifier_token=SecretStr(WEBHOOK_TOKEN),
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://ingest"
        ) as client,
        tap(kafka_bootstrap, ACCEPTED.name) as accepted,
        tap(kafka_bootstrap, ERRORS.name) as errors,
        tap(kafka_bootstrap, COMMANDS.name) as commands,
    ):
        yield Ingest(app, client, settings, accepted, errors, commands)


@pytest.fixture(scope="session")
async def session_loop() -> asyncio.AbstractEventLoop:
    """The session's event loop, for sync tests (hypothesis) that drive async fixtures."""
    return asyncio.get_running_loop()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"
