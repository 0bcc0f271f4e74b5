"""API keys of the errors API: scoped to one tenant, or to every tenant (operators).

Tokens look like ingest's, `qbs_<key id>_<secret>`; only a SHA-256 of the secret
is stored (the secret is 32 random bytes, so a fast hash suffices).
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from qbsync_errors.storage import Conn, Executor

KEY_PREFIX = "qbs"


@dataclass(frozen=True)
class ApiKey:
    """Who is calling: the key id (for the audit log) and its tenant, None for all tenants."""

    key_id: str
    tenant_id: str | None

    @property
    def scope(self) -> str | None:
        """The tenant this key is confined to; None for an operator key."""
        return self.tenant_id


@dataclass(frozen=True)
class NewApiKey:
    """A key as shown once to its owner."""

    key_id: str
    tenant_id: str | None
    token: str


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def create_api_key(conn: Conn, tenant_id: str | None, label: str = "") -> NewApiKey:
    """Create a key for `tenant_id` (None: every tenant); the returned token is never stored."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO api_keys (key_id, tenant_id, secret_sha256, label) VALUES ($1, $2, $3, $4)",
        key_id,
        tenant_id,
        _hash(secret),
        label,
    )
    return NewApiKey(key_id, tenant_id, f"{KEY_PREFIX}_{key_id}_{secret}")


async def key_for_token(conn: Executor, token: str) -> ApiKey | None:
    """The valid, unrevoked key `token` names; None for anything else."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id or not secret:
        return None
    row = await conn.fetchrow(
        "SELECT tenant_id, secret_sha256 FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL",
        key_id,
    )
    if row is None or not hmac.compare_digest(bytes(row["secret_sha256"]), _hash(secret)):
        return None
    return ApiKey(key_id, row["tenant_id"])


async def revoke_api_key(conn: Executor, key_id: str) -> bool:
    """Revoke a key; False when there was no such live key."""
    result = await conn.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", key_id
    )
    return result != "UPDATE 0"
