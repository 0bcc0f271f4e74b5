"""Wiring of the poster service: the only place its objects are constructed.

One process consumes qbsync.commands.v1 and serves HTTP (FastAPI under uvicorn): the
OAuth connect flow and the read API over QBO lists.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from qbsync_core.db import create_pool
from qbsync_core.operations import operations_router
from qbsync_core.service import build_runtime, prepare
from qbsync_core.settings import QbsyncSettings, load_settings
from qbsync_core.web import error_response, instrument, make_producer

from qbsync_poster import handlers, http
from qbsync_poster.cdc import CdcPoller
from qbsync_poster.connections import Connections
from qbsync_poster.dispatch import Deps
from qbsync_poster.metrics import qbo_requests_counter
from qbsync_poster.migrations_path import MIGRATIONS, SCHEMA, SERVICE_NAME
from qbsync_poster.publishing import KafkaPublisher
from qbsync_poster.resources import NotReady, Resources
from qbsync_poster.settings import PosterSettings, production_problems
from qbsync_poster.tracing import TracingTransport
from qbsync_poster.transport import BoundedTransport, ShardedTransport

__all__ = ["MIGRATIONS", "SCHEMA", "SERVICE_NAME", "create_app"]

HTTP_SHARDS, HTTP_PER_SHARD = 16, 8
"""QBO connections: 128 in 16 pools (a realm uses at most 10 at once)."""


def create_app(
    settings: QbsyncSettings | None = None,
    *,
    qbo_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The poster ASGI app; its lifespan migrates, opens pool, producer, HTTP client, consumer.

    Args:
        settings: poster settings; plain shared settings get the poster's defaults.
        qbo_transport: transport of the QBO HTTP client (tests mount the emulator here).
    """
    if settings is None:
        settings = load_settings(PosterSettings)
    elif not isinstance(settings, PosterSettings):
        settings = PosterSettings.model_validate(settings.model_dump())
    poster_settings: PosterSettings = settings
    problems = production_problems(poster_settings)
    if problems:
        raise ValueError("; ".join(problems))
    runtime = build_runtime(SERVICE_NAME, poster_settings)
    tracer = runtime.tracer_provider.get_tracer(SERVICE_NAME)
    resources = Resources(settings=poster_settings)
    qbo_requests = qbo_requests_counter(runtime.registry)
    runtime.broker.include_router(handlers.build_router(resources))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await prepare(poster_settings, SCHEMA, MIGRATIONS)
        pool = await create_pool(poster_settings.database_url, SCHEMA, max_size=20)
        producer = make_producer(poster_settings, SERVICE_NAME)
        await producer.start()
        # httpcore walks its whole pool on every request: many small pools (transport.py).
        # Traced inside the bound, so a span times the request, not its wait for a slot.
        transport: httpx.AsyncBaseTransport
        if qbo_transport is not None:
            transport = BoundedTransport(
                TracingTransport(qbo_transport, tracer, qbo_requests), HTTP_SHARDS * HTTP_PER_SHARD
            )
        else:
            transport = ShardedTransport(
                HTTP_SHARDS,
                HTTP_PER_SHARD,
                lambda limits: TracingTransport(
                    httpx.AsyncHTTPTransport(limits=limits), tracer, qbo_requests
                ),
            )
        timeout = httpx.Timeout(poster_settings.qbo_timeout_s, connect=5.0)
        async with httpx.AsyncClient(transport=transport, timeout=timeout) as qbo_http:
            resources.deps = Deps(
                pool,
                Connections(pool, qbo_http, poster_settings),
                KafkaPublisher(producer),
                poster_settings.realm_concurrency,
                poster_settings.batch_writes,
                tracer=tracer,
            )
            deps = resources.deps
            resources.cdc = CdcPoller(
                pool, deps.connections, deps.publisher, poster_settings.cdc_interval_s
            )
            await runtime.broker.start()
            polling = (
                asyncio.create_task(resources.cdc.run())
                if poster_settings.cdc_interval_s > 0
                else None
            )
            try:
                yield
            finally:
                if polling is not None:
                    polling.cancel()
                    await asyncio.gather(polling, return_exceptions=True)
                await runtime.broker.stop()
                resources.deps = None
                await producer.stop()
                await pool.close()
                runtime.tracer_provider.shutdown()

    app = FastAPI(
        title="qbsync poster",
        version="1",
        summary="QBO connections, posting commands to QBO exactly once, and QBO lists.",
        lifespan=lifespan,
    )
    app.state.broker = runtime.broker
    app.state.resources = resources
    app.include_router(http.health_router(resources))
    app.include_router(
        operations_router(
            lambda: resources.deps.pool if resources.deps else None,
            runtime.broker,
            runtime.registry,
        )
    )
    app.include_router(http.connect_router(resources))
    app.include_router(http.read_router(resources))

    instrument(app, tracer)
    app.add_exception_handler(NotReady, error_response(503, {"Retry-After": "1"}))

    return app
