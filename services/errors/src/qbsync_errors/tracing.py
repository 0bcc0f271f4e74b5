"""The errors service's span per error record, in the trace of the event that failed.

Each record names the span that raised it (`traceparent`, else only its `trace_id`),
so its handling here shows up in that event's trace next to the failure itself.
Records are stored in batches: the spans start before the batch is written and end
once it is, so each span's duration is its batch's.
"""

from collections.abc import Sequence
from types import TracebackType

from opentelemetry.trace import Span, StatusCode, Tracer
from qbsync_core.records import ErrorRecord
from qbsync_core.tracing import parent_context


def _attributes(record: ErrorRecord) -> dict[str, str]:
    attributes = {
        "qbsync.record_id": record.record_id,
        "qbsync.stage": str(record.stage),
        "qbsync.category": str(record.category),
    }
    if record.tenant_id:
        attributes["qbsync.tenant_id"] = record.tenant_id
    if record.event_id:
        attributes["qbsync.event_id"] = record.event_id
    return attributes


class RecordSpans:
    """`with RecordSpans(tracer, records) as spans: ...; spans.stored(kept)`."""

    def __init__(self, tracer: Tracer, records: Sequence[ErrorRecord]) -> None:
        """Start one `errors.record` span per record, each in its record's trace."""
        self._spans: list[tuple[ErrorRecord, Span]] = [
            (
                r,
                tracer.start_span(
                    "errors.record",
                    context=parent_context(r.traceparent, r.trace_id),
                    attributes=_attributes(r),
                ),
            )
            for r in records
        ]

    def __enter__(self) -> "RecordSpans":
        return self

    def stored(self, kept: Sequence[ErrorRecord]) -> None:
        """Mark the records the database refused (those not in `kept`) as failed."""
        kept_ids = {id(r) for r in kept}
        for record, span in self._spans:
            if id(record) not in kept_ids:
                span.set_status(StatusCode.ERROR, "refused by the database; kept as unreadable")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for _, span in self._spans:
            if exc is not None:
                span.set_status(StatusCode.ERROR, "not stored; the batch will be handled again")
            span.end()
