"""Operations endpoints: liveness, readiness (database and broker answer), Prometheus.

`/healthz` answers as long as the process serves HTTP; `/readyz` answers 200 only when
the service finished starting and its database and broker answer now, so an
orchestrator sends no traffic to a replica that cannot do its work; `/metrics` serves
the process's registry (FastStream's consumer metrics and the service's own).
"""

from collections.abc import Callable

import asyncpg
from fastapi import APIRouter, HTTPException, Response
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

Running = Callable[[], asyncpg.Pool | None]
"""The service's pool once it finished starting, else None."""


async def readiness_problem(pool: asyncpg.Pool, broker: KafkaBroker) -> str | None:
    """Why the service cannot work right now (database or broker), or None."""
    try:
        await pool.fetchval("SELECT 1")
    except (OSError, asyncpg.PostgresError) as exc:
        return f"database: {exc}"
    if not await broker.ping(timeout=2):
        return "broker does not answer"
    return None


def operations_router(
    running: Running, broker: KafkaBroker, registry: CollectorRegistry
) -> APIRouter:
    """`GET /healthz`, `/readyz` and `/metrics`, unauthenticated."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: started, database and broker answer.")
    async def readyz() -> dict[str, str]:
        pool = running()
        if pool is None:
            raise HTTPException(503, "starting up or shutting down")
        problem = await readiness_problem(pool, broker)
        if problem is not None:
            raise HTTPException(503, problem)
        return {"status": "ready"}

    @router.get("/metrics", summary="Prometheus metrics.", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
