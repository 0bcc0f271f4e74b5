"""The Kafka side of mapping: posting commands and error records, through one producer.

A dedicated aiokafka producer sends them, not FastStream's publish (several times
slower per message; see docs/ingest.md). Each call returns once the broker has
acknowledged every record, so the caller can commit its transaction after it.
"""

import asyncio
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from qbsync_core.commands import PostingCommand
from qbsync_core.records import ErrorRecord
from qbsync_core.topics import COMMANDS, ERRORS

JSON = ("content-type", b"application/json")

Send = tuple[str, bytes, bytes, list[tuple[str, bytes]]]


class Publisher(Protocol):
    """Where mapping results go; each call returns once the broker has them."""

    async def publish(
        self, commands: Sequence[PostingCommand], errors: Sequence[ErrorRecord]
    ) -> None:
        """Publish commands to qbsync.commands.v1 and error records to qbsync.errors.v1."""


def command_headers(command: PostingCommand) -> list[tuple[str, bytes]]:
    """Headers of a command message: ids for routing and logs, and the trace context."""
    headers = [
        ("qbsync-kind", b"posting-command"),
        ("qbsync-command-id", command.command_id.encode()),
        ("qbsync-event-id", command.event_id.encode()),
        ("qbsync-operation", f"{command.operation}:{command.entity}".encode()),
        JSON,
    ]
    if command.traceparent:
        headers.append(("traceparent", command.traceparent.encode()))
    return headers


class KafkaPublisher:
    """Publishes through one producer, keyed by tenant id."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        """Send with `producer` (started and stopped by the app's lifespan)."""
        self._producer = producer

    async def publish(
        self, commands: Sequence[PostingCommand], errors: Sequence[ErrorRecord]
    ) -> None:
        """Send everything, then wait for every acknowledgement."""
        sends: list[Send] = [
            (
                COMMANDS.name,
                c.model_dump_json().encode(),
                c.tenant_id.encode(),
                command_headers(c),
            )
            for c in commands
        ]
        sends.extend(
            (ERRORS.name, r.model_dump_json().encode(), (r.tenant_id or "").encode(), [JSON])
            for r in errors
        )
        # Enqueue everything first (the producer batches per partition), then wait for all.
        futures = [
            await self._producer.send(topic, value, key=key, headers=headers)
            for topic, value, key, headers in sends
        ]
        await asyncio.gather(*futures)
