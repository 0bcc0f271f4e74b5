"""API keys one service of the dev stack holds for another's HTTP API.

The mapper reads the company's account types from the poster's read API (PAY-10),
which needs a key since issue 10. The stack makes an operator key of the poster,
hands the token to the services' environment (`QBSYNC_MAPPER_POSTER_KEY`) and, once
the poster has created its `api_keys` table, stores the key's hash there, as
`python -m qbsync_poster.keys create --all` would (this package imports no service).
"""

import hashlib
import secrets
from dataclasses import dataclass

import asyncpg

MAPPER_POSTER_KEY = "QBSYNC_MAPPER_POSTER_KEY"


@dataclass(frozen=True)
class ServiceKey:
    """A key before it is stored: the token for the caller, the hash for the callee."""

    key_id: str
    token: str
    secret_sha256: bytes


def new_key() -> ServiceKey:
    """A fresh `qbs_<id>_<secret>` token (the format of every qbsync API key)."""
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    digest = hashlib.sha256(secret.encode()).digest()
    return ServiceKey(key_id, f"qbs_{key_id}_{secret}", digest)


async def store_poster_operator_key(database_url: str, key: ServiceKey) -> None:
    """Store `key` as an operator key of the poster (its schema must be migrated)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(
            "INSERT INTO poster.api_keys (key_id, tenant_id, secret_sha256, label) "
            "VALUES ($1, NULL, $2, 'dev stack: the mapper')",
            key.key_id,
            key.secret_sha256,
        )
    finally:
        await conn.close()
