"""The errors app's wiring: schema migrated, commit-after-handle, health endpoints."""

import asyncio

import asyncpg
import pytest
from faststream import AckPolicy
from qbsync_errors.resources import Resources

from tests.errors.conftest import Errors, make_record

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


class TestWiring:
    async def test_startup_migrated_the_errors_schema(self, errors: Errors) -> None:
        conn = await asyncpg.connect(errors.settings.database_url)
        try:
            tables = {
                r["table_name"]
                for r in await conn.fetch(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'errors'"
                )
            }
        finally:
            await conn.close()
        assert {"errors", "audit", "api_keys", "webhooks", "deliveries"} <= tables

    def test_the_consumer_commits_after_handling(self, errors: Errors) -> None:
        resources: Resources = errors.app.state.resources
        assert resources.broker.config.broker_config.ack_policy is AckPolicy.ACK

    async def test_health_and_readiness(self, errors: Errors) -> None:
        assert (await errors.http.get("/healthz")).json() == {"status": "ok"}
        assert (await errors.http.get("/readyz")).json() == {"status": "ready"}

    async def test_metrics_count_received_and_open_errors(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        record = make_record(tenant)
        await errors.publish(record)
        await errors.wait_error(key, record.record_id)
        await asyncio.sleep(0.3)  # a jobs tick refreshes the open gauge
        text = (await errors.http.get("/metrics")).text
        assert 'qbsync_errors_received_total{category="Mapping",stage="mapper"}' in text
        assert 'qbsync_errors_open{category="Mapping"}' in text
