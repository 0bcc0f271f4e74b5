"""What the transports share once the app's lifespan has opened it."""

from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from qbsync_ingest.forwarding import KafkaForwarder
from qbsync_ingest.metrics import IntakeMetrics
from qbsync_ingest.settings import IngestSettings


class NotReady(RuntimeError):
    """The lifespan has not opened the pool and producer yet (or has closed them)."""


@dataclass
class Resources:
    """Settings and metrics at once; pool, producer and forwarder while running."""

    settings: IngestSettings
    metrics: IntakeMetrics
    broker: KafkaBroker
    pool: asyncpg.Pool | None = None
    producer: AIOKafkaProducer | None = None
    forwarder: KafkaForwarder | None = None

    def ready(self) -> tuple[asyncpg.Pool, KafkaForwarder]:
        """The pool and forwarder.

        Raises:
            NotReady: before startup finished or after shutdown began.
        """
        if self.pool is None or self.forwarder is None:
            raise NotReady("ingest is starting up or shutting down")
        return self.pool, self.forwarder
