"""The poster's spans: one per posting command, and one HTTP client span per QBO request.

A command's span is a child of the `traceparent` the mapper put on it, so the QBO
calls made while executing it land in the event's trace. Creates gathered into one
`/batch` request (see coalescer.py) share that request's span, which is a child of the
command that opened the group.

Only the method, host, path and status of a request are recorded: the Authorization
header, the query (a QBO query can name customers) and bodies never are.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from opentelemetry import context as otel_context
from opentelemetry.trace import Span, SpanKind, StatusCode, Tracer, set_span_in_context
from prometheus_client import Counter
from qbsync_core.commands import PostingCommand
from qbsync_core.tracing import parent_context

from qbsync_poster.outcomes import Failure


@contextmanager
def command_span(tracer: Tracer, command: PostingCommand) -> Iterator[Span]:
    """The current span while `command` executes, in the trace of its event.

    Spelled out rather than `start_as_current_span`: this runs for every command, and
    the attributes are only built when the span records (tracing on).
    """
    span = tracer.start_span("poster.post", context=parent_context(command.traceparent))
    if span.is_recording():
        span.set_attributes(
            {
                "qbsync.tenant_id": command.tenant_id,
                "qbsync.event_id": command.event_id,
                "qbsync.command_id": command.command_id,
                "qbsync.operation": f"{command.operation}:{command.entity}",
            }
        )
    token = otel_context.attach(set_span_in_context(span))
    try:
        yield span
    except BaseException as exc:
        if span.is_recording():
            span.record_exception(exc)
            span.set_status(StatusCode.ERROR, type(exc).__name__)
        raise
    finally:
        otel_context.detach(token)
        span.end()


def record_outcome(span: Span, outcome: object) -> None:
    """Mark the command's span failed (with the error category) when `outcome` is a Failure."""
    if isinstance(outcome, Failure):
        span.set_attribute("qbsync.outcome", "failed")
        span.set_status(StatusCode.ERROR, str(outcome.category))
    else:
        span.set_attribute("qbsync.outcome", "posted")


class TracingTransport(httpx.AsyncBaseTransport):
    """An HTTP client span (OpenTelemetry's HTTP conventions) around each request of `inner`.

    Args:
        inner: The transport that sends the request.
        tracer: The poster's tracer.
        requests: Counts each request by status (metrics.qbo_requests_counter).
    """

    def __init__(
        self, inner: httpx.AsyncBaseTransport, tracer: Tracer, requests: Counter | None = None
    ) -> None:
        self._inner = inner
        self._tracer = tracer
        self._requests = requests

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` inside a CLIENT span that ends when the response headers arrive."""
        url = request.url
        with self._tracer.start_as_current_span(
            request.method,
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "server.address": url.host,
                "url.path": url.path,
            },
        ) as span:
            try:
                response = await self._inner.handle_async_request(request)
            except httpx.TransportError as exc:
                self._count("timeout" if isinstance(exc, httpx.TimeoutException) else "error")
                raise
            self._count(str(response.status_code))
            span.set_attribute("http.response.status_code", response.status_code)
            intuit_tid = response.headers.get("intuit_tid")
            if intuit_tid:  # what Intuit support asks for about one request
                span.set_attribute("qbo.intuit_tid", intuit_tid)
            if response.status_code >= httpx.codes.BAD_REQUEST:
                span.set_status(StatusCode.ERROR, f"HTTP {response.status_code}")
            return response

    def _count(self, status: str) -> None:
        if self._requests is not None:
            self._requests.labels(status).inc()

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()
