"""The Kafka side of intake: accepted events, error records and QBO payment notices.

A dedicated aiokafka producer sends them, not FastStream's publish: its
per-message middleware costs several times the send itself, and intake forwards
thousands of events a second. Each accepted event gets its own trace (its own
root span, or the upstream producer's trace when the inbound message carried
`traceparent`), linked to the batch or request that carried it, and the trace
context travels on in the message headers.
"""

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from qbsync_core.records import ErrorRecord, QboPaymentNotice
from qbsync_core.topics import ACCEPTED, COMMANDS, ERRORS
from qbsync_core.tracing import current_traceparent

from qbsync_ingest.rules import Valid

UNKNOWN_TENANT_KEY = b"unknown-tenant"
# W3C trace context only: the global propagator also walks baggage for every message.
_W3C = TraceContextTextMapPropagator()
JSON = ("content-type", b"application/json")

Send = tuple[str, bytes, bytes, list[tuple[str, bytes]]]


class KafkaForwarder:
    """Publishes through one producer; every call returns once the broker acknowledged all."""

    def __init__(self, producer: AIOKafkaProducer, tracer: Tracer) -> None:
        """Send with `producer` (started by the app's lifespan); trace with `tracer`."""
        self._producer = producer
        self._tracer = tracer

    async def _send_all(self, sends: list[Send]) -> None:
        # Enqueue everything first (the producer batches per partition), then wait for all acks.
        futures = [
            await self._producer.send(topic, value, key=key, headers=headers)
            for topic, value, key, headers in sends
        ]
        await asyncio.gather(*futures)

    def _event_headers(self, event: Valid) -> list[tuple[str, bytes]]:
        parent = _W3C.extract(dict(event.carrier)) if event.carrier else Context()
        span = self._tracer.start_span(
            "ingest.accept",
            context=parent,
            links=[Link(trace.get_current_span().get_span_context())],
        )
        if span.is_recording():  # attributes cost more than the span; skip when sampled out
            span.set_attributes(
                {
                    "qbsync.tenant_id": event.event.tenant_id,
                    "qbsync.event_id": event.event.event_id,
                    "qbsync.event_type": event.event.type,
                }
            )
        span.end()
        carrier: dict[str, str] = {}
        _W3C.inject(carrier, context=trace.set_span_in_context(span, parent))
        return [
            ("qbsync-event-id", event.event.event_id.encode()),
            ("qbsync-source", event.event.source.encode()),
            ("qbsync-type", event.event.type.encode()),
            JSON,
            *((k, v.encode()) for k, v in carrier.items()),
        ]

    async def accepted(self, events: Sequence[Valid]) -> None:
        """Forward the exact bytes of each valid event, keyed by tenant."""
        await self._send_all(
            [
                (ACCEPTED.name, e.raw, e.event.tenant_id.encode(), self._event_headers(e))
                for e in events
            ]
        )

    async def errors(self, records: Sequence[ErrorRecord]) -> None:
        """Publish error records, keyed by tenant (or a shared key when unknown)."""
        # Called inside the request's (or consumed batch's) span whose trace the records
        # name: the errors service continues the trace under that span.
        records = [
            r
            if r.traceparent
            else r.model_copy(update={"traceparent": current_traceparent(r.trace_id)})
            for r in records
        ]
        await self._send_all(
            [
                (
                    ERRORS.name,
                    r.model_dump_json().encode(),
                    r.tenant_id.encode() if r.tenant_id else UNKNOWN_TENANT_KEY,
                    [JSON],
                )
                for r in records
            ]
        )

    async def payment_notices(self, notices: Sequence[QboPaymentNotice]) -> None:
        """Hand QBO payment changes to the poster, keyed by realm."""
        await self._send_all(
            [
                (
                    COMMANDS.name,
                    n.model_dump_json().encode(),
                    f"realm:{n.realm_id}".encode(),
                    [("qbsync-kind", n.kind.encode()), JSON],
                )
                for n in notices
            ]
        )
