"""Telemetry: spans exported only when OTLP is configured; JSON logs carry trace ids."""

import json

import pytest
import structlog
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from qbsync_core.telemetry import setup_logging, setup_tracing


def _processors(provider: object) -> list[object]:
    return list(provider._active_span_processor._span_processors)  # type: ignore[attr-defined]


class TestTracing:
    def test_no_endpoint_means_no_exporter(self) -> None:
        provider = setup_tracing("qbsync-test", None)
        assert _processors(provider) == []

    def test_endpoint_adds_an_otlp_batch_exporter_on_v1_traces(self) -> None:
        provider = setup_tracing("qbsync-test", "http://collector:4318/")
        [processor] = _processors(provider)
        assert isinstance(processor, BatchSpanProcessor)
        exporter = processor._batch_processor._exporter
        assert isinstance(exporter, OTLPSpanExporter)
        assert exporter._endpoint == "http://collector:4318/v1/traces"
        provider.shutdown()

    def test_without_a_consumer_spans_are_not_recorded_but_ids_propagate(self) -> None:
        provider = setup_tracing("qbsync-test", None)
        with provider.get_tracer("t").start_as_current_span("intake") as span:
            assert not span.is_recording()
            assert span.get_span_context().is_valid

    def test_spans_carry_the_service_name(self) -> None:
        memory = InMemorySpanExporter()
        provider = setup_tracing(
            "qbsync-ingest", None, extra_processors=(SimpleSpanProcessor(memory),)
        )
        with provider.get_tracer("t").start_as_current_span("intake"):
            pass
        [span] = memory.get_finished_spans()
        assert span.resource.attributes["service.name"] == "qbsync-ingest"


class TestLogging:
    def test_logs_are_json_lines_with_service_and_trace_id(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        setup_logging("qbsync-test", "INFO")
        provider = setup_tracing("qbsync-test", None)
        with provider.get_tracer("t").start_as_current_span("work") as span:
            structlog.get_logger().info("posted", entity="Invoice")
            trace_id = format(span.get_span_context().trace_id, "032x")
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert line["message"] == "posted"
        assert line["service"] == "qbsync-test"
        assert line["entity"] == "Invoice"
        assert line["trace_id"] == trace_id
