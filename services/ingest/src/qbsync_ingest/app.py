"""Wiring of the ingest service: the only place its objects are constructed.

One process serves HTTP (FastAPI under uvicorn) and consumes qbsync.inbound.v1;
both feed the same intake path.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from qbsync_core.db import create_pool
from qbsync_core.service import build_runtime, prepare
from qbsync_core.settings import load_settings
from qbsync_core.web import error_response, instrument, make_producer

from qbsync_ingest import handlers, http
from qbsync_ingest.forwarding import KafkaForwarder
from qbsync_ingest.metrics import IntakeMetrics
from qbsync_ingest.resources import NotReady, Resources
from qbsync_ingest.settings import IngestSettings

SERVICE_NAME = "qbsync-ingest"
SCHEMA = "ingest"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    """The ingest ASGI app; its lifespan migrates, opens pool and producer, starts the consumer."""
    settings = settings or load_settings(IngestSettings)
    metrics = IntakeMetrics()
    runtime = build_runtime(SERVICE_NAME, settings, metrics.registry)
    tracer = runtime.tracer_provider.get_tracer(SERVICE_NAME)
    resources = Resources(settings=settings, metrics=metrics, broker=runtime.broker)
    runtime.broker.include_router(handlers.build_router(resources))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await prepare(settings, SCHEMA, MIGRATIONS)
        pool = await create_pool(settings.database_url, SCHEMA)
        producer = make_producer(settings, SERVICE_NAME)
        await producer.start()
        resources.pool, resources.producer = pool, producer
        resources.forwarder = KafkaForwarder(producer, tracer)
        await runtime.broker.start()
        try:
            yield
        finally:
            resources.forwarder = None
            await runtime.broker.stop()
            await producer.stop()
            await pool.close()
            resources.pool = resources.producer = None
            runtime.tracer_provider.shutdown()

    app = FastAPI(
        title="qbsync ingest",
        version="1",
        summary="The front door: upstream events (contract v1) and QBO webhooks.",
        lifespan=lifespan,
    )
    app.include_router(http.build_router(resources))

    instrument(app, tracer)

    app.add_exception_handler(NotReady, error_response(503, {"Retry-After": "1"}))

    return app
