"""The admin HTTP API: tenant settings (PUT/GET), health."""

import re
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from qbsync_core.errors import InfrastructureFailure
from qbsync_core.settings import Environment

from qbsync_mapper.admin import Applied, apply_settings, show_settings
from qbsync_mapper.mapping import release_tenant
from qbsync_mapper.resources import Resources
from qbsync_mapper.tenants import TENANT_PATTERN

log = structlog.get_logger()
MAX_DOCUMENT_BYTES = 1_000_000


def build_router(deps: Resources) -> APIRouter:
    """All HTTP routes of the mapper, bound to `deps`."""

    async def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        token = deps.settings.admin_token
        if token is None:
            if deps.settings.environment is Environment.PRODUCTION:
                raise HTTPException(401, "the admin API needs QBSYNC_MAPPER_ADMIN_TOKEN set")
            return
        if authorization != f"Bearer {token.get_secret_value()}":
            raise HTTPException(401, "missing or wrong admin token", {"WWW-Authenticate": "Bearer"})

    def tenant_path(tenant_id: str) -> str:
        if not re.fullmatch(TENANT_PATTERN, tenant_id):
            raise HTTPException(404, f"no tenant {tenant_id!r}")
        return tenant_id

    router = APIRouter(dependencies=[Depends(admin)])

    @router.put("/v1/tenants/{tenant_id}/settings")
    async def put_settings(tenant_id: str, request: Request) -> JSONResponse:
        """Apply a YAML or JSON settings document; 422 lists every problem in it."""
        tenant_path(tenant_id)
        body = await request.body()
        if len(body) > MAX_DOCUMENT_BYTES:
            raise HTTPException(413, "settings document too large")
        pool, publisher = deps.ready()
        result = await apply_settings(pool, body, tenant_id=tenant_id)
        if not isinstance(result, Applied):
            return JSONResponse(
                {
                    "error": "the settings document has problems; nothing was changed",
                    "problems": [p.model_dump() for p in result],
                },
                422,
            )
        try:
            released = await release_tenant(pool, publisher, deps.tracer, tenant_id)
        except InfrastructureFailure as exc:
            # Stored all the same: the background release retries.
            log.warning("release after settings change deferred", error=str(exc))
            released = None
        return JSONResponse(
            {
                "tenant_id": result.tenant_id,
                "version": result.version,
                "released_commands": released.commands if released else None,
            }
        )

    @router.get("/v1/tenants/{tenant_id}/settings")
    async def get_settings(tenant_id: str) -> JSONResponse:
        """The tenant's newest settings, version and held-event counts."""
        tenant_path(tenant_id)
        pool, _ = deps.ready()
        shown = await show_settings(pool, tenant_id)
        if shown is None:
            raise HTTPException(404, f"tenant {tenant_id!r} has no settings")
        return JSONResponse(shown)

    return router


def health_router(deps: Resources) -> APIRouter:
    """Unauthenticated liveness/readiness."""
    router = APIRouter()

    @router.get("/health")
    async def health() -> dict[str, str]:
        deps.ready()
        return {"status": "ok"}

    return router
