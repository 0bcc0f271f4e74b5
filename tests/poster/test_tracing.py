"""The poster's spans: a CLIENT span per QBO request, never carrying credentials or queries."""

import httpx
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from qbsync_core.telemetry import setup_tracing
from qbsync_poster.tracing import TracingTransport

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def _answer(request: httpx.Request) -> httpx.Response:
    status = 400 if request.url.path.endswith("/invoice") else 200
    return httpx.Response(status, headers={"intuit_tid": "tid-1"}, json={})


async def _send(path: str) -> InMemorySpanExporter:
    memory = InMemorySpanExporter()
    provider = setup_tracing("qbsync-poster", None, extra_processors=(SimpleSpanProcessor(memory),))
    transport = TracingTransport(httpx.MockTransport(_answer), provider.get_tracer("t"))
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get(
            f"https://quickbooks.api.intuit.com{path}",
            params={"query": "select * from Customer where DisplayName = 'Ana'"},
            headers={"Authorization": "Bearer secret-access-token"},
        )
    return memory


class TestTracingTransport:
    async def test_a_request_is_a_client_span_with_method_host_path_and_status(self) -> None:
        [span] = (await _send("/v3/company/1/query")).get_finished_spans()
        assert span.kind is SpanKind.CLIENT
        assert span.name == "GET"
        assert dict(span.attributes or {}) == {
            "http.request.method": "GET",
            "server.address": "quickbooks.api.intuit.com",
            "url.path": "/v3/company/1/query",
            "http.response.status_code": 200,
            "qbo.intuit_tid": "tid-1",
        }
        assert span.status.status_code is StatusCode.UNSET

    async def test_no_credential_or_query_text_is_recorded(self) -> None:
        [span] = (await _send("/v3/company/1/query")).get_finished_spans()
        text = repr(dict(span.attributes or {})) + span.name
        assert "secret-access-token" not in text
        assert "Ana" not in text

    async def test_an_http_error_marks_the_span_failed(self) -> None:
        [span] = (await _send("/v3/company/1/invoice")).get_finished_spans()
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes is not None
        assert span.attributes["http.response.status_code"] == 400
