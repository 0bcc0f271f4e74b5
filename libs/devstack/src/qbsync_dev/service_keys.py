"""API keys one service of the dev stack holds for another's HTTP API.

The mapper reads the company's account types from the poster's read API (PAY-10),
which needs a key since issue 10. The stack makes an operator key of the poster,
hands the token to the services' environment (`QBSYNC_MAPPER_POSTER_KEY`) and, once
the poster has created its `api_keys` table, stores the key's hash there, as
`python -m qbsync_poster.keys create --all` would (this package imports no service).
"""

from dataclasses import dataclass

import asyncpg
from qbsync_core.apikeys import KEY_PREFIX, new_token, secret_hash

MAPPER_POSTER_KEY = "QBSYNC_MAPPER_POSTER_KEY"


@dataclass(frozen=True)
class ServiceKey:
    """A key before it is stored: the token for the caller, the hash for the callee."""

    key_id: str
    token: str
    secret_sha256: bytes


def new_key() -> ServiceKey:
    """A fresh `qbs_<id>_<secret>` token (the format of every qbsync API key)."""
    key_id, secret = new_token()
    return ServiceKey(key_id, f"{KEY_PREFIX}_{key_id}_{secret}", secret_hash(secret))


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
