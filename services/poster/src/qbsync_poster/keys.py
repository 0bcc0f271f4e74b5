"""API keys of the poster's HTTP API: scoped to one tenant, or to every tenant (operators).

The scheme every service shares is `qbsync_core.apikeys`; the keys are stored in the
poster's own `api_keys` table. Keys are created with
`python -m qbsync_poster.keys create --tenant ID | --all` (the poster has no typer
command group: it would need a dependency the service does not otherwise carry).
"""

import argparse
import asyncio
import re

import asyncpg
from qbsync_core.apikeys import ApiKey, NewApiKey, create_api_key, key_for_token, revoke_api_key
from qbsync_core.db import migrate
from qbsync_core.settings import load_settings

from qbsync_poster.migrations_path import MIGRATIONS, SCHEMA
from qbsync_poster.settings import PosterSettings

TENANT_PATTERN = r"^[a-z0-9-]{1,64}$"

__all__ = ["ApiKey", "NewApiKey", "create_api_key", "key_for_token", "main", "revoke_api_key"]


async def _run(args: argparse.Namespace) -> str:
    settings = load_settings(PosterSettings)
    await migrate(settings.database_url, SCHEMA, MIGRATIONS)
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": SCHEMA})
    try:
        if args.command == "revoke":
            return "revoked" if await revoke_api_key(conn, args.key_id) else "no such live key"
        key = await create_api_key(conn, None if args.all else args.tenant, args.label)
        return key.token
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
