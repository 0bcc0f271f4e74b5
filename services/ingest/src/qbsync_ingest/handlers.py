"""Kafka intake: batches from qbsync.inbound.v1 through the same path as HTTP.

Offsets are committed after the batch is handled (AckPolicy.ACK). A broken
message becomes an error record and the batch is committed; an unavailable
database or broker is not the message's fault, so the batch is nacked (the
consumer seeks back) after a pause and handled again.
"""

import re
from collections.abc import Sequence

import structlog
from faststream.kafka import KafkaMessage, KafkaRouter
from opentelemetry import trace
from qbsync_core.broker import make_router
from qbsync_core.consuming import raw_only, retry_later, tolerant_headers, trace_carrier
from qbsync_core.errors import InfrastructureFailure
from qbsync_core.topics import INBOUND

from qbsync_ingest.intake import Submitted, intake
from qbsync_ingest.resources import NotReady, Resources

RETRY_PAUSE_SECONDS = 2.0
log = structlog.get_logger()


_TENANT_ID = re.compile(r"[a-z0-9-]{1,64}")


def _owner(headers: Sequence[tuple[str, bytes]]) -> str | None:
    # Set by the errors service on a replay: the tenant whose error record it was. A
    # value that is no tenant id cannot come from it and would become the error
    # record's tenant (NULs, 200 kB): ignored, the payload's own tenant decides, as for
    # any message on this topic.
    for key, value in headers:
        if key == "qbsync-tenant":
            owner = value.decode("utf-8", "replace")
            return owner if _TENANT_ID.fullmatch(owner) else None
    return None


def build_router(resources: Resources) -> KafkaRouter:
    """The inbound subscriber, reading its pool and forwarder from `resources`."""
    settings = resources.settings
    router = make_router()

    @router.subscriber(
        INBOUND.name,
        group_id=settings.group_id,
        batch=True,
        max_records=settings.kafka_max_records,
        auto_offset_reset="earliest",
        decoder=raw_only,
        parser=tolerant_headers,
    )
    async def on_inbound(message: KafkaMessage) -> None:
        raw = message.raw_message
        records = raw if isinstance(raw, tuple) else (raw,)
        items = [
            Submitted(r.value or b"", carrier=trace_carrier(r.headers), owner=_owner(r.headers))
            for r in records
        ]
        context = trace.get_current_span().get_span_context()
        trace_id = format(context.trace_id, "032x") if context.is_valid else None
        try:
            pool, forwarder = resources.ready()
            await intake(
                pool, forwarder, items, path="kafka", trace_id=trace_id, metrics=resources.metrics
            )
        except (InfrastructureFailure, NotReady) as exc:
            log.warning("inbound batch will be retried", error=str(exc), records=len(items))
            await retry_later(exc, RETRY_PAUSE_SECONDS)

    return router
