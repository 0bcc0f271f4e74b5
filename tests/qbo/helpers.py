"""Shared builders for the QBO client tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from qbsync_qbo import (
    LimitSettings,
    QboClient,
    RealmLimiter,
    RetryPolicy,
    StaticToken,
    TokenProvider,
    TokenSet,
)

BASE = "https://qbo.test"
REALM = "9130"
FAST_RETRY = RetryPolicy(max_attempts=4, initial_s=0.01, max_s=0.05, jitter_s=0.01)


def fast_limiter(**overrides: Any) -> RealmLimiter:
    settings: dict[str, Any] = {
        "requests_per_minute": 100_000,
        "requests_per_second": 0,
        "batch_requests_per_minute": 100_000,
        "throttle_backoff_s": 0.05,
    }
    settings.update(overrides)
    return RealmLimiter(LimitSettings(**settings))


def json_response(status: int, payload: Any, **headers: str) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(payload).encode(),
        headers={"content-type": "application/json", **headers},
    )


def fault(code: str, status: int = 400, fault_type: str = "ValidationFault") -> httpx.Response:
    body = {
        "Fault": {
            "Error": [{"Message": "m", "Detail": "d", "code": code, "element": ""}],
            "type": fault_type,
        },
        "time": "t",
    }
    return json_response(status, body)


def token_set(access: str = "at-1", refresh: str = "rt-1", expires_in: float = 3600) -> TokenSet:
    return TokenSet(
        realm_id=REALM,
        access_token=access,
        refresh_token=refresh,
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
    )


class Recorder:
    """An httpx.MockTransport handler that records requests and answers from a script."""

    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))


def make_client(
    http: httpx.AsyncClient,
    tokens: TokenProvider | None = None,
    limiter: RealmLimiter | None = None,
) -> QboClient:
    return QboClient(
        BASE,
        REALM,
        tokens or StaticToken("at-1"),
        http,
        limiter or fast_limiter(),
        retry=FAST_RETRY,
    )


INVOICE_BODY = {"Invoice": {"Id": "1", "SyncToken": "0"}, "time": "t"}
