"""Telemetry: spans exported only when OTLP or the local store is configured; JSON logs
carry trace ids; trace context helpers; the local span store."""

import json
from pathlib import Path

import httpx
import pytest
import structlog
from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, StatusCode
from qbsync_core.service import build_runtime
from qbsync_core.settings import QbsyncSettings, load_settings
from qbsync_core.spanstore import SqliteSpanExporter, connect, find_traces, spans_of
from qbsync_core.telemetry import setup_logging, setup_tracing
from qbsync_core.tracing import current_traceparent, parent_context, traceparent
from qbsync_core.web import instrument


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


@pytest.fixture
def service_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A service's environment with no dev.env behind it and no tracing variables."""
    monkeypatch.setenv("QBSYNC_HOME", str(tmp_path))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/none")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("QBSYNC_TRACE_STORE", raising=False)
    monkeypatch.delenv("OTEL_TRACES_SAMPLER", raising=False)
    monkeypatch.delenv("OTEL_TRACES_SAMPLER_ARG", raising=False)


@pytest.mark.usefixtures("service_env")
class TestServiceTracingFromEnvironment:
    def test_otel_exporter_otlp_endpoint_configures_the_otlp_exporter(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
        runtime = build_runtime("qbsync-test", load_settings(QbsyncSettings))
        [processor] = _processors(runtime.tracer_provider)
        assert isinstance(processor, BatchSpanProcessor)
        exporter = processor._batch_processor._exporter
        assert isinstance(exporter, OTLPSpanExporter)
        assert exporter._endpoint == "http://collector:4318/v1/traces"
        assert runtime.tracer_provider.sampler.get_description() == "AlwaysOnSampler"
        runtime.tracer_provider.shutdown()  # nothing recorded: no export is attempted

    def test_nothing_configured_records_nothing(self) -> None:
        runtime = build_runtime("qbsync-test", load_settings(QbsyncSettings))
        assert _processors(runtime.tracer_provider) == []

    def test_qbsync_trace_store_adds_the_local_store(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("QBSYNC_TRACE_STORE", str(tmp_path / "traces.db"))
        runtime = build_runtime("qbsync-test", load_settings(QbsyncSettings))
        [processor] = _processors(runtime.tracer_provider)
        exporter = processor._batch_processor._exporter  # type: ignore[attr-defined]
        assert isinstance(exporter, SqliteSpanExporter)
        assert exporter.path == tmp_path / "traces.db"
        runtime.tracer_provider.shutdown()

    def test_an_empty_qbsync_trace_store_turns_the_store_off(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("QBSYNC_TRACE_STORE", "")
        assert load_settings(QbsyncSettings).trace_store is None

    def test_otel_traces_sampler_sets_the_ratio_of_recorded_traces(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("QBSYNC_TRACE_STORE", str(tmp_path / "traces.db"))
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
        provider = build_runtime("qbsync-test", load_settings(QbsyncSettings)).tracer_provider
        recorded = 0
        for _ in range(400):
            with provider.get_tracer("t").start_as_current_span("intake") as span:
                assert span.get_span_context().is_valid  # ids flow either way
                recorded += span.is_recording()
        assert 50 <= recorded <= 150  # a quarter of 400, give or take
        provider.shutdown()

    def test_the_sampler_setting_cannot_turn_recording_on_without_a_consumer(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
        provider = build_runtime("qbsync-test", load_settings(QbsyncSettings)).tracer_provider
        assert provider.sampler.get_description() == "AlwaysOffSampler"


def _stored(provider: TracerProvider, path: Path, id_: str) -> list[list[str]]:
    provider.force_flush()
    conn = connect(path)
    try:
        return [
            [f"{s.service}:{s.name}" for s in spans_of(conn, t)] for t in find_traces(conn, id_)
        ]
    finally:
        conn.close()


class TestSpanStore:
    def test_spans_of_several_services_are_found_by_trace_id_and_by_event_id(
        self, tmp_path: Path
    ) -> None:
        path = tmp_path / "traces.db"
        ingest = setup_tracing("qbsync-ingest", None, trace_store=path)
        mapper = setup_tracing("qbsync-mapper", None, trace_store=path)
        with ingest.get_tracer("t").start_as_current_span(
            "ingest.accept", attributes={"qbsync.event_id": "e-1"}
        ) as accept:
            carried = current_traceparent()
        with mapper.get_tracer("t").start_as_current_span(
            "mapper.map", context=parent_context(carried)
        ) as mapped:
            mapped.set_status(StatusCode.ERROR, "no such credit note")
        trace_id = format(accept.get_span_context().trace_id, "032x")
        mapper.force_flush()
        expected = [["qbsync-ingest:ingest.accept", "qbsync-mapper:mapper.map"]]
        assert _stored(ingest, path, "e-1") == expected
        assert _stored(mapper, path, trace_id) == expected
        conn = connect(path)
        [root, child] = spans_of(conn, trace_id)
        conn.close()
        assert child.parent_id == root.span_id
        assert (child.status, child.status_message) == ("ERROR", "no such credit note")
        assert root.event_id == "e-1"
        assert root.attributes == {"qbsync.event_id": "e-1"}
        ingest.shutdown()
        mapper.shutdown()

    def test_links_are_kept_as_trace_ids(self, tmp_path: Path) -> None:
        path = tmp_path / "traces.db"
        provider = setup_tracing("qbsync-ingest", None, trace_store=path)
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span("POST /v1/events") as request:
            pass
        with tracer.start_as_current_span(
            "ingest.accept",
            context=parent_context(None),
            links=[Link(request.get_span_context())],
            attributes={"qbsync.event_id": "e-2"},
        ):
            pass
        provider.force_flush()
        conn = connect(path)
        [[accept]] = [spans_of(conn, t) for t in find_traces(conn, "e-2")]
        conn.close()
        assert accept.links == (format(request.get_span_context().trace_id, "032x"),)
        provider.shutdown()


class TestTraceContext:
    def test_parent_context_continues_a_traceparent(self) -> None:
        provider = setup_tracing("qbsync-test", None, extra_processors=(_memory(),))
        carried = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        with provider.get_tracer("t").start_as_current_span(
            "child", context=parent_context(carried)
        ) as span:
            assert current_traceparent() == traceparent(span.get_span_context())
        assert isinstance(span, ReadableSpan)
        assert span.parent is not None
        assert span.parent.span_id == 0x00F067AA0BA902B7
        assert span.get_span_context().trace_id == 0x4BF92F3577B34DA6A3CE929D0E0E4736

    def test_a_trace_id_alone_keeps_the_span_in_that_trace(self) -> None:
        provider = setup_tracing("qbsync-test", None, extra_processors=(_memory(),))
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        with provider.get_tracer("t").start_as_current_span(
            "errors.record", context=parent_context(None, trace_id)
        ) as span:
            pass
        assert format(span.get_span_context().trace_id, "032x") == trace_id

    def test_no_context_starts_a_new_trace(self) -> None:
        provider = setup_tracing("qbsync-test", None, extra_processors=(_memory(),))
        tracer = provider.get_tracer("t")
        with (
            tracer.start_as_current_span("outer"),
            tracer.start_as_current_span(
                "inner", context=parent_context("garbage", "not-a-trace-id")
            ) as inner,
        ):
            assert isinstance(inner, ReadableSpan)
            assert inner.parent is None

    def test_current_traceparent_only_for_the_named_trace(self) -> None:
        provider = setup_tracing("qbsync-test", None)
        assert current_traceparent() is None
        with provider.get_tracer("t").start_as_current_span("batch") as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            assert current_traceparent(trace_id) == traceparent(span.get_span_context())
            assert current_traceparent("0" * 31 + "1") is None


def _memory() -> SimpleSpanProcessor:
    return SimpleSpanProcessor(InMemorySpanExporter())


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


class TestRequestSpans:
    async def test_a_request_span_is_named_after_its_route_template(self) -> None:
        memory = InMemorySpanExporter()
        recorded = (SimpleSpanProcessor(memory),)
        provider = setup_tracing("qbsync-test", None, extra_processors=recorded)
        app = FastAPI()

        @app.get("/v1/tenants/{tenant_id}")
        async def tenant(tenant_id: str) -> dict[str, str]:
            return {"tenant": tenant_id}

        instrument(app, provider.get_tracer("t"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            assert (await client.get("/v1/tenants/hotel-lisboa?key=x")).status_code == 200
            assert (await client.get("/nowhere/secret-in-path")).status_code == 404
        [found, missing] = memory.get_finished_spans()
        assert found.name == "GET /v1/tenants/{tenant_id}"
        assert found.attributes == {"http.response.status_code": 200}
        assert missing.name == "GET"
