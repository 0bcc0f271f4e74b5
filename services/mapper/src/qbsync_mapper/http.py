"""The admin HTTP API: tenant settings (PUT/GET), manual export, dry run, health."""

import hmac
import re
from datetime import date
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from qbsync_core.errors import InfrastructureFailure
from qbsync_core.settings import Environment

from qbsync_mapper import jsontext
from qbsync_mapper.admin import Applied, apply_settings, live_accounts, show_settings
from qbsync_mapper.exports import run_tenant
from qbsync_mapper.mapping import dry_run, release_tenant
from qbsync_mapper.resources import Resources
from qbsync_mapper.tenants import TENANT_PATTERN

log = structlog.get_logger()
MAX_DOCUMENT_BYTES = 1_000_000
MAX_DRY_RUN_EVENTS = 1000


class ExportRequest(BaseModel):
    """A manual export (SET-3): from the last export until now, or from a new start day."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: date | None = Field(
        default=None,
        alias="from",
        description="New start day: earlier commands are not sent; each becomes an error record.",
    )


class DryRunRequest(BaseModel):
    """A dry run (SET-5): the range, and optionally events to try (e.g. a test payout)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    events: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_DRY_RUN_EVENTS)


DRY_RUN_SCHEMA = DryRunRequest.model_json_schema(by_alias=True)


def build_router(deps: Resources) -> APIRouter:
    """All HTTP routes of the mapper, bound to `deps`."""

    async def admin(authorization: Annotated[str | None, Header()] = None) -> None:
        token = deps.settings.admin_token
        if token is None:
            if deps.settings.environment is Environment.PRODUCTION:
                raise HTTPException(401, "the admin API needs QBSYNC_MAPPER_ADMIN_TOKEN set")
            return
        expected = f"Bearer {token.get_secret_value()}".encode()
        if not hmac.compare_digest((authorization or "").encode(), expected):
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
        result = await apply_settings(
            pool, body, tenant_id=tenant_id, live=live_accounts(deps.settings)
        )
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

    @router.post("/v1/tenants/{tenant_id}/export")
    async def export(tenant_id: str, request: ExportRequest | None = None) -> JSONResponse:
        """Export now what waits for the tenant (SET-3), optionally from a new start day."""
        tenant_path(tenant_id)
        pool, publisher = deps.ready()
        start = request.start if request else None
        try:
            summary = await run_tenant(
                pool, publisher, tenant_id, deps.clock(), manual=True, start=start
            )
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        return JSONResponse(
            {
                "tenant_id": tenant_id,
                "commands": summary.commands,
                "journal_entries": summary.entries,
                "skipped_before_start": summary.skipped,
                "not_sent_error_records": [r.record_id for r in summary.not_sent],
            }
        )

    @router.post(
        "/v1/tenants/{tenant_id}/dry-run",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": DRY_RUN_SCHEMA}},
            }
        },
    )
    async def try_run(tenant_id: str, raw: Request) -> JSONResponse:
        """What would be posted for the range, and the errors raised; posts nothing (SET-5).

        The body is parsed here, not by FastAPI: its parser makes floats of JSON
        numbers, and the events' amounts and rates must stay exact (Decimal).
        """
        tenant_path(tenant_id)
        try:
            request = DryRunRequest.model_validate(jsontext.loads(await raw.body()))
        except ValueError as exc:  # not JSON, or pydantic's ValidationError
            detail = (
                exc.errors(include_url=False, include_input=False, include_context=False)
                if isinstance(exc, ValidationError)
                else str(exc)
            )
            return JSONResponse({"detail": jsonable_encoder(detail)}, 422)
        if request.end < request.start:
            raise HTTPException(422, "`to` is before `from`")
        pool, _ = deps.ready()
        raws = [jsontext.dumps({**e, "tenant_id": tenant_id}).encode() for e in request.events]
        try:
            result = await dry_run(
                pool, deps.tracer, tenant_id, request.start, request.end, raws, clock=deps.clock
            )
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from exc
        return JSONResponse(
            {
                "tenant_id": tenant_id,
                "from": request.start.isoformat(),
                "to": request.end.isoformat(),
                "commands": [c.model_dump(mode="json") for c in result.commands],
                "errors": [e.model_dump(mode="json") for e in result.errors],
            }
        )

    return router


def health_router(deps: Resources) -> APIRouter:
    """Unauthenticated liveness/readiness."""
    router = APIRouter()

    @router.get("/health")
    async def health() -> dict[str, str]:
        deps.ready()
        return {"status": "ok"}

    return router
