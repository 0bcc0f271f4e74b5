"""The errors REST API: list, counts, one error, actions, webhooks, audit, health."""

import ipaddress
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AnyHttpUrl, BaseModel, Field
from qbsync_core.errors import ErrorCategory
from qbsync_core.operations import readiness_problem

from qbsync_errors import outbox, storage
from qbsync_errors.actions import BULK_LIMIT, NotFound
from qbsync_errors.egress import is_internal
from qbsync_errors.keys import ApiKey, key_for_token
from qbsync_errors.models import (
    AuditEntry,
    Counts,
    ErrorDetail,
    ErrorFilter,
    ErrorPage,
    NewWebhook,
    Status,
    StoppedCustomer,
    Webhook,
)
from qbsync_errors.resources import Resources


class Problem(BaseModel):
    """Body of a refused request."""

    error: str


class InvalidRequest(BaseModel):
    """FastAPI's 422 for a request that breaks the documented schema."""

    detail: list[dict[str, Any]]


class BulkResync(ErrorFilter):
    """Which errors to resync; open ones when no status is given."""

    limit: int = Field(default=BULK_LIMIT, ge=1, le=BULK_LIMIT)


class BulkResult(BaseModel):
    """What a bulk resync replayed."""

    resynced: int
    record_ids: list[str]


class LinkCustomer(BaseModel):
    """The existing QBO customer to use (picked from the poster's customer search)."""

    qbo_customer_id: str = Field(min_length=1, max_length=64)


class StopResult(BaseModel):
    """How many open errors of the customer were skipped by stopping its syncing."""

    skipped: int


class WebhookIn(BaseModel):
    """A webhook URL to notify (ERR-5)."""

    url: AnyHttpUrl


class Delivery(BaseModel):
    """One notification delivery and how it went."""

    delivery_id: str
    webhook_id: str
    kind: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "A body FastAPI cannot parse."},
    401: {"model": Problem},
    404: {"model": Problem},
    503: {"model": Problem},
}
_ACTION_ERRORS: dict[int | str, dict[str, Any]] = {**_ERRORS, 409: {"model": Problem}}
_PG_BIGINT = 2**63 - 1
"""Largest offset or id PostgreSQL takes: a larger one was a 500 (found by schemathesis)."""


async def _no_nul(request: Request) -> None:
    # PostgreSQL text cannot hold NUL: a `tenant=%00` reached SQL and answered 500
    # (found by schemathesis). Refused up front for the path, the query and JSON bodies.
    body = await request.body()
    if (
        "\x00" in request.url.path
        or any("\x00" in v for v in request.query_params.values())
        or b"\\u0000" in body
    ):
        raise HTTPException(422, "NUL characters are not allowed")


