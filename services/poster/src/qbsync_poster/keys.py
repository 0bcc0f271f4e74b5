"""API keys of the poster's HTTP API: scoped to one tenant, or to every tenant (operators).

The same scheme as ingest and errors: tokens `qbs_<key id>_<secret>`, only a SHA-256 of
the secret stored (32 random bytes, so a fast hash suffices). Keys are created with
`python -m qbsync_poster.keys create --tenant ID | --all` (the poster has no typer
command group: it would need a dependency the service does not otherwise carry).
"""

import argparse
import asyncio
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import asyncpg
from qbsync_core.db import migrate
from qbsync_core.settings import load_settings

from qbsync_poster.migrations_path import MIGRATIONS, SCHEMA
from qbsync_poster.settings import PosterSettings
from qbsync_poster.storage import Executor

KEY_PREFIX = "qbs"
TENANT_PATTERN = r"^[a-z0-9-]{1,64}$"


@dataclass(frozen=True)
class ApiKey:
    """Who is calling: the key id and its tenant, None for an operator key."""

    key_id: str
    tenant_id: str | None

    def may_see(self, tenant_id: str) -> bool:
        """True when this key may read or act for `tenant_id`."""
        return self.tenant_id is None or self.tenant_id == tenant_id


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


async def create_api_key(db: Executor, tenant_id: str | None, label: str = "") -> str:
    """Create a key for `tenant_id` (None: every tenant); return its token (never stored)."""
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    await db.execute(
        "INSERT INTO api_keys (key_id, tenant_id, secret_sha256, label) VALUES ($1, $2, $3, $4)",
        key_id,
        tenant_id,
        _hash(secret),
        label,
    )
    return f"{KEY_PREFIX}_{key_id}_{secret}"


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
    if row is None or not hmac.compare_digest(bytes(row["secret_sha256"]), _hash(secret)):
        return None
    return ApiKey(key_id, row["tenant_id"])


async def revoke_api_key(db: Executor, key_id: str) -> bool:
    """Revoke a key; False when there was no such live key."""
    result = await db.execute(
        "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL", key_id
    )
    return bool(result != "UPDATE 0")


async def _run(args: argparse.Namespace) -> str:
    settings = load_settings(PosterSettings)
    await migrate(settings.database_url, SCHEMA, MIGRATIONS)
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": SCHEMA})
    try:
        if args.command == "revoke":
            return "revoked" if await revoke_api_key(conn, args.key_id) else "no such live key"
        return await create_api_key(conn, None if args.all else args.tenant, args.label)
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> None:
    """`python -m qbsync_poster.keys create --tenant ID | --all` / `revoke KEY_ID`."""
    parser = argparse.ArgumentParser(prog="python -m qbsync_poster.keys")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it once")
    scope = create.add_mutually_exclusive_group(required=True)
    scope.add_argument("--tenant", help="the one tenant the key may see")
    scope.add_argument("--all", action="store_true", help="an operator key for every tenant")
    create.add_argument("--label", default="", help="a note on whose key this is")
    revoke = commands.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    if args.command == "create" and args.tenant and not re.fullmatch(TENANT_PATTERN, args.tenant):
        parser.error(f"--tenant must match {TENANT_PATTERN}")
    print(asyncio.run(_run(args)))


if __name__ == "__main__":
    main()
