"""Plumbing every HTTP-serving service shares: its producer, request spans, error shape."""

from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry.trace import SpanKind, Tracer
from starlette.exceptions import HTTPException as StarletteHTTPException

from qbsync_core.settings import QbsyncSettings


class CachingPartitioner:
    """Kafka's default key partitioner (murmur2), remembered per key.

    Every topic is keyed by tenant id, so a few hundred keys recur millions of times;
    aiokafka computes murmur2 in pure Python for each message.
    """

    def __init__(self) -> None:
        """Start with an empty cache."""
        self._default = DefaultPartitioner()
        self._cache: dict[tuple[bytes, tuple[int, ...]], int] = {}

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        """The partition for `key` (random among `available` when there is no key)."""
        if key is None:
            return int(self._default(key, all_partitions, available))
        cache_key = (key, tuple(all_partitions))
        partition = self._cache.get(cache_key)
        if partition is None:
            if len(self._cache) > 100_000:  # tenants are bounded; this only caps misuse
                self._cache.clear()
            partition = self._cache[cache_key] = int(self._default(key, all_partitions, available))
        return partition


def make_producer(settings: QbsyncSettings, client_id: str) -> AIOKafkaProducer:
    """The service's own producer (not started).

    Services publish with aiokafka directly rather than FastStream's `publish`, whose
    per-message middleware costs several times the send; `acks="all"` so an
    acknowledged message survives a broker failover.
    """
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
        linger_ms=2,
        partitioner=CachingPartitioner(),
    )


def instrument(app: FastAPI, tracer: Tracer) -> None:
    """One server span per request, and `{"error": ...}` bodies for HTTP errors."""

    @app.middleware("http")
    async def trace_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Named after the route's template once routing found one, else the method alone
        # (OpenTelemetry's HTTP convention): ids and unknown paths stay out of names.
        with tracer.start_as_current_span(request.method, kind=SpanKind.SERVER) as span:
            response = await call_next(request)
            template = getattr(request.scope.get("route"), "path", None)
            if isinstance(template, str):
                span.update_name(f"{request.method} {template}")
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    # Starlette's class, which FastAPI's subclasses: FastAPI raises Starlette's own for a
    # body it cannot parse (400) and routing for an unknown path (404), and those answered
    # `{"detail"}`, not the documented `{"error"}` (found by schemathesis).
    @app.exception_handler(StarletteHTTPException)
    async def problem(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, exc.status_code, exc.headers)


def error_response(
    status_code: int, headers: dict[str, str] | None = None
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """An exception handler answering `status_code` with `{"error": str(exc)}`."""

    async def handler(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code, headers)

    return handler
