"""The Kafka side of intake: publishing accepted events and error records."""

import asyncio
from collections.abc import Sequence

from faststream.kafka import KafkaBroker
from qbsync_core.records import ErrorRecord, QboPaymentNotice
from qbsync_core.topics import ACCEPTED, COMMANDS, ERRORS

from qbsync_ingest.rules import Valid

UNKNOWN_TENANT_KEY = b"unknown-tenant"


class KafkaForwarder:
    """Publishes through the service's broker; every call waits for the broker's acks."""

    def __init__(self, broker: KafkaBroker) -> None:
        """Use `broker` (started by the app's lifespan)."""
        self._broker = broker

    async def accepted(self, events: Sequence[Valid]) -> None:
        """Forward the exact bytes of each valid event, keyed by tenant."""
        await asyncio.gather(
            *(
                self._broker.publish(
                    event.raw,
                    topic=ACCEPTED.name,
                    key=event.event.tenant_id.encode(),
                    headers={
                        "qbsync-event-id": event.event.event_id,
                        "qbsync-source": event.event.source,
                        "qbsync-type": event.event.type,
                        "content-type": "application/json",
                    },
                )
                for event in events
            )
        )

    async def errors(self, records: Sequence[ErrorRecord]) -> None:
        """Publish error records, keyed by tenant (or a shared key when unknown)."""
        await asyncio.gather(
            *(
                self._broker.publish(
                    record.model_dump_json().encode(),
                    topic=ERRORS.name,
                    key=record.tenant_id.encode() if record.tenant_id else UNKNOWN_TENANT_KEY,
                )
                for record in records
            )
        )

    async def payment_notices(self, notices: Sequence[QboPaymentNotice]) -> None:
        """Hand QBO payment changes to the poster, keyed by realm."""
        await asyncio.gather(
            *(
                self._broker.publish(
                    notice.model_dump_json().encode(),
                    topic=COMMANDS.name,
                    key=f"realm:{notice.realm_id}".encode(),
                    headers={"qbsync-kind": notice.kind},
                )
                for notice in notices
            )
        )
