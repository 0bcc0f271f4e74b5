"""`qbsync apikey create --tenant ID`: a new API key for POST /v1/events."""

import asyncio
from typing import Annotated

import asyncpg
import typer
from qbsync_core.db import migrate
from qbsync_core.settings import load_settings

from qbsync_ingest.app import MIGRATIONS, SCHEMA
from qbsync_ingest.settings import IngestSettings
from qbsync_ingest.storage import create_api_key

app = typer.Typer(help="API keys for the ingest HTTP API.", no_args_is_help=True)
TENANT_PATTERN = r"^[a-z0-9-]{1,64}$"


async def _create(tenant: str) -> str:
    settings = load_settings(IngestSettings)
    await migrate(settings.database_url, SCHEMA, MIGRATIONS)
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": SCHEMA})
    try:
        key = await create_api_key(conn, tenant)
    finally:
        await conn.close()
    return key.token


@app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="Tenant id the key may submit events for.")],
) -> None:
    """Create a key for one tenant and print it once (only its hash is stored)."""
    import re

    if not re.fullmatch(TENANT_PATTERN, tenant):
        typer.echo(f"--tenant must match {TENANT_PATTERN}", err=True)
        raise typer.Exit(2)
    typer.echo(asyncio.run(_create(tenant)))
