"""PostgreSQL helpers: one schema per service, versioned SQL migrations, asyncpg pools.

Migrations are plain SQL files (`NNNN.description.sql`) in a service's
`migrations/` folder, applied by yoyo under a lock into that service's schema; the
applied history lives in the same schema, so services migrate independently.
"""

import asyncio
import re
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import asyncpg
from yoyo import get_backend, read_migrations

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_schema_name(schema: str) -> str:
    """Return `schema` if it is a plain lower-case identifier (it is interpolated into DDL)."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
    return schema


def _yoyo_url(database_url: str, schema: str) -> str:
    parts = urlsplit(database_url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(
        ("postgresql+psycopg", parts.netloc, parts.path, query + urlencode({"schema": schema}), "")
    )


def _apply_migrations(database_url: str, schema: str, migrations_dir: Path) -> list[str]:
    if not migrations_dir.is_dir():
        raise FileNotFoundError(f"no migrations folder at {migrations_dir}")
    backend = get_backend(_yoyo_url(database_url, schema))
    try:
        migrations = read_migrations(str(migrations_dir))
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
        return [m.id for m in pending]
    finally:
        backend.connection.close()


async def migrate(database_url: str, schema: str, migrations_dir: Path) -> list[str]:
    """Create `schema` if needed and apply its pending migrations; return the ids applied."""
    check_schema_name(schema)
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    finally:
        await conn.close()
    # yoyo is synchronous (psycopg); keep it off the event loop.
    return await asyncio.to_thread(_apply_migrations, database_url, schema, migrations_dir)


async def create_pool(
    database_url: str, schema: str, *, min_size: int = 1, max_size: int = 10
) -> asyncpg.Pool:
    """An asyncpg pool whose connections resolve unqualified names in `schema` first."""
    check_schema_name(schema)
    pool = await asyncpg.create_pool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        server_settings={"search_path": f"{schema},public", "application_name": f"qbsync-{schema}"},
    )
    if pool is None:  # pragma: no cover - asyncpg returns None only when not awaited
        raise RuntimeError("asyncpg.create_pool returned no pool")
    return pool
