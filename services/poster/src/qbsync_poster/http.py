"""HTTP: the OAuth connect flow, the read API over QBO lists, health."""

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import RedirectResponse
from qbsync_qbo import Cond, QboAuthError, QboClient, QboEntity, QboError, select
from qbsync_qbo.query import Scalar

from qbsync_poster.connections import NotConnected
from qbsync_poster.resources import Resources

LIST_FIELDS = ("Id", "Name", "Active", "FullyQualifiedName")


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

    @router.get("/connect/qbo", response_class=RedirectResponse, status_code=307)
    async def connect(tenant: Annotated[str, Query(min_length=1)]) -> RedirectResponse:
        """Send the user to Intuit's consent page for `tenant`."""
        url = await resources.ready().connections.authorize_url(tenant)
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

    return router


def read_router(resources: Resources) -> APIRouter:
    """`/v1/tenants/{id}/qbo/...`: QBO lists for the other services, through the client."""
    router = APIRouter(prefix="/v1/tenants/{tenant_id}/qbo", tags=["read"])

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
