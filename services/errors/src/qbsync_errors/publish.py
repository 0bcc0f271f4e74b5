"""What the errors service puts on Kafka: replays (resync) and operator actions.

A replay goes back to the topic the failing stage consumes, keyed by tenant, with
`qbsync-resync-of: <record_id>` and `qbsync-resync-attempt: <n>` so the stage can
tell a replay from a first delivery (and bypass its own dedupe for it), and a
`traceparent` in the error's original trace, so the replay shows up there.
"""

import secrets
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from qbsync_core.records import OPERATOR_ACTION_KIND, OperatorAction, Stage
from qbsync_core.topics import ACCEPTED, COMMANDS, INBOUND

from qbsync_errors.storage import Locked

UNKNOWN_TENANT_KEY = b"unknown-tenant"
JSON = ("content-type", b"application/json")
REPLAY_TOPIC = {
    Stage.INGEST: INBOUND.name,
    Stage.MAPPER: ACCEPTED.name,
    Stage.POSTER: COMMANDS.name,
}
"""Where a failure is replayed from: the topic its stage consumes."""


def replay_headers(error: Locked, attempt: int) -> list[tuple[str, bytes]]:
    """Headers of a replay of `error`; `attempt` counts replays of it, from 1."""
    headers = [
        ("qbsync-resync-of", error.record_id.encode()),
        ("qbsync-resync-attempt", str(attempt).encode()),
        JSON,
    ]
    if error.tenant_id:
        # The tenant that owns the record: ingest refuses a replayed event of any other
        # tenant, so a key scoped to one tenant cannot push events into another's books.
        headers.append(("qbsync-tenant", error.tenant_id.encode()))
    if error.event_id:
        headers.append(("qbsync-event-id", error.event_id.encode()))
    if error.source:
        headers.append(("qbsync-source", error.source.encode()))
    if error.trace_id and len(error.trace_id) == 32:
        # A new span id in the original trace: the replay continues the failed trace.
        headers.append(("traceparent", f"00-{error.trace_id}-{secrets.token_hex(8)}-01".encode()))
    return headers


class Publisher:
    """Publishes through one producer; every call returns once the broker acknowledged all."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        """Send with `producer` (started by the app's lifespan)."""
        self._producer = producer

    async def replay(self, errors: Sequence[Locked]) -> None:
        """Send each error's original payload back to its stage's input topic."""
        futures = [
            await self._producer.send(
                REPLAY_TOPIC[e.stage],
                e.payload,
                key=e.tenant_id.encode() if e.tenant_id else UNKNOWN_TENANT_KEY,
                headers=replay_headers(e, e.resyncs + 1),
            )
            for e in errors
        ]
        for future in futures:
            await future

    async def action(self, action: OperatorAction) -> None:
        """Publish an operator's decision for the mapper and poster (qbsync.commands.v1)."""
        await self._producer.send_and_wait(
            COMMANDS.name,
            action.model_dump_json().encode(),
            key=action.tenant_id.encode(),
            headers=[("qbsync-kind", OPERATOR_ACTION_KIND.encode()), JSON],
        )
