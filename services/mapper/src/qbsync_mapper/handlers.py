"""Kafka consumption: batches from qbsync.accepted.v1 through the mapping path.

Offsets are committed after the batch is handled (AckPolicy.ACK). A rule that
cannot be applied, or a bug while mapping, becomes an error record and the batch
is committed; an unavailable database or broker is not the events' fault, so the
batch is nacked (the consumer seeks back) after a pause and mapped again, to the
same command ids. The same router reads operator actions (`operator_actions`).
"""

from collections.abc import Sequence

import structlog
from faststream.kafka import KafkaMessage, KafkaRouter
from qbsync_core.broker import make_router
from qbsync_core.consuming import raw_only, retry_later, tolerant_headers, trace_carrier
from qbsync_core.errors import InfrastructureFailure
from qbsync_core.topics import ACCEPTED, COMMANDS

from qbsync_mapper.mapping import Accepted, map_batch
from qbsync_mapper.operator_actions import handle_actions
from qbsync_mapper.records import Record
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
    except Exception as exc:  # last resort, see below
        # map_batch turns bugs into error records; reaching here means even that failed.
        # Returning or raising would commit the offsets (AckPolicy.ACK) and lose the
        # batch, so it is consumed again after a pause.
        log.exception("accepted batch failed unexpectedly; it will be consumed again")
        await retry_later(exc, RETRY_PAUSE_SECONDS)


def actions_group_id(group_id: str) -> str:
    """The consumer group of operator actions: its own, so it never shares the poster's."""
    return f"{group_id}-actions"


def build_router(resources: Resources) -> KafkaRouter:
    """The accepted-events and operator-actions subscribers, reading from `resources`."""
    settings = resources.settings
    router = make_router()

    @router.subscriber(
        ACCEPTED.name,
        group_id=settings.group_id,
        batch=True,
        max_records=settings.kafka_max_records,
        auto_offset_reset="earliest",
        decoder=raw_only,
        parser=tolerant_headers,
    )
    async def on_accepted(message: KafkaMessage) -> None:
        raw = message.raw_message
        await handle_records(resources, raw if isinstance(raw, tuple) else (raw,))

    @router.subscriber(
        COMMANDS.name,
        group_id=actions_group_id(settings.group_id),
        batch=True,
        max_records=settings.kafka_max_records,
        auto_offset_reset="earliest",
        decoder=raw_only,
        parser=tolerant_headers,
    )
    async def on_commands(message: KafkaMessage) -> None:
        raw = message.raw_message
        await handle_actions(resources, raw if isinstance(raw, tuple) else (raw,))

    return router
