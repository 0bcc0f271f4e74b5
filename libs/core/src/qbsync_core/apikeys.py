"""API keys of the services' HTTP APIs: scoped to one tenant, or to every tenant (operators).

One scheme for every service: tokens `qbs_<key id>_<secret>`, only a SHA-256 of the
secret stored (32 random bytes, so a fast hash suffices), in the service's own
`api_keys` table (key_id, tenant_id NULL for operators, secret_sha256, label,
revoked_at). The functions take the service's pool or connection, whose search_path
names its schema.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

KEY_PREFIX = "qbs"


class Executor(Protocol):
    """What the key functions need of an asyncpg connection or pool."""

    async def execute(self, query: str, *args: Any) -> str:
        """Run a statement; return its status."""

    async def fetchrow(self, query: str, *args: Any) -> Any:
        """Run a query; return its first row or None."""


@dataclass(frozen=True)
class ApiKey:
    """Who is calling: the key id (for audit logs) and its tenant, None for an operator key."""

    key_id: str
    tenant_id: str | None

    @property
    def scope(self) -> str | None:
        """The tenant this key is confined to; None for an operator key."""
        return self.tenant_id

    def may_see(self, tenant_id: str) -> bool:
        """True when this key may read or act for `tenant_id`."""
        return self.tenant_id is None or self.tenant_id == tenant_id


@dataclass(frozen=True)
class NewApiKey:
    """A key as shown once to its owner."""

    key_id: str
    tenant_id: str | None
    token: str


def secret_hash(secret: str) -> bytes:
    """What is stored of a key's secret."""
    return hashlib.sha256(secret.encode()).digest()


def new_token() -> tuple[str, str]:
    """A fresh (key id, secret) pair; the token is `qbs_<key id>_<secret>`."""
    return secrets.token_hex(6), secrets.token_urlsafe(32)


async def create_api_key(db: Executor, tenant_id: str | None, label: str = "") -> NewApiKey:
    """Create a key for `tenant_id` (None: every tenant); the returned token is never stored."""
    key_id, secret = new_token()
    await db.execute(
        "INSERT INTO api_keys (key_id, tenant_id, secret_sha256, label) VALUES ($1, $2, $3, $4)",
        key_id,
        tenant_id,
        secret_hash(secret),
        label,
    )
    return NewApiKey(key_id, tenant_id, f"{KEY_PREFIX}_{key_id}_{secret}")


async def key_for_token(db: Executor, token: str) -> ApiKey | None:
    """The valid, unrevoked key `token` names; None for anything else."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id or not secret:
        return None
    row = await db.fetchrow(
        "SELECT tenant_id, secret_sha256 FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL",
        key_id,
    )
    if row is None or not hmac.compare_digest(bytes(row["secret_sha256"]), secret_hash(secret)):
        return None
    return ApiKey(key_id, row["tenant_id"])


async def revoke_api_key(db: Executor, key_id: str) -> bool:
    """Revoke a key; False when there was no such live key."""
    result = await db.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", key_id
    )
    return result != "UPDATE 0"
