"""Kafka intake of qbsync.errors.v1 into the errors schema.

Offsets are committed after a batch is stored (AckPolicy.ACK). A message that is
not an error record is kept in `unreadable_records` and the batch goes on; an
unavailable database is not the message's fault, so the batch is nacked (the
consumer seeks back) after a pause and stored again, which is harmless: a
redelivered record changes nothing (see storage.upsert_records).
"""

import asyncpg
import structlog
from faststream.kafka import KafkaMessage, KafkaRouter
from pydantic import ValidationError
from qbsync_core.consuming import raw_only, retry_later
from qbsync_core.records import ErrorRecord
from qbsync_core.topics import ERRORS

from qbsync_errors.resources import NotReady, Resources
from qbsync_errors.storage import record_unreadable, upsert_records

RETRY_PAUSE_SECONDS = 2.0
log = structlog.get_logger()


def build_router(resources: Resources) -> KafkaRouter:
    """The errors subscriber, reading its pool from `resources`."""
    settings = resources.settings
    router = KafkaRouter()

    @router.subscriber(
        ERRORS.name,
        group_id=settings.group_id,
        batch=True,
        max_records=settings.kafka_max_records,
        auto_offset_reset="earliest",
        decoder=raw_only,
    )
    async def on_errors(message: KafkaMessage) -> None:
        raw = message.raw_message
        messages = raw if isinstance(raw, tuple) else (raw,)
        try:
            pool, _ = resources.ready()
            records: list[ErrorRecord] = []
            for m in messages:
                try:
                    records.append(ErrorRecord.model_validate_json(m.value or b""))
                except ValidationError as exc:
                    log.warning("unreadable error record kept", error=str(exc)[:200])
                    await record_unreadable(pool, m.key, m.value or b"", str(exc)[:2000])
            async with pool.acquire() as conn:
                await upsert_records(conn, records, resources.retry_policy)
            resources.metrics.received_records(records)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, NotReady) as exc:
            log.warning("error batch will be stored again", error=str(exc), records=len(messages))
            await retry_later(exc, RETRY_PAUSE_SECONDS)

    return router
