"""The QBO emulator mounted in process (httpx.ASGITransport) for conformance tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from qbsync_qbo import (
    LimitSettings,
    QboClient,
    QboEntity,
    RealmLimiter,
    RetryPolicy,
    StaticToken,
    TokenProvider,
    TokenSet,
)
from qbsync_sandbox.app import create_app
from qbsync_sandbox.settings import SandboxSettings

BASE = "http://sandbox.test"
TOKEN_URL = f"{BASE}/oauth2/v1/tokens/bearer"
CLIENT_ID = "qbsync-dev"
CLIENT_SECRET = "qbsync-dev-secret"
# The client's own pacing is covered by the throttling tests; elsewhere keep tests fast.
FAST_LIMITS = LimitSettings(
    requests_per_minute=60_000,
    requests_per_second=0,
    batch_requests_per_minute=6_000,
    throttle_backoff_s=0.5,
)
TEST_RETRY = RetryPolicy(max_attempts=6, initial_s=0.05, max_s=0.5, jitter_s=0.05)


@dataclass
class Sandbox:
    """An emulator instance, one realm in it, and an AsyncClient wired to both."""

    http: httpx.AsyncClient
    realm: str
    tokens: dict[str, Any]

    def token_set(self, *, expires_in: float | None = None) -> TokenSet:
        ttl = float(self.tokens["expires_in"]) if expires_in is None else expires_in
        return TokenSet(
            realm_id=self.realm,
            access_token=self.tokens["access_token"],
            refresh_token=self.tokens["refresh_token"],
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
        )

    def client(
        self,
        *,
        tokens: TokenProvider | None = None,
        limits: LimitSettings | None = None,
        retry: RetryPolicy = TEST_RETRY,
    ) -> QboClient:
        return QboClient(
            BASE,
            self.realm,
            tokens or StaticToken(self.tokens["access_token"]),
            self.http,
            RealmLimiter(limits or FAST_LIMITS),
            retry=retry,
        )

    async def admin(self, method: str, path: str, **kwargs: Any) -> Any:
        resp = await self.http.request(method, f"/_admin/{path}", **kwargs)
        resp.raise_for_status()
        return resp.json()

    async def throttled(self) -> int:
        stats = await self.admin("GET", "stats")
        return int(stats["realms"].get(self.realm, {}).get("throttled", 0))


@contextlib.asynccontextmanager
async def sandbox(**settings: Any) -> AsyncIterator[Sandbox]:
    """Start an emulator with `SandboxSettings(**settings)` and create one realm."""
    app = create_app(SandboxSettings(**settings))
    # raise_app_exceptions=False: an injected "dropped connection" reaches the client as a
    # truncated answer, as it would over a socket, instead of an exception from the app.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, timeout=10) as http:
        box = Sandbox(http=http, realm="", tokens={})
        box.realm = str((await box.admin("POST", "realms"))["realm_id"])
        box.tokens = await box.admin("POST", f"realms/{box.realm}/tokens")
        yield box


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def service_item(client: QboClient) -> QboEntity:
    page = await client.query("SELECT * FROM Item WHERE Type = 'Service' MAXRESULTS 1")
    return page.entities[0]


def invoice(customer: QboEntity, item: QboEntity, doc: str, amount: float = 10.0) -> Any:
    return {
        "DocNumber": doc,
        "CustomerRef": {"value": customer.id},
        "Line": [
            {
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"value": item.id},
                    "Qty": 1,
                    "UnitPrice": amount,
                },
            }
        ],
    }
