"""QBO connections: the OAuth2 authorization-code flow, stored tokens and one client per realm.

Tokens are encrypted at rest (`TokenCipher`). A refresh stores the rotated tokens before
the new access token is used (`DbTokenStore`, called by `qbsync_qbo.OAuthTokens`). A
connection whose tokens Intuit refuses is marked revoked: its commands then fail at once
as Account errors (ERR-2) instead of retrying against QBO forever.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

import asyncpg
import httpx
from qbsync_qbo import (
    LimiterRegistry,
    LimitSettings,
    OAuthTokens,
    QboClient,
    RetryPolicy,
    TokenSet,
)

from qbsync_poster import storage
from qbsync_poster.crypto import InvalidToken, TokenCipher
from qbsync_poster.settings import QBO_SCOPE, PosterSettings


class NotConnected(Exception):
    """The tenant has no usable QBO connection (never connected, revoked, other realm)."""


class DbTokenStore:
    """`qbsync_qbo.TokenStore` over the connections table, encrypting what it stores."""

    def __init__(self, pool: asyncpg.Pool, cipher: TokenCipher) -> None:
        self._pool = pool
        self._cipher = cipher

    async def save(self, tokens: TokenSet) -> None:
        """Persist rotated tokens of `tokens.realm_id` (before their first use)."""
        await storage.save_tokens(self._pool, tokens.realm_id, self.seal(tokens))

    def seal(self, tokens: TokenSet) -> bytes:
        """Encrypt a token set for storage."""
        return self._cipher.encrypt(tokens.model_dump_json().encode())

    def open(self, blob: bytes) -> TokenSet:
        """Decrypt a stored token set."""
        return TokenSet.model_validate_json(self._cipher.decrypt(blob))


@dataclass
class _Realm:
    tokens: OAuthTokens
    client: QboClient


def limit_settings(settings: PosterSettings) -> LimitSettings:
    """The per-realm limits the poster paces itself to."""
    if not settings.limits_enabled:
        big = 1_000_000
        return LimitSettings(
            requests_per_minute=big,
            requests_per_second=0,
            max_concurrent=10,
            batch_requests_per_minute=big,
            throttle_backoff_s=settings.throttle_backoff_s,
        )
    return LimitSettings(throttle_backoff_s=settings.throttle_backoff_s)


class Connections:
    """Connections of every tenant, and a cached `QboClient` per connected realm.

    Args:
        pool: The poster's database pool.
        http: The process's shared AsyncClient (tests route it to the emulator).
        settings: OAuth client, URLs, limits and retry settings.
    """

    def __init__(self, pool: asyncpg.Pool, http: httpx.AsyncClient, settings: PosterSettings):
        self._pool = pool
        self._http = http
        self._settings = settings
        self._store = DbTokenStore(pool, TokenCipher(settings.token_keys.get_secret_value()))
        self._limiters = LimiterRegistry(limit_settings(settings))
        self._retry = RetryPolicy(
            max_attempts=settings.retry_max_attempts,
            initial_s=settings.retry_initial_s,
            max_s=settings.retry_max_s,
            jitter_s=min(0.5, settings.retry_initial_s),
        )
        self._realms: dict[str, _Realm] = {}

    @property
    def store(self) -> DbTokenStore:
        """The encrypted token store."""
        return self._store

    def _oauth(self, tokens: TokenSet) -> OAuthTokens:
        return OAuthTokens(
            tokens,
            self._store,
            self._http,
            client_id=self._settings.oauth_client_id,
            client_secret=self._settings.oauth_client_secret.get_secret_value(),
            token_url=self._settings.oauth_token_url,
            refresh_leeway_s=self._settings.refresh_leeway_s,
        )

    async def authorize_url(self, tenant_id: str) -> str:
        """Intuit's consent URL for `tenant_id`, with a fresh single-use `state`."""
        state = secrets.token_urlsafe(24)
        await storage.put_state(self._pool, state, tenant_id)
        query = urlencode(
            {
                "client_id": self._settings.oauth_client_id,
                "response_type": "code",
                "scope": QBO_SCOPE,
                "redirect_uri": self._settings.oauth_redirect_uri,
                "state": state,
            }
        )
        return f"{self._settings.oauth_authorize_url}?{query}"

    async def complete(self, code: str, state: str, realm_id: str) -> str:
        """Finish the flow: check `state`, exchange `code`, store the tokens.

        Returns:
            The tenant now connected to `realm_id`.

        Raises:
            NotConnected: `state` is unknown or expired.
            QboAuthError: Intuit refused the code.
        """
        tenant_id = await storage.take_state(self._pool, state)
        if tenant_id is None:
            raise NotConnected("unknown or expired OAuth state")
        placeholder = TokenSet(
            realm_id=realm_id, access_token="", refresh_token="", expires_at=datetime.now(UTC)
        )
        oauth = self._oauth(placeholder)
        # exchange_code saves through the store, which updates existing rows only; the
        # first connection of a tenant is inserted here.
        fresh = await oauth.exchange_code(code, self._settings.oauth_redirect_uri)
        await storage.save_connection(self._pool, tenant_id, realm_id, self._store.seal(fresh))
        self._realms.pop(realm_id, None)
        return tenant_id

    async def connect_with_tokens(self, tenant_id: str, tokens: TokenSet) -> None:
        """Store an already obtained token set (CLI, tests, migrations from another app)."""
        await storage.save_connection(
            self._pool, tenant_id, tokens.realm_id, self._store.seal(tokens)
        )
        self._realms.pop(tokens.realm_id, None)

    async def client_for(self, tenant_id: str, realm_id: str | None = None) -> QboClient:
        """The client of the tenant's realm.

        Raises:
            NotConnected: no active connection, or one to a different realm.
        """
        stored = await storage.connection_for_tenant(self._pool, tenant_id)
        return self._client(tenant_id, realm_id, stored)

    async def clients_for(self, realms: dict[str, str]) -> dict[str, QboClient | NotConnected]:
        """`client_for` of many tenants (tenant -> realm of its commands) in one query."""
        stored = await storage.connections_for_tenants(self._pool, realms)
        out: dict[str, QboClient | NotConnected] = {}
        for tenant_id, realm_id in realms.items():
            try:
                out[tenant_id] = self._client(tenant_id, realm_id, stored.get(tenant_id))
            except NotConnected as exc:
                out[tenant_id] = exc
        return out

    def _client(
        self, tenant_id: str, realm_id: str | None, stored: storage.StoredConnection | None
    ) -> QboClient:
        if stored is None:
            raise NotConnected(f"tenant {tenant_id} has not connected QuickBooks Online")
        if stored.status != "active":
            raise NotConnected(
                f"the QuickBooks Online connection of tenant {tenant_id} was revoked "
                f"({stored.failure}); reconnect it"
            )
        if realm_id is not None and stored.realm_id != realm_id:
            raise NotConnected(
                f"tenant {tenant_id} is connected to realm {stored.realm_id}, not {realm_id}"
            )
        cached = self._realms.get(stored.realm_id)
        if cached is None:
            try:
                tokens = self._store.open(stored.tokens)
            except InvalidToken as exc:
                # One tenant's unreadable tokens must not hold up the batch: its commands
                # fail as Account errors (resync once the key is back), the others post.
                raise NotConnected(
                    f"the stored QuickBooks Online tokens of tenant {tenant_id} cannot be "
                    "decrypted with the configured keys (QBSYNC_POSTER_TOKEN_KEYS): restore "
                    "the key that encrypted them, or reconnect the tenant"
                ) from exc
            oauth = self._oauth(tokens)
            client = QboClient(
                self._settings.qbo_base_url,
                stored.realm_id,
                oauth,
                self._http,
                self._limiters.for_realm(stored.realm_id),
                retry=self._retry,
            )
            cached = self._realms[stored.realm_id] = _Realm(oauth, client)
        return cached.client

    async def revoked(self, realm_id: str, reason: str) -> None:
        """Intuit refused the realm's tokens: stop using them until the tenant reconnects."""
        await storage.mark_revoked(self._pool, realm_id, reason[:500])
        self._realms.pop(realm_id, None)

    async def rotate_keys(self) -> int:
        """Re-encrypt every stored token set under the first key; returns how many."""
        rows = await storage.all_tokens(self._pool)
        cipher = TokenCipher(self._settings.token_keys.get_secret_value())
        for tenant_id, blob in rows:
            await storage.replace_tokens(self._pool, tenant_id, cipher.rotate(blob))
        return len(rows)