def build_router(deps: Resources) -> APIRouter:
    """All HTTP routes of the errors API, bound to `deps`."""
    router = APIRouter(dependencies=[Depends(_no_nul)])

    async def api_key(authorization: Annotated[str | None, Header()] = None) -> ApiKey:
        pool, _ = deps.ready()
        token = (authorization or "").removeprefix("Bearer ").strip()
        key = await key_for_token(pool, token) if token else None
        if key is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a valid API key is required",
                {"WWW-Authenticate": "Bearer"},
            )
        return key

    Key = Annotated[ApiKey, Depends(api_key)]

    def tenant_in_scope(key: ApiKey, tenant: str) -> str:
        if key.scope is not None and key.scope != tenant:
            raise NotFound(f"no tenant {tenant}")
        return tenant

    async def detail(key: ApiKey, record_id: str) -> ErrorDetail:
        pool, _ = deps.ready()
        found = await storage.get_error(pool, key.scope, record_id)
        if found is None:
            raise NotFound(f"no error {record_id}")
        return found

    @router.get("/v1/errors", response_model=ErrorPage, responses=_ERRORS, tags=["errors"])
    async def list_errors(
        key: Key,
        tenant: str | None = None,
        category: ErrorCategory | None = None,
        error_status: Annotated[Status | None, Query(alias="status")] = None,
        text: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=_PG_BIGINT)] = 0,
    ) -> ErrorPage:
        """Errors matching every given filter, most recently reported first."""
        pool, _ = deps.ready()
        flt = ErrorFilter(tenant=tenant, category=category, status=error_status, text=text)
        return await storage.list_errors(pool, key.scope, flt, limit, offset)

    @router.get("/v1/errors/counts", response_model=Counts, responses=_ERRORS, tags=["errors"])
    async def counts(key: Key, tenant: str | None = None) -> Counts:
        """Open errors per category: the "orange banner" number (ERR-5, ERR-6)."""
        pool, _ = deps.ready()
        return await storage.count_open(pool, key.scope, tenant)

    @router.post(
        "/v1/errors/resync", response_model=BulkResult, responses=_ERRORS, tags=["actions"]
    )
    async def bulk_resync(key: Key, body: BulkResync) -> BulkResult:
        """Resync every error matching the filter (open ones unless a status is given)."""
        _, actions = deps.ready()
        flt = ErrorFilter.model_validate(body.model_dump(exclude={"limit"}))
        ids = await actions.bulk_resync(key, flt, body.limit)
        return BulkResult(resynced=len(ids), record_ids=ids)

    @router.get(
        "/v1/errors/{record_id}", response_model=ErrorDetail, responses=_ERRORS, tags=["errors"]
    )
    async def one_error(key: Key, record_id: str) -> ErrorDetail:
        """One error in full: reasons, QBO fault, payload, trace id, timestamps."""
        return await detail(key, record_id)

    @router.post(
        "/v1/errors/{record_id}/resync",
        response_model=ErrorDetail,
        responses=_ERRORS,
        tags=["actions"],
    )
    async def resync(key: Key, record_id: str) -> ErrorDetail:
        """Replay from the failing stage; resolved until it fails again, then open again."""
        _, actions = deps.ready()
        await actions.resync(key, record_id)
        return await detail(key, record_id)

    @router.post(
        "/v1/errors/{record_id}/skip",
        response_model=ErrorDetail,
        responses=_ERRORS,
        tags=["actions"],
    )
    async def skip(key: Key, record_id: str) -> ErrorDetail:
        """Stop retrying and notifying about this error, even if the failure repeats."""
        _, actions = deps.ready()
        await actions.skip(key, record_id)
        return await detail(key, record_id)

    @router.delete(
        "/v1/errors/{record_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=_ACTION_ERRORS,
        tags=["actions"],
    )
    async def delete(key: Key, record_id: str) -> Response:
        """Delete a Service error so the service is created again (409 for other categories)."""
        _, actions = deps.ready()
        await actions.delete(key, record_id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/v1/errors/{record_id}/account/link",
        response_model=ErrorDetail,
        responses=_ACTION_ERRORS,
        tags=["account actions"],
    )
    async def link(key: Key, record_id: str, body: LinkCustomer) -> ErrorDetail:
        """Link the error's customer to an existing QBO customer (takes effect in the poster)."""
        _, actions = deps.ready()
        await actions.link_customer(key, record_id, body.qbo_customer_id)
        return await detail(key, record_id)

    @router.post(
        "/v1/errors/{record_id}/account/create-customer",
        response_model=ErrorDetail,
        responses=_ACTION_ERRORS,
        tags=["account actions"],
    )
    async def create_customer(key: Key, record_id: str) -> ErrorDetail:
        """Create a new QBO customer for the error's customer (takes effect in the poster)."""
        _, actions = deps.ready()
        await actions.create_customer(key, record_id)
        return await detail(key, record_id)

    @router.post(
        "/v1/errors/{record_id}/account/stop-syncing",
        response_model=StopResult,
        responses=_ACTION_ERRORS,
        tags=["account actions"],
    )
    async def stop_syncing(key: Key, record_id: str) -> StopResult:
        """Stop syncing the error's customer (CUS-8); its open errors are skipped."""
        _, actions = deps.ready()
        return StopResult(skipped=await actions.stop_syncing(key, record_id))

    @router.get(
        "/v1/tenants/{tenant}/customers/stopped",
        response_model=list[StoppedCustomer],
        responses=_ERRORS,
        tags=["account actions"],
    )
    async def stopped(key: Key, tenant: str) -> list[StoppedCustomer]:
        """Customers of the tenant whose syncing is stopped."""
        pool, _ = deps.ready()
        return await storage.list_stopped(pool, tenant_in_scope(key, tenant))

    @router.post(
        "/v1/tenants/{tenant}/customers/{customer_ref}/resume-syncing",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=_ERRORS,
        tags=["account actions"],
    )
    async def resume_syncing(key: Key, tenant: str, customer_ref: str) -> Response:
        """Sync a stopped customer again (undoes stop-syncing)."""
        _, actions = deps.ready()
        await actions.resume_syncing(key, tenant, customer_ref)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.post(
        "/v1/tenants/{tenant}/resume",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=_ERRORS,
        tags=["tenants"],
    )
    async def resume_tenant(key: Key, tenant: str) -> Response:
        """Unpause a tenant paused for a failing QBO connection, once it is reconnected.

        Its open connection errors are resynced, oldest first: the commands that failed
        while the connection was broken are sent again.
        """
        _, actions = deps.ready()
        await actions.resume_tenant(key, tenant)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get(
        "/v1/tenants/{tenant}/webhooks",
        response_model=list[Webhook],
        responses=_ERRORS,
        tags=["notifications"],
    )
    async def webhooks(key: Key, tenant: str) -> list[Webhook]:
        """The tenant's notification webhooks."""
        pool, _ = deps.ready()
        return await outbox.list_webhooks(pool, tenant_in_scope(key, tenant))

    @router.post(
        "/v1/tenants/{tenant}/webhooks",
        response_model=NewWebhook,
        status_code=status.HTTP_201_CREATED,
        responses={**_ERRORS, 422: {"model": Problem | InvalidRequest}},
        tags=["notifications"],
    )
    async def add_webhook(key: Key, tenant: str, body: WebhookIn) -> NewWebhook:
        """Add a webhook; the answer shows its signing secret, this once."""
        pool, _ = deps.ready()
        url = str(body.url)
        _check_webhook_url(url, deps.settings.private_webhooks_allowed)
        async with pool.acquire() as conn, conn.transaction():
            hook = await outbox.create_webhook(conn, tenant_in_scope(key, tenant), url)
            await storage.add_audit(
                conn,
                key_id=key.key_id,
                tenant_id=tenant,
                record_id=None,
                action="webhook_add",
                detail={"webhook_id": hook.webhook_id, "url": url},
            )
        return hook

    @router.delete(
        "/v1/tenants/{tenant}/webhooks/{webhook_id}",
        status_code=status.HTTP_204_NO_CONTENT,
        responses=_ERRORS,
        tags=["notifications"],
    )
    async def remove_webhook(key: Key, tenant: str, webhook_id: str) -> Response:
        """Remove a webhook and its undelivered notifications."""
        pool, _ = deps.ready()
        async with pool.acquire() as conn, conn.transaction():
            if not await outbox.delete_webhook(conn, tenant_in_scope(key, tenant), webhook_id):
                raise NotFound(f"no webhook {webhook_id}")
            await storage.add_audit(
                conn,
                key_id=key.key_id,
                tenant_id=tenant,
                record_id=None,
                action="webhook_remove",
                detail={"webhook_id": webhook_id},
            )
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get(
        "/v1/tenants/{tenant}/deliveries",
        response_model=list[Delivery],
        responses=_ERRORS,
        tags=["notifications"],
    )
    async def deliveries(key: Key, tenant: str) -> list[Delivery]:
        """Notification deliveries of the tenant, newest first, with their attempts."""
        pool, _ = deps.ready()
        rows = await outbox.deliveries_of(pool, tenant_in_scope(key, tenant))
        return [Delivery.model_validate(dict(r)) for r in rows]

    @router.get("/v1/audit", response_model=list[AuditEntry], responses=_ERRORS, tags=["audit"])
    async def audit(
        key: Key,
        tenant: str | None = None,
        record_id: str | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        before_id: Annotated[int | None, Query(ge=1, le=_PG_BIGINT)] = None,
    ) -> list[AuditEntry]:
        """Who did what, when: newest first; page back with `before_id`."""
        pool, _ = deps.ready()
        return await storage.list_audit(
            pool, key.scope, tenant=tenant, record_id=record_id, limit=limit, before_id=before_id
        )

    @router.get("/healthz", summary="Liveness.", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: database and broker answer.",
        responses={503: {"model": Problem}},
        tags=["operations"],
    )
    async def readyz() -> Any:
        pool, _ = deps.ready()
        problem = await readiness_problem(pool, deps.broker)
        if problem is not None:
            raise HTTPException(503, problem)
        return {"status": "ready"}

    @router.get(
        "/metrics", summary="Prometheus metrics.", tags=["operations"], response_class=Response
    )
    async def metrics() -> Response:
        return Response(generate_latest(deps.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router


def _check_webhook_url(url: str, allow_private: bool) -> None:
    """Refuse webhook URLs that point into our own network, unless allowed (dev and tests).

    A host name passes here; what it resolves to is checked at each delivery (`egress`).
    """
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            raise HTTPException(422, "webhook URL must not point at this host") from None
        return
    if is_internal(address):
        raise HTTPException(422, "webhook URL must be a public address")
