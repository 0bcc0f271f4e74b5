"""HTTP: the OAuth connect flow, the back-sync switch, the read API over QBO lists, health.

`/connect/qbo`, `/v1/tenants/{t}/backsync` and the read API need an API key
(`Authorization: Bearer qbs_...`) of the tenant they name, or an operator key; another
tenant's id answers 404, as in the errors service. `/callback` carries no key
(Intuit's redirect of the user's browser): the single-use, unguessable `state` issued
by an authorized `/connect/qbo` protects it.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field
from qbsync_qbo import Cond, QboAuthError, QboClient, QboEntity, QboError, select
from qbsync_qbo.query import Scalar

from qbsync_poster import storage
from qbsync_poster.cdc import OVERLAP
from qbsync_poster.connections import NotConnected
from qbsync_poster.keys import ApiKey, key_for_token
from qbsync_poster.resources import Resources

LIST_FIELDS = ("Id", "Name", "Active", "FullyQualifiedName")
_NOT_CONNECTED = "tenant {} has no QBO connection; connect it first (/connect/qbo)"


class BackSync(BaseModel):
    """A tenant's payment back-sync switch (SET-7)."""

    enabled: bool = Field(
        strict=True,  # true or false only: "yes" or 1 are refused, not guessed
        description="Publish payments recorded in QBO against synced invoices upstream.",
    )


_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad API key."},
    404: {"description": "Another tenant's id (for this key it does not exist)."},
}


def _key_dependency(resources: Resources) -> Callable[..., Awaitable[ApiKey]]:
    async def api_key(authorization: Annotated[str | None, Header()] = None) -> ApiKey:
        token = (authorization or "").removeprefix("Bearer ").strip()
        key = await key_for_token(resources.ready().pool, token) if token else None
        if key is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "a valid API key is required",
                {"WWW-Authenticate": "Bearer"},
            )
        return key

    return api_key


def _in_scope(key: ApiKey, tenant_id: str) -> str:
    if not key.may_see(tenant_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no tenant {tenant_id}")
    return tenant_id


def _row(entity: QboEntity, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: entity.get(f) for f in fields if entity.get(f) is not None}


def health_router(resources: Resources) -> APIRouter:
    """`GET /health`: 200 once the lifespan opened everything, else 503."""
    router = APIRouter()

    @router.get("/health")
    async def health() -> dict[str, str]:
        if resources.deps is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "starting")
        return {"status": "ok"}

    return router


def connect_router(resources: Resources) -> APIRouter:
    """The OAuth2 authorization-code flow."""
    router = APIRouter(tags=["connections"])
    Key = Annotated[ApiKey, Depends(_key_dependency(resources))]

    @router.get(
        "/connect/qbo", response_class=RedirectResponse, status_code=307, responses=_AUTH_ERRORS
    )
    async def connect(key: Key, tenant: Annotated[str, Query(min_length=1)]) -> RedirectResponse:
        """Send the user to Intuit's consent page for `tenant`."""
        url = await resources.ready().connections.authorize_url(_in_scope(key, tenant))
        return RedirectResponse(url, status_code=307)

    @router.get("/callback")
    async def callback(
        code: Annotated[str, Query(min_length=1)],
        state: Annotated[str, Query(min_length=1)],
        realm_id: Annotated[str, Query(alias="realmId", min_length=1)],
    ) -> dict[str, Any]:
        """Intuit's redirect back: exchange the code and store the encrypted tokens."""
        try:
            tenant = await resources.ready().connections.complete(code, state, realm_id)
        except NotConnected as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
        except QboAuthError as exc:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, f"Intuit refused: {exc}") from exc
        return {"tenant_id": tenant, "realm_id": realm_id, "connected": True}

    @router.get("/v1/tenants/{tenant_id}/backsync", response_model=BackSync, responses=_AUTH_ERRORS)
    async def backsync(key: Key, tenant_id: str) -> BackSync:
        """Whether payments recorded in QBO go back upstream for this tenant (SET-7)."""
        pool = resources.ready().pool
        stored = await storage.connection_for_tenant(pool, _in_scope(key, tenant_id))
        if stored is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, _NOT_CONNECTED.format(tenant_id))
        return BackSync(enabled=stored.backsync)

    @router.put("/v1/tenants/{tenant_id}/backsync", response_model=BackSync, responses=_AUTH_ERRORS)
    async def set_backsync(key: Key, tenant_id: str, body: BackSync) -> BackSync:
        """Opt in to (or out of) payment back-sync; off until turned on (SET-6)."""
        pool = resources.ready().pool
        # From now, less the poll's overlap (QBO stamps whole seconds).
        poll_from = datetime.now(UTC) - OVERLAP
        tenant = _in_scope(key, tenant_id)
        if not await storage.set_backsync(pool, tenant, body.enabled, poll_from=poll_from):
            raise HTTPException(status.HTTP_404_NOT_FOUND, _NOT_CONNECTED.format(tenant_id))
        return body

    return router


