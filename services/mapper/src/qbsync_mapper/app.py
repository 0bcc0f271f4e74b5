"""Wiring of the mapper service: the only place its objects are constructed.

One process consumes qbsync.accepted.v1 and serves the admin HTTP API (FastAPI
under uvicorn); a background task releases events held for tenants whose settings
were applied outside the API (the CLI writes the database directly).
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry.trace import Tracer
from qbsync_core.db import create_pool
from qbsync_core.errors import INFRASTRUCTURE_ERRORS, InfrastructureFailure
from qbsync_core.operations import operations_router
from qbsync_core.service import build_runtime, prepare
from qbsync_core.settings import QbsyncSettings, load_settings
from qbsync_core.web import instrument, make_producer

from qbsync_mapper import handlers, http
from qbsync_mapper.exports import Clock, run_schedules
from qbsync_mapper.mapping import release_tenant
from qbsync_mapper.migrations_path import MIGRATIONS, SCHEMA, SERVICE_NAME
from qbsync_mapper.publishing import KafkaPublisher
from qbsync_mapper.resources import NotReady, Resources
from qbsync_mapper.settings import MapperSettings
from qbsync_mapper.storage import tenants_to_release

__all__ = ["MIGRATIONS", "SCHEMA", "SERVICE_NAME", "create_app"]
log = structlog.get_logger()
_DEFERRED: tuple[type[Exception], ...] = (InfrastructureFailure, NotReady, *INFRASTRUCTURE_ERRORS)


async def _release_loop(resources: Resources, tracer: Tracer, interval: float) -> None:
    """Every `interval` s: release held events, then export tenants whose window opened.

    Held events are those of tenants with newly applied settings or held by part 1;
    exports follow each tenant's schedule (SET-3) or a CLI request.
    """
    while True:
        await asyncio.sleep(interval)
        try:
            pool, publisher = resources.ready()
            for tenant in await tenants_to_release(pool):
                await release_tenant(pool, publisher, tracer, tenant, clock=resources.clock)
            await run_schedules(pool, publisher, resources.clock)
        except _DEFERRED as exc:
            log.warning("release of held events or export deferred", error=str(exc))
        except Exception:
            log.exception("release of held events or export failed; retrying next tick")


def create_app(settings: QbsyncSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The mapper ASGI app; its lifespan migrates, opens pool and producer, starts consuming.

    Args:
        settings: mapper settings; plain shared settings get the mapper's defaults.
        clock: the time of export windows (default: the real UTC clock).
    """
    if settings is None:
        settings = load_settings(MapperSettings)
    elif not isinstance(settings, MapperSettings):
        settings = MapperSettings.model_validate(settings.model_dump())
    mapper_settings: MapperSettings = settings
    runtime = build_runtime(SERVICE_NAME, mapper_settings)
    tracer = runtime.tracer_provider.get_tracer(SERVICE_NAME)
    resources = Resources(settings=mapper_settings, tracer=tracer)
    if clock is not None:
        resources.clock = clock
    runtime.broker.include_router(handlers.build_router(resources))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await prepare(mapper_settings, SCHEMA, MIGRATIONS)
        pool = await create_pool(mapper_settings.database_url, SCHEMA)
        producer = make_producer(mapper_settings, SERVICE_NAME)
        await producer.start()
        resources.pool, resources.publisher = pool, KafkaPublisher(producer)
        await runtime.broker.start()
        releaser = asyncio.create_task(
            _release_loop(resources, tracer, mapper_settings.release_interval_seconds)
        )
        try:
            yield
        finally:
            releaser.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await releaser
            await runtime.broker.stop()
            resources.publisher = None
            await producer.stop()
            await pool.close()
            resources.pool = None
            runtime.tracer_provider.shutdown()

    app = FastAPI(
        title="qbsync mapper",
        version="1",
        summary="Tenant settings, and accepted events turned into QBO posting commands.",
        lifespan=lifespan,
    )
    app.state.broker = runtime.broker
    app.include_router(http.health_router(resources))
    app.include_router(operations_router(lambda: resources.pool, runtime.broker, runtime.registry))
    app.include_router(http.build_router(resources))

    instrument(app, tracer)

    @app.exception_handler(NotReady)
    async def not_ready(_: Request, exc: NotReady) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 503, {"Retry-After": "1"})

    @app.exception_handler(InfrastructureFailure)
    async def unavailable(_: Request, exc: InfrastructureFailure) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 503, {"Retry-After": "1"})

    return app
