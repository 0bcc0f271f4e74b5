"""The shared state of one emulator instance."""

from __future__ import annotations

import secrets
import time
from typing import Any

from qbsync_sandbox.limits import Chaos, Limiter, Stats
from qbsync_sandbox.seed import seed_realm
from qbsync_sandbox.settings import SandboxSettings
from qbsync_sandbox.store import ACCOUNTING_SCOPE, Realm, Store, TokenGrant

REFRESH_TOKEN_TTL_S = 100 * 24 * 3600  # Intuit: refresh tokens live 100 days, rolling


class SandboxState:
    """Realms, OAuth grants, limiter, chaos settings and statistics."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.store = Store()
        self.limiter = Limiter(settings)
        self.chaos = Chaos(settings)
        self.stats = Stats()

    def create_realm(
        self, name: str | None = None, home_currency: str = "USD", *, multicurrency: bool = False
    ) -> Realm:
        """Create a seeded realm (a fresh sandbox company)."""
        realm_id = self.store.new_realm_id()
        realm = Realm(
            realm_id=realm_id,
            name=name or f"Sandbox Company {realm_id[-4:]}",
            home_currency=home_currency.upper(),
        )
        seed_realm(realm, multicurrency=multicurrency)
        self.store.realms[realm_id] = realm
        return realm

    def issue_tokens(self, realm_id: str, scope: str = ACCOUNTING_SCOPE) -> dict[str, Any]:
        """Issue a fresh access/refresh token pair for a realm (Intuit's token response)."""
        access = "eyJ" + secrets.token_urlsafe(48)
        refresh = "AB1" + secrets.token_urlsafe(36)
        clock = time.time()
        ttl = self.settings.access_token_ttl_s
        self.store.tokens[access] = TokenGrant(realm_id, clock + ttl, "access", scope=scope)
        self.store.tokens[refresh] = TokenGrant(
            realm_id, clock + REFRESH_TOKEN_TTL_S, "refresh", scope=scope
        )
        return {
            "token_type": "bearer",
            "expires_in": ttl,
            "refresh_token": refresh,
            "x_refresh_token_expires_in": REFRESH_TOKEN_TTL_S,
            "access_token": access,
        }

    def check_access(self, token: str | None, realm_id: str) -> str | None:
        """Return None when the access token is good for the realm, else why it is not."""
        if not token:
            return "No bearer token was sent."
        grant = self.store.tokens.get(token)
        if grant is None or grant.kind != "access":
            return "The bearer token is unknown."
        if grant.revoked:
            return "The bearer token has been revoked."
        if grant.expires_at <= time.time():
            return "Token expired: the access token is older than its lifetime."
        if grant.realm_id != realm_id:
            return "The bearer token was issued for another company."
        return None

    def lacks_scope(self, token: str | None) -> bool:
        """True when a (valid) access token was not granted the accounting scope."""
        grant = self.store.tokens.get(token or "")
        return grant is not None and ACCOUNTING_SCOPE not in grant.scope.split()

    def revoke_realm(self, realm_id: str) -> None:
        """Revoke every token of a realm."""
        for grant in self.store.tokens.values():
            if grant.realm_id == realm_id:
                grant.revoked = True

    def expire_realm(self, realm_id: str) -> None:
        """Make every access token of a realm expired (refresh tokens stay usable)."""
        for grant in self.store.tokens.values():
            if grant.realm_id == realm_id and grant.kind == "access":
                grant.expires_at = 0.0
