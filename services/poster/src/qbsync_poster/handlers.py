"""Kafka consumption: batches from qbsync.commands.v1 through `dispatch.handle_batch`.

Offsets are committed after the batch is handled (AckPolicy.ACK), i.e. after its ledger
rows are durable and its outcomes published. QBO and data failures are error records
inside the batch; an unavailable database or broker is not the commands' fault, so the
batch is nacked (the consumer seeks back) after a pause and handled again; done command
ids and pending ledger rows make the second pass write nothing twice.
"""

import asyncpg
import structlog
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaMessage, KafkaRouter
from qbsync_core.consuming import raw_only, retry_later
from qbsync_core.errors import InfrastructureFailure

from qbsync_poster.dispatch import Raw, handle_batch
from qbsync_poster.resources import NotReady, Resources

RETRY_PAUSE_SECONDS = 2.0
INFRASTRUCTURE = (InfrastructureFailure, NotReady, asyncpg.PostgresError, OSError, KafkaError)
log = structlog.get_logger()


def build_router(resources: Resources) -> KafkaRouter:
    """The commands subscriber, reading its dependencies from `resources`."""
    settings = resources.settings
    router = KafkaRouter()

    @router.subscriber(
        settings.commands_topic,
        group_id=settings.group_id,
        batch=True,
        max_records=settings.kafka_max_records,
        auto_offset_reset="earliest",
        decoder=raw_only,
    )
    async def on_commands(message: KafkaMessage) -> None:
        raw = message.raw_message
        records = raw if isinstance(raw, tuple) else (raw,)
        items = [
            Raw(r.value or b"", {k: v.decode("latin-1") for k, v in r.headers}) for r in records
        ]
        try:
            await handle_batch(resources.ready(), items)
        except INFRASTRUCTURE as exc:
            log.warning("command batch will be retried", error=str(exc), records=len(items))
            await retry_later(exc, RETRY_PAUSE_SECONDS)

    return router
