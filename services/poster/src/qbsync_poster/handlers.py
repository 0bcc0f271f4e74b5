"""Kafka consumption: batches from qbsync.commands.v1 through `dispatch.handle_batch`.

Offsets are committed after the batch is handled (AckPolicy.ACK), i.e. after its ledger
rows are durable and its outcomes published. QBO and data failures are error records
inside the batch; an unavailable database or broker is not the commands' fault, so the
batch is nacked (the consumer seeks back) after a pause and handled again; done command
ids and pending ledger rows make the second pass write nothing twice.

A database error that is not transient (`dbfaults`) is about some command's data: the
batch is then handled again one record at a time, so only the records that cause it end
as error records and the consumer moves on.
"""

import asyncpg
import structlog
from aiokafka.errors import KafkaError
from faststream.kafka import KafkaMessage, KafkaRouter
from qbsync_core.broker import make_router
from qbsync_core.consuming import raw_only, retry_later, tolerant_headers
from qbsync_core.errors import InfrastructureFailure

from qbsync_poster.dbfaults import is_transient
from qbsync_poster.dispatch import Raw, handle_batch, handle_one_by_one
from qbsync_poster.resources import NotReady, Resources

RETRY_PAUSE_SECONDS = 2.0
HEARTBEAT_INTERVAL_MS = 500
INFRASTRUCTURE = (InfrastructureFailure, NotReady, OSError, KafkaError, TimeoutError)
log = structlog.get_logger()


def build_router(resources: Resources) -> KafkaRouter:
    """`settings.consumers` subscribers of the commands topic in one group.

    Each is its own group member with its own partitions, so one partition's slow batch
    (a realm waiting on QBO's limits) does not hold the others. Offsets stay per member:
    each commits after its own batch.
    """
    settings = resources.settings
    router = make_router()

    for _ in range(settings.consumers):
        # A function per subscriber: FastStream wraps (and may cache) the handler.
        async def on_commands(message: KafkaMessage) -> None:
            raw = message.raw_message
            records = raw if isinstance(raw, tuple) else (raw,)
            items = [
                Raw(r.value or b"", {k: v.decode("latin-1") for k, v in r.headers}) for r in records
            ]
            await handle(resources, items)

        router.subscriber(
            settings.commands_topic,
            group_id=settings.group_id,
            batch=True,
            max_records=settings.kafka_max_records,
            # Room for a whole consumed batch of ~1 KB commands in one fetch.
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_min_bytes=settings.kafka_fetch_min_bytes,
            fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
            auto_offset_reset="earliest",
            # Members learn of a rebalance at their next heartbeat: with several members
            # per process, Kafka's 3 s made every start (and every member joining) wait
            # seconds for the group to settle.
            heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
            decoder=raw_only,
            parser=tolerant_headers,
        )(on_commands)

    return router


async def handle(resources: Resources, items: list[Raw]) -> None:
    """Handle one consumed batch; nack it only on infrastructure failures."""
    try:
        try:
            await handle_batch(resources.ready(), items)
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if is_transient(exc):
                raise
            log.warning(
                "database refused a batch's data; handling it record by record",
                error=str(exc),
                sqlstate=getattr(exc, "sqlstate", None),
                records=len(items),
            )
            await handle_one_by_one(resources.ready(), items)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, *INFRASTRUCTURE) as exc:
        log.warning("command batch will be retried", error=str(exc), records=len(items))
        await retry_later(exc, RETRY_PAUSE_SECONDS)
    except Exception as exc:
        # FastStream's AckPolicy.ACK commits the offsets of a handler that raised, and the
        # broker is built without a logger: a bug here would drop the batch silently.
        # Retrying keeps the rule "offsets only after durable outcomes" and shows the bug.
        log.exception("command batch failed unexpectedly; it will be retried", records=len(items))
        await retry_later(exc, RETRY_PAUSE_SECONDS)
