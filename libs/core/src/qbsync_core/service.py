"""Wiring shared by every service's `app.py`: settings -> telemetry -> broker -> app.

A service supplies its name, schema, migrations folder and routers; the lifespan
creates missing topics and migrates the service's schema before consuming.
"""

from collections.abc import Sequence
from pathlib import Path

from faststream import FastStream
from faststream.kafka import KafkaRouter
from prometheus_client import CollectorRegistry

from qbsync_core.broker import ensure_topics, make_broker
from qbsync_core.db import migrate
from qbsync_core.settings import QbsyncSettings
from qbsync_core.telemetry import setup_logging, setup_tracing


def create_service_app(
    *,
    name: str,
    schema: str,
    migrations_dir: Path,
    settings: QbsyncSettings,
    routers: Sequence[KafkaRouter] = (),
) -> FastStream:
    """Build a FastStream app for one service (no I/O until it starts)."""
    setup_logging(name, settings.log_level)
    tracer_provider = setup_tracing(name, settings.otel_exporter_otlp_endpoint)
    broker = make_broker(
        settings.kafka_bootstrap_servers,
        client_id=name,
        idempotent=settings.kafka_idempotent_producer,
        tracer_provider=tracer_provider,
        registry=CollectorRegistry(),
    )
    for router in routers:
        broker.include_router(router)
    app = FastStream(broker)

    @app.on_startup
    async def _prepare() -> None:
        await ensure_topics(settings.kafka_bootstrap_servers)
        await migrate(settings.database_url, schema, migrations_dir)

    @app.after_shutdown
    async def _flush_spans() -> None:
        tracer_provider.shutdown()

    return app
