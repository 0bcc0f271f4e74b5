"""Wiring shared by every service's `app.py`: settings -> telemetry -> broker -> app.

Every service is a FastAPI app whose lifespan calls `prepare` (topics, migrations)
before it starts the broker that `build_runtime` built.
"""

from dataclasses import dataclass, field
from pathlib import Path

from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import CollectorRegistry

from qbsync_core.broker import ensure_topics, make_broker
from qbsync_core.db import migrate
from qbsync_core.settings import QbsyncSettings
from qbsync_core.telemetry import setup_logging, setup_tracing


@dataclass
class Runtime:
    """The objects every service process has exactly one of."""

    name: str
    settings: QbsyncSettings
    tracer_provider: TracerProvider
    broker: KafkaBroker
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)


def build_runtime(
    name: str, settings: QbsyncSettings, registry: CollectorRegistry | None = None
) -> Runtime:
    """Logging, tracing and the broker for service `name` (no I/O)."""
    registry = registry or CollectorRegistry()
    setup_logging(name, settings.log_level)
    tracer_provider = setup_tracing(
        name, settings.otel_exporter_otlp_endpoint, trace_store=settings.trace_store
    )
    broker = make_broker(
        settings.kafka_bootstrap_servers,
        client_id=name,
        idempotent=settings.kafka_idempotent_producer,
        tracer_provider=tracer_provider,
        registry=registry,
    )
    return Runtime(name, settings, tracer_provider, broker, registry)


async def prepare(settings: QbsyncSettings, schema: str, migrations_dir: Path) -> None:
    """Create missing topics and migrate the service's schema."""
    await ensure_topics(settings.kafka_bootstrap_servers)
    await migrate(settings.database_url, schema, migrations_dir)
