"""Wiring of the errors service: the only place its objects are constructed.

One process consumes qbsync.errors.v1, serves the REST API and the operator page
(FastAPI under uvicorn), and runs the background jobs (automatic retries, pausing,
notification digests and deliveries).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from qbsync_core.db import create_pool
from qbsync_core.service import build_runtime, prepare
from qbsync_core.settings import load_settings
from qbsync_core.web import error_response, instrument, make_producer

from qbsync_errors import handlers, http, pages
from qbsync_errors.actions import Actions, Conflict, NotFound
from qbsync_errors.egress import webhook_client
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
    runtime.broker.include_router(handlers.build_router(resources, tracer))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await prepare(settings, SCHEMA, MIGRATIONS)
        pool = await create_pool(settings.database_url, SCHEMA)
        producer = make_producer(settings, SERVICE_NAME)
        await producer.start()
        client = webhook_client(allow_private=settings.private_webhooks_allowed)
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

    instrument(app, tracer)
    app.add_exception_handler(NotFound, error_response(404))
    app.add_exception_handler(Conflict, error_response(409))

    app.add_exception_handler(NotReady, error_response(503, {"Retry-After": "1"}))

    return app
