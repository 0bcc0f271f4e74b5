"""Each service's app wiring starts against the real broker and database and migrates its schema."""

import asyncpg
import pytest
from faststream import AckPolicy, TestApp
from qbsync_core.settings import QbsyncSettings
from qbsync_poster.app import create_app as create_poster_app

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

# ingest, mapper and errors serve HTTP too (FastAPI apps); tests/<service> exercise them.
FACTORIES = {
    "poster": create_poster_app,
}


@pytest.fixture
def settings(kafka_bootstrap: str, database_url: str, kafka_idempotent: bool) -> QbsyncSettings:
    return QbsyncSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        kafka_idempotent_producer=kafka_idempotent,
    )


class TestServiceWiring:
    @pytest.mark.parametrize("service", sorted(FACTORIES))
    async def test_startup_creates_the_service_schema(
        self, service: str, settings: QbsyncSettings, db: asyncpg.Connection
    ) -> None:
        app = FACTORIES[service](settings)
        async with TestApp(app):
            pass
        assert await db.fetchval(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", service
        )

    @pytest.mark.parametrize("service", sorted(FACTORIES))
    def test_broker_commits_after_handling(self, service: str, settings: QbsyncSettings) -> None:
        app = FACTORIES[service](settings)
        assert app.broker is not None
        assert app.broker.config.broker_config.ack_policy is AckPolicy.ACK
