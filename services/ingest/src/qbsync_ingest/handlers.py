"""Kafka intake: batches from qbsync.inbound.v1 through the same path as HTTP.

Offsets are committed after the batch is handled (AckPolicy.ACK). A broken
message becomes an error record and the batch is committed; an unavailable
database or broker is not the message's fault, so the batch is nacked (the
consumer seeks back) after a pause and handled again.
"""

import asyncio

import asyncpg
import structlog
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaMessage, KafkaRouter
from opentelemetry import trace
from qbsync_core.errors import InfrastructureFailure
from qbsync_core.topics import INBOUND

from qbsync_ingest.forwarding import KafkaForwarder
from qbsync_ingest.intake import Submitted, intake
from qbsync_ingest.metrics import IntakeMetrics
from qbsync_ingest.settings import IngestSettings

RETRY_PAUSE_SECONDS = 2.0
log = structlog.get_logger()


def build_router(
    settings: IngestSettings,
    pool_ref: list[asyncpg.Pool],
    forwarder: KafkaForwarder,
    metrics: IntakeMetrics,
) -> KafkaRouter:
    """The inbound subscriber; `pool_ref` holds the pool once the lifespan has opened it."""
    router = KafkaRouter()

    @router.subscriber(
        INBOUND.name,
        group_id=settings.group_id,
        batch=True,
        max_records=settings.kafka_max_records,
        auto_offset_reset="earliest",
    )
    async def on_inbound(message: KafkaMessage) -> None:
        records = (
            message.raw_message
            if isinstance(message.raw_message, tuple)
            else (message.raw_message,)
        )
        items = [Submitted(record.value or b"") for record in records]
        context = trace.get_current_span().get_span_context()
        trace_id = format(context.trace_id, "032x") if context.is_valid else None
        try:
            await intake(
                pool_ref[0], forwarder, items, path="kafka", trace_id=trace_id, metrics=metrics
            )
        except InfrastructureFailure as exc:
            log.warning("inbound batch will be retried", error=str(exc), records=len(items))
            await asyncio.sleep(RETRY_PAUSE_SECONDS)
            raise NackMessage from exc

    return router
