"""Wiring of the errors service: the only place its objects are constructed.

One process consumes qbsync.errors.v1, serves the REST API and the operator page
(FastAPI under uvicorn), and runs the background jobs (automatic retries, pausing,
notification digests and deliveries).
"""

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry.trace import SpanKind
from qbsync_core.db import create_pool
from qbsync_core.service import build_runtime, prepare
from qbsync_core.settings import load_settings

from qbsync_errors import handlers, http, pages
from qbsync_errors.actions import Actions, Conflict, NotFound
from qbsync_errors.jobs import Jobs
from qbsync_errors.metrics import ErrorsMetrics
from qbsync_errors.notify import Deliverer
from qbsync_errors.publish import Publisher
from qbsync_errors.resources import NotReady, Resources
from qbsync_errors.settings import ErrorsSettings

SERVICE_NAME = "qbsync-errors"
SCHEMA = "errors"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: ErrorsSettings | None = None) -> FastAPI:
    """The errors ASGI app.

    Its lifespan migrates, opens the pool and producer, then starts the consumer and jobs.
    """
    settings = settings or load_settings(ErrorsSettings)
    metrics = ErrorsMetrics()
    runtime = build_runtime(SERVICE_NAME, settings, metrics.registry)
    tracer = runtime.tracer_provider.get_tracer(SERVICE_NAME)
    resources = Resources(settings=settings, metrics=metrics, broker=runtime.broker)
    runtime.broker.include_router(handlers.build_router(resources))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await prepare(settings, SCHEMA, MIGRATIONS)
        pool = await create_pool(settings.database_url, SCHEMA)
        producer = AIOKafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers.split(","),
            client_id=SERVICE_NAME,
            acks="all",
            enable_idempotence=settings.kafka_idempotent_producer,
        )
        await producer.start()
        client = httpx.AsyncClient(follow_redirects=False)
        actions = Actions(pool, Publisher(producer))
        jobs = Jobs(
            settings,
            actions,
            Deliverer(
                client,
                timeout_seconds=settings.webhook_timeout_seconds,
                retry_base_seconds=settings.webhook_retry_base_seconds,
                max_attempts=settings.webhook_max_attempts,
            ),
            metrics,
        )
        resources.pool, resources.actions = pool, actions
        await runtime.broker.start()
        jobs.start()
        try:
            yield
        finally:
            await jobs.stop()
            await runtime.broker.stop()
            resources.pool = resources.actions = None
            await client.aclose()
            await producer.stop()
            await pool.close()
            runtime.tracer_provider.shutdown()

    app = FastAPI(
        title="qbsync errors",
        version="1",
        summary="Every failure of qbsync, and the actions that fix it (resync, skip, resolve).",
        lifespan=lifespan,
    )
    app.state.resources = resources  # for operations and tests: settings, broker, pool
    app.include_router(http.build_router(resources))
    app.include_router(pages.build_router(resources))

    @app.middleware("http")
    async def trace_requests(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        name = f"{request.method} {request.url.path}"
        with tracer.start_as_current_span(name, kind=SpanKind.SERVER) as span:
            response = await call_next(request)
            span.set_attribute("http.response.status_code", response.status_code)
            return response

    @app.exception_handler(HTTPException)
    async def problem(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, exc.status_code, exc.headers)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 404)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 409)

    @app.exception_handler(NotReady)
    async def not_ready(_: Request, exc: NotReady) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 503, {"Retry-After": "1"})

    return app
