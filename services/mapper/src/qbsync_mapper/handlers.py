"""Kafka consumption: batches from qbsync.accepted.v1 through the mapping path.

Offsets are committed after the batch is handled (AckPolicy.ACK). A rule that
cannot be applied becomes an error record and the batch is committed; an
unavailable database or broker is not the events' fault, so the batch is nacked
(the consumer seeks back) after a pause and mapped again, to the same command ids.
"""

from collections.abc import Sequence
from typing import Protocol

import structlog
from faststream.kafka import KafkaMessage, KafkaRouter
from qbsync_core.consuming import raw_only, retry_later, trace_carrier
from qbsync_core.errors import InfrastructureFailure
from qbsync_core.topics import ACCEPTED

from qbsync_mapper.mapping import Accepted, map_batch
from qbsync_mapper.resources import NotReady, Resources

RETRY_PAUSE_SECONDS = 2.0
log = structlog.get_logger()


def _resync(headers: Sequence[tuple[str, bytes]]) -> str | None:
    values = dict(headers)
    record_id = values.get("qbsync-resync-of")
    if record_id is None:
        return None
    attempt = values.get("qbsync-resync-attempt", b"1")
    return f"{record_id.decode('latin-1')}:{attempt.decode('latin-1')}"


class Record(Protocol):
    """What the handler reads of a consumed Kafka record."""

    @property
    def value(self) -> bytes | None:
        """The record's bytes."""

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]:
        """The record's headers."""


async def handle_records(resources: Resources, records: Sequence[Record]) -> None:
    """Map one consumed batch.

    Raises:
        NackMessage: the database or broker is unavailable (after a pause), so the
            consumer seeks back and the batch is mapped again.
    """
    items = [
        Accepted(r.value or b"", trace_carrier(r.headers), _resync(r.headers)) for r in records
    ]
    try:
        pool, publisher = resources.ready()
        await map_batch(pool, publisher, resources.tracer, items, clock=resources.clock)
    except (InfrastructureFailure, NotReady) as exc:
        log.warning("accepted batch will be retried", error=str(exc), records=len(items))
        await retry_later(exc, RETRY_PAUSE_SECONDS)


def build_router(resources: Resources) -> KafkaRouter:
    """The accepted-events subscriber, reading its pool and publisher from `resources`."""
    settings = resources.settings
    router = KafkaRouter()

    @router.subscriber(
        ACCEPTED.name,
        group_id=settings.group_id,
        batch=True,
        max_records=settings.kafka_max_records,
        auto_offset_reset="earliest",
        decoder=raw_only,
    )
    async def on_accepted(message: KafkaMessage) -> None:
        raw = message.raw_message
        await handle_records(resources, raw if isinstance(raw, tuple) else (raw,))

    return router