def read_router(resources: Resources) -> APIRouter:
    """`/v1/tenants/{id}/qbo/...`: QBO lists for the other services, through the client."""

    async def scoped(
        key: Annotated[ApiKey, Depends(_key_dependency(resources))], tenant_id: str
    ) -> None:
        _in_scope(key, tenant_id)

    router = APIRouter(
        prefix="/v1/tenants/{tenant_id}/qbo",
        tags=["read"],
        dependencies=[Depends(scoped)],
        responses=_AUTH_ERRORS,
    )

    async def client(tenant_id: str) -> QboClient:
        try:
            return await resources.ready().connections.client_for(tenant_id)
        except NotConnected as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc

    async def rows(
        tenant_id: str, entity: str, where: dict[str, Scalar | Cond], fields: tuple[str, ...]
    ) -> list[dict[str, Any]]:
        qbo = await client(tenant_id)
        try:
            found = await qbo.query_all(select(entity, where, order_by="Id"))
        except QboError as exc:
            raise HTTPException(status.HTTP_502_BAD_GATEWAY, f"QBO: {exc}") from exc
        return [_row(e, fields) for e in found]

    @router.get("/customers")
    async def customers(
        tenant_id: str, q: Annotated[str | None, Query(max_length=200)] = None
    ) -> list[dict[str, Any]]:
        """Customers; `q` is an e-mail (exact) or a DisplayName prefix."""
        where: dict[str, Scalar | Cond] = {}
        if q and "@" in q:
            where["PrimaryEmailAddr"] = q
        elif q:
            where["DisplayName"] = Cond("LIKE", f"{q}%")
        fields = ("Id", "DisplayName", "CompanyName", "PrimaryEmailAddr", "CurrencyRef", "Active")
        return await rows(tenant_id, "Customer", where, fields)

    @router.get("/accounts")
    async def accounts(tenant_id: str) -> list[dict[str, Any]]:
        """Accounts with AccountType, AccountSubType and Classification."""
        fields = (*LIST_FIELDS, "AccountType", "AccountSubType", "Classification", "CurrencyRef")
        return await rows(tenant_id, "Account", {}, fields)

    @router.get("/items")
    async def items(tenant_id: str) -> list[dict[str, Any]]:
        """Items (products and services)."""
        return await rows(tenant_id, "Item", {}, (*LIST_FIELDS, "Type", "IncomeAccountRef"))

    @router.get("/classes")
    async def classes(tenant_id: str) -> list[dict[str, Any]]:
        """Classes."""
        return await rows(tenant_id, "Class", {}, LIST_FIELDS)

    @router.get("/taxcodes")
    async def taxcodes(tenant_id: str) -> list[dict[str, Any]]:
        """Tax codes."""
        return await rows(tenant_id, "TaxCode", {}, (*LIST_FIELDS, "Taxable", "Description"))

    @router.get("/paymentmethods")
    async def payment_methods(tenant_id: str) -> list[dict[str, Any]]:
        """Payment methods."""
        return await rows(tenant_id, "PaymentMethod", {}, (*LIST_FIELDS, "Type"))

    return router
