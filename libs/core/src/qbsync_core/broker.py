"""The one way services build their FastStream Kafka broker.

Offsets are committed only after a handler returns (`AckPolicy.ACK`): FastStream's
Kafka default, ACK_FIRST, auto-commits before the handler runs and would lose a
message whose handler crashed. Handlers turn domain failures into error records
and return normally; only transient infrastructure faults should propagate.
"""

import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from opentelemetry.trace import TracerProvider
from prometheus_client import CollectorRegistry

from qbsync_core.topics import ALL_TOPICS, TopicSpec


def make_broker(
    bootstrap_servers: str,
    *,
    client_id: str,
    idempotent: bool = True,
    tracer_provider: TracerProvider | None = None,
    registry: CollectorRegistry | None = None,
) -> KafkaBroker:
    """Build a broker with commit-after-handle, an idempotent producer and telemetry.

    Args:
        bootstrap_servers: comma-separated host:port list.
        client_id: the service name, used as Kafka client id and metrics app name.
        idempotent: idempotent producer; off only for brokers without InitProducerId (Tansu).
        tracer_provider: spans for consume/publish; the global provider when None.
        registry: Prometheus registry for message metrics; none recorded when None.
    """
    middlewares: list[KafkaTelemetryMiddleware | KafkaPrometheusMiddleware] = [
        KafkaTelemetryMiddleware(tracer_provider=tracer_provider),
    ]
    if registry is not None:
        middlewares.append(
            KafkaPrometheusMiddleware(
                registry=registry, app_name=client_id, metrics_prefix="qbsync"
            )
        )
    return KafkaBroker(
        bootstrap_servers.split(","),
        client_id=client_id,
        ack_policy=AckPolicy.ACK,
        enable_idempotence=idempotent,
        middlewares=middlewares,
        logger=None,
    )


def make_router() -> KafkaRouter:
    """A router for a service's subscribers, committing after the handler like the broker.

    FastStream fixes a subscriber's commit mode when the subscriber is created, from
    the router it is declared on; including the router into a broker built with
    `AckPolicy.ACK` later does not change it. A bare `KafkaRouter()` therefore yields
    auto-committing consumers (a batch still being handled is committed every 5 s)
    whose nack does not seek back: a crash or a retry then loses the batch.
    """
    return KafkaRouter(ack_policy=AckPolicy.ACK)


async def ensure_topics(
    bootstrap_servers: str, topics: tuple[TopicSpec, ...] = ALL_TOPICS
) -> list[str]:
    """Create any missing topic with its partition count; return the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers.split(","))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            # Another process may create one between list and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(t.name, num_partitions=t.partitions, replication_factor=1)
                        for t in missing
                    ]
                )
        return [t.name for t in missing]
    finally:
        await admin.close()
