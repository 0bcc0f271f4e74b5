"""Fixtures for the sandbox conformance suite: an in-process emulator over plain HTTP."""

# ruff: noqa: S608 - these strings are QBO queries sent to the emulator, not SQL

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from qbsync_sandbox.app import create_app
from qbsync_sandbox.settings import SandboxSettings


class Company:
    """A client bound to one realm with a valid token."""

    def __init__(self, client: httpx.AsyncClient, realm_id: str, tokens: dict[str, Any]) -> None:
        self.client = client
        self.realm_id = realm_id
        self.tokens = tokens
        self.base = f"/v3/company/{realm_id}"

    @property
    def headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.tokens['access_token']}",
            "Accept": "application/json",
        }

    async def post(self, path: str, body: Any, **params: str) -> httpx.Response:
        params.setdefault("minorversion", "75")
        return await self.client.post(
            f"{self.base}/{path}", json=body, params=params, headers=self.headers
        )

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.client.get(f"{self.base}/{path}", params=params, headers=self.headers)

    async def create(self, entity: str, body: dict[str, Any], **params: str) -> dict[str, Any]:
        response = await self.post(entity.lower(), body, **params)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()[entity]
        return result

    async def read(self, entity: str, entity_id: str) -> dict[str, Any]:
        response = await self.get(f"{entity.lower()}/{entity_id}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()[entity]
        return result

    async def query(self, text: str) -> dict[str, Any]:
        response = await self.get("query", query=text)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["QueryResponse"]
        return result

    async def customer(self, name: str = "Acme Ltd", **fields: Any) -> dict[str, Any]:
        return await self.create("Customer", {"DisplayName": name, **fields})

    async def invoice(self, customer_id: str, amount: float = 100, **fields: Any) -> dict[str, Any]:
        line = {
            "Amount": amount,
            "DetailType": "SalesItemLineDetail",
            "SalesItemLineDetail": {"ItemRef": {"value": "1"}},
        }
        return await self.create(
            "Invoice", {"CustomerRef": {"value": customer_id}, "Line": [line], **fields}
        )

    async def payment(
        self, customer_id: str, total: float, links: list[tuple[str, str, float]]
    ) -> dict[str, Any]:
        lines = [
            {"Amount": amount, "LinkedTxn": [{"TxnId": txn_id, "TxnType": txn_type}]}
            for txn_type, txn_id, amount in links
        ]
        return await self.create(
            "Payment", {"CustomerRef": {"value": customer_id}, "TotalAmt": total, "Line": lines}
        )

    async def account_id(self, name: str) -> str:
        found = await self.query(f"SELECT * FROM Account WHERE Name = '{name}'")
        return str(found["Account"][0]["Id"])


def fault(response: httpx.Response) -> dict[str, Any]:
    """Return the single Error of a Fault answer."""
    body = response.json()
    assert "Fault" in body, body
    error: dict[str, Any] = body["Fault"]["Error"][0]
    return error


@asynccontextmanager
async def open_sandbox(settings: SandboxSettings | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """An AsyncClient talking to a fresh in-process emulator."""
    app = create_app(settings or SandboxSettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client


async def new_company(client: httpx.AsyncClient, **body: Any) -> Company:
    """Create a realm through the admin API and take a token for it."""
    created = await client.post("/_admin/realms", json=body)
    realm_id = created.json()["realm_id"]
    tokens = (await client.post(f"/_admin/realms/{realm_id}/tokens")).json()
    return Company(client, realm_id, tokens)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with open_sandbox(SandboxSettings(limits_enabled=False)) as http:
        yield http


@pytest.fixture
async def qbo(client: httpx.AsyncClient) -> Company:
    return await new_company(client)


SandboxFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def sandbox_factory() -> SandboxFactory:
    return open_sandbox
