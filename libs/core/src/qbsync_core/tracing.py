"""W3C trace context between services: what travels in Kafka headers and error records.

Each event has its own trace (ingest starts it, or continues the upstream producer's);
every service that handles the event opens its span as a child of the `traceparent`
the message carried. These helpers are the only place that builds or reads one, so the
services never use the global propagator (it also walks baggage for every message).
"""

import secrets

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

W3C = TraceContextTextMapPropagator()


def traceparent(context: SpanContext) -> str:
    """The W3C `traceparent` value of `context`."""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def current_traceparent(trace_id: str | None = None) -> str | None:
    """The current span's `traceparent`, or None when there is no valid current span.

    Args:
        trace_id: when given, also None unless the current span is in that trace (a
            batch's consumer span is current around per-event code, and it is not the
            event's trace).
    """
    context = trace.get_current_span().get_span_context()
    if not context.is_valid or (trace_id is not None and f"{context.trace_id:032x}" != trace_id):
        return None
    return traceparent(context)


def parent_context(traceparent_value: str | None, trace_id: str | None = None) -> Context:
    """The context to open a span in: the `traceparent` if any, else the trace `trace_id`.

    With only a trace id (a record from before records carried `traceparent`), the
    span joins the trace under a made-up remote parent: the trace stays whole, and
    `qbsync trace` shows the span at the top of it. With neither, a new trace starts.
    """
    if traceparent_value:
        context = W3C.extract({"traceparent": traceparent_value})
        if trace.get_current_span(context).get_span_context().is_valid:
            return context
    if trace_id and len(trace_id) == 32:
        try:
            tid = int(trace_id, 16)
        except ValueError:
            return Context()
        parent = SpanContext(
            tid,
            int(secrets.token_hex(8), 16),
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        return trace.set_span_in_context(NonRecordingSpan(parent), Context())
    return Context()
