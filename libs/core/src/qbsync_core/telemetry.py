"""OpenTelemetry tracing and structured JSON logs with trace ids.

Trace ids are always created and propagated (error records and logs carry them);
spans are recorded only when something consumes them (an OTLP endpoint, the local
span store the dev stack turns on, or an extra processor): otherwise the sampler
drops them, which makes a span about three times cheaper on the hot intake path.
When they are recorded, every span is, unless OpenTelemetry's standard
OTEL_TRACES_SAMPLER (and OTEL_TRACES_SAMPLER_ARG) choose a sampler, e.g. a ratio.
How traces flow between services: docs/tracing.md.
"""

import logging
import os
import sys
from pathlib import Path

import structlog
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Sampler
from structlog.typing import EventDict, WrappedLogger

from qbsync_core.spanstore import SqliteSpanExporter

STORE_EXPORT_DELAY_MS = 500
"""How often the local store is written: soon enough for `qbsync trace` after a request."""


def setup_tracing(
    service_name: str,
    otlp_endpoint: str | None,
    *,
    trace_store: Path | None = None,
    extra_processors: tuple[SpanProcessor, ...] = (),
) -> TracerProvider:
    """Build (not install globally) a tracer provider for `service_name`.

    Args:
        service_name: the `service.name` resource attribute.
        otlp_endpoint: collector base URL (`/v1/traces` is appended); None = no export.
        trace_store: SQLite file of the local span store (`qbsync trace` reads it).
        extra_processors: further processors (tests use an in-memory exporter).
    """
    recording = bool(otlp_endpoint or trace_store or extra_processors)
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service_name}),
        sampler=_recording_sampler() if recording else ALWAYS_OFF,
    )
    if otlp_endpoint:
        exporter = OTLPSpanExporter(endpoint=f"{otlp_endpoint.rstrip('/')}/v1/traces")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if trace_store:
        store = SqliteSpanExporter(trace_store)
        provider.add_span_processor(
            BatchSpanProcessor(store, schedule_delay_millis=STORE_EXPORT_DELAY_MS)
        )
    for processor in extra_processors:
        provider.add_span_processor(processor)
    return provider


def _recording_sampler() -> Sampler | None:
    # None lets the SDK build the sampler OTEL_TRACES_SAMPLER names (with its
    # OTEL_TRACES_SAMPLER_ARG); recording spans costs a third of a service's CPU under
    # load (docs/performance.md), so production may want a ratio.
    return None if os.environ.get("OTEL_TRACES_SAMPLER") else ALWAYS_ON


def _add_trace_ids(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def setup_logging(service_name: str, level: str = "INFO") -> None:
    """JSON logs on stdout, one object per line, with service name and trace ids."""
    logging.basicConfig(format="%(message)s", stream=sys.stdout, level=level.upper(), force=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_trace_ids,
            structlog.processors.EventRenamer("message"),
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service_name)
