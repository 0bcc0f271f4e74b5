"""Kafka intake of qbsync.errors.v1 into the errors schema.

Offsets are committed after a batch is stored (AckPolicy.ACK). A message that is
not an error record is kept in `unreadable_records` and the batch goes on; an
unavailable database is not the message's fault, so the batch is nacked (the
consumer seeks back) after a pause and stored again, which is harmless: a
redelivered record changes nothing (see storage.upsert_records).
"""

from typing import Any

import asyncpg
import structlog
from faststream.kafka import KafkaMessage, KafkaRouter
from opentelemetry.trace import NoOpTracer, Tracer
from pydantic import ValidationError
from qbsync_core.broker import make_router
from qbsync_core.consuming import raw_only, retry_later, tolerant_headers
from qbsync_core.records import ErrorRecord
from qbsync_core.topics import ERRORS

from qbsync_errors.resources import NotReady, Resources
from qbsync_errors.storage import record_unreadable, upsert_records
from qbsync_errors.tracing import RecordSpans

RETRY_PAUSE_SECONDS = 2.0
log = structlog.get_logger()


# Only these mean "the database is unavailable"; any other database error is about
# the data, and retrying the batch would loop forever.
_CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


_RETRY: tuple[type[Exception], ...] = (OSError, *_CONNECTION_ERRORS, NotReady)


async def _store(
    pool: asyncpg.Pool, parsed: list[tuple[ErrorRecord, Any]], resources: Resources
) -> list[ErrorRecord]:
    records = [record for record, _ in parsed]
    try:
        async with pool.acquire() as conn:
            await upsert_records(conn, records, resources.retry_policy)
    except _CONNECTION_ERRORS:
        raise
    except asyncpg.PostgresError:
        # One record the database refuses (e.g. a NUL character): store the rest one by
        # one and keep the refused ones as unreadable, rather than nack forever.
        stored = []
        for record, message in parsed:
            try:
                async with pool.acquire() as conn:
                    await upsert_records(conn, [record], resources.retry_policy)
                stored.append(record)
            except _CONNECTION_ERRORS:
                raise
            except asyncpg.PostgresError as exc:
                log.warning("error record refused by the database, kept as unreadable")
                await record_unreadable(pool, message.key, message.value or b"", str(exc)[:2000])
        return stored
    return records


def build_router(resources: Resources, tracer: Tracer | None = None) -> KafkaRouter:
    """The errors subscriber, reading its pool from `resources`; spans each record."""
    tracer = tracer or NoOpTracer()
    settings = resources.settings
    router = make_router()

    @router.subscriber(
        ERRORS.name,
        group_id=settings.group_id,
        batch=True,
        max_records=settings.kafka_max_records,
        auto_offset_reset="earliest",
        decoder=raw_only,
        parser=tolerant_headers,
    )
    async def on_errors(message: KafkaMessage) -> None:
        raw = message.raw_message
        messages = raw if isinstance(raw, tuple) else (raw,)
        try:
            pool, _ = resources.ready()
            parsed: list[tuple[ErrorRecord, Any]] = []
            for m in messages:
                try:
                    parsed.append((ErrorRecord.model_validate_json(m.value or b""), m))
                except ValidationError as exc:
                    log.warning("unreadable error record kept", error=str(exc)[:200])
                    await record_unreadable(pool, m.key, m.value or b"", str(exc)[:2000])
            with RecordSpans(tracer, [record for record, _ in parsed]) as spans:
                stored = await _store(pool, parsed, resources)
                spans.stored(stored)
            resources.metrics.received_records(stored)
        except _RETRY as exc:
            log.warning("error batch will be stored again", error=str(exc), records=len(messages))
            await retry_later(exc, RETRY_PAUSE_SECONDS)

    return router
