"""OAuth2 tokens for one QBO connection: refresh ahead of expiry, rotation persisted first.

Intuit rotates refresh tokens: each refresh returns a new refresh token and the old one
stops working soon after (qbo-api.md §5). Losing the new one disconnects the realm
(`invalid_grant`), so `OAuthTokens` hands the new `TokenSet` to the `TokenStore` and only
uses the new access token once the store has it.

The token request is built with authlib's RFC 6749 helpers and sent over the process's
shared `httpx.AsyncClient` (style point 9: one AsyncClient per process, injectable
transport), rather than through a second client owned by authlib.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import httpx
from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import OAuth2Token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_token_request,
)

from qbsync_qbo.errors import QboAuthError, QboHttpError, QboTransportError, error_from_fault
from qbsync_qbo.faults import parse_fault
from qbsync_qbo.models import Fault, FaultError, TokenSet

INTUIT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105
"""Intuit's token endpoint (authorization_code and refresh_token grants)."""


@runtime_checkable
class TokenProvider(Protocol):
    """What the client needs from token handling."""

    async def access_token(self) -> str:
        """Return an access token valid for the next request."""
        ...

    async def on_unauthorized(self, rejected: str) -> str:
        """QBO answered 401 to `rejected`; return a fresh token or raise QboAuthError."""
        ...


class TokenStore(Protocol):
    """Persistence of a connection's tokens (the poster keeps them encrypted in its DB)."""

    async def save(self, tokens: TokenSet) -> None:
        """Persist rotated tokens; must complete before the new access token is used."""
        ...


class StaticToken:
    """A fixed access token (scripts, benchmarks); a 401 is final."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def access_token(self) -> str:
        """Return the fixed token."""
        return self._token

    async def on_unauthorized(self, rejected: str) -> str:
        """Raise: a static token cannot be refreshed."""
        raise QboAuthError(
            "access token refused and no refresh token available",
            status_code=401,
            fault=Fault(type="AUTHENTICATION", errors=(FaultError(code="3200"),)),
        )


class OAuthTokens:
    """Refreshing `TokenProvider` for one realm, backed by a `TokenStore`.

    Args:
        tokens: The connection's current tokens.
        store: Receives every rotated `TokenSet` before its access token is used.
        http: The process's shared AsyncClient.
        client_id: The app's OAuth client id.
        client_secret: The app's OAuth client secret.
        token_url: Token endpoint (Intuit's by default; the emulator's in tests).
        refresh_leeway_s: Refresh this long before the access token expires, so a
            request never leaves with a token about to die in flight.
    """

    def __init__(
        self,
        tokens: TokenSet,
        store: TokenStore,
        http: httpx.AsyncClient,
        *,
        client_id: str,
        client_secret: str,
        token_url: str = INTUIT_TOKEN_URL,
        refresh_leeway_s: float = 300.0,
    ) -> None:
        self._tokens = tokens
        self._store = store
        self._http = http
        self._client_auth = ClientAuth(client_id, client_secret, "client_secret_basic")
        self._token_url = token_url
        self._leeway = refresh_leeway_s
        # One refresh at a time: a second concurrent refresh would spend the rotated-out
        # refresh token and fail with invalid_grant.
        self._lock = asyncio.Lock()

    @property
    def tokens(self) -> TokenSet:
        """The tokens currently in use."""
        return self._tokens

    async def access_token(self) -> str:
        """Return the access token, refreshing first if it expires within the leeway."""
        if self._tokens.expires_within(self._leeway):
            async with self._lock:
                if self._tokens.expires_within(self._leeway):
                    await self._refresh()
        return self._tokens.access_token

    async def on_unauthorized(self, rejected: str) -> str:
        """Refresh after a 401 to `rejected`, unless another task already replaced it."""
        async with self._lock:
            if self._tokens.access_token == rejected:
                await self._refresh()
        return self._tokens.access_token

    async def refresh(self) -> TokenSet:
        """Force a refresh (e.g. a scheduled keep-alive of the 100-day refresh token)."""
        async with self._lock:
            await self._refresh()
        return self._tokens

    async def _refresh(self) -> None:
        body = prepare_token_request("refresh_token", refresh_token=self._tokens.refresh_token)
        fresh = await self._token_request(body, self._tokens.realm_id, self._tokens)
        # Persist before use: if saving fails we raise and keep the old tokens in memory,
        # rather than run on a refresh token nobody stored.
        await self._store.save(fresh)
        self._tokens = fresh

    async def _token_request(self, body: str, realm_id: str, previous: TokenSet | None) -> TokenSet:
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        _, headers, body = self._client_auth.prepare("POST", self._token_url, headers, body)
        try:
            resp = await self._http.post(self._token_url, content=body, headers=headers)
        except httpx.TransportError as exc:
            raise QboTransportError(
                f"token endpoint unreachable: {exc!r}", method="POST", url=self._token_url
            ) from exc
        if resp.status_code != 200:
            fault = parse_fault(resp.content, resp.headers.get("content-type", "")) or Fault()
            err = error_from_fault(resp.status_code, fault, resp.headers)
            if resp.status_code in (400, 401):
                # invalid_grant / invalid_client: only a user can reconnect the realm.
                raise QboAuthError(
                    str(err), status_code=resp.status_code, fault=fault, headers=resp.headers
                )
            raise err
        return _token_set(resp.json(), realm_id, previous)

    async def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        """Exchange an authorization code (OAuth callback) for tokens and store them."""
        body = prepare_token_request("authorization_code", code=code, redirect_uri=redirect_uri)
        fresh = await self._token_request(body, self._tokens.realm_id, None)
        await self._store.save(fresh)
        async with self._lock:
            self._tokens = fresh
        return fresh


def _token_set(payload: dict[str, Any], realm_id: str, previous: TokenSet | None) -> TokenSet:
    try:
        token = OAuth2Token(dict(payload))  # computes expires_at from expires_in
        access = str(token["access_token"])
    except (KeyError, TypeError, ValueError) as exc:
        raise QboHttpError(
            f"malformed token response: {json.dumps(payload)[:200]}", status_code=200
        ) from exc
    refresh = token.get("refresh_token") or (previous.refresh_token if previous else "")
    expires_at = datetime.fromtimestamp(int(token.get("expires_at") or 0), UTC)
    refresh_in = token.get("x_refresh_token_expires_in")
    refresh_expires_at = (
        datetime.now(UTC) + timedelta(seconds=int(refresh_in)) if refresh_in else None
    )
    return TokenSet(
        realm_id=realm_id,
        access_token=access,
        refresh_token=str(refresh),
        expires_at=expires_at,
        refresh_expires_at=refresh_expires_at,
    )
