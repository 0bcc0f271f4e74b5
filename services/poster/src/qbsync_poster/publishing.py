"""The Kafka side of posting: posted records and error records, through one producer.

A dedicated aiokafka producer sends them (as in the mapper); each call returns once the
broker acknowledged every record, so the caller commits its offsets only after that.
"""

import asyncio
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from qbsync_core.records import ErrorRecord
from qbsync_core.topics import ERRORS, POSTED

JSON = ("content-type", b"application/json")


class Publisher(Protocol):
    """Where posting outcomes go; each call returns once the broker has them."""

    async def publish(
        self, posted: Sequence[tuple[str, BaseModel]], errors: Sequence[ErrorRecord]
    ) -> None:
        """Publish (tenant, record) pairs to qbsync.posted.v1 and errors to qbsync.errors.v1."""


class KafkaPublisher:
    """Publishes through one producer, keyed by tenant id."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        """Send with `producer` (started and stopped by the app's lifespan)."""
        self._producer = producer

    async def publish(
        self, posted: Sequence[tuple[str, BaseModel]], errors: Sequence[ErrorRecord]
    ) -> None:
        """Send everything, then wait for every acknowledgement."""
        sends = [
            (POSTED.name, r.model_dump_json().encode(), tenant.encode()) for tenant, r in posted
        ]
        sends.extend(
            (ERRORS.name, r.model_dump_json().encode(), (r.tenant_id or "").encode())
            for r in errors
        )
        futures = [
            await self._producer.send(topic, value, key=key, headers=[JSON])
            for topic, value, key in sends
        ]
        await asyncio.gather(*futures)
