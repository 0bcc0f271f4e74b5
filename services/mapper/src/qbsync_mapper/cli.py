"""`qbsync tenant apply FILE` and `qbsync tenant show ID`: tenant settings of the mapper."""

import asyncio
import json
from pathlib import Path
from typing import Annotated

import typer
from qbsync_core.db import create_pool, migrate
from qbsync_core.settings import load_settings

from qbsync_mapper.admin import Applied, apply_settings, show_settings
from qbsync_mapper.migrations_path import MIGRATIONS, SCHEMA
from qbsync_mapper.settings import MapperSettings

app = typer.Typer(help="Tenant settings of the mapper.", no_args_is_help=True)


async def _apply(text: str) -> Applied | list[dict[str, str]]:
    settings = load_settings(MapperSettings)
    await migrate(settings.database_url, SCHEMA, MIGRATIONS)
    pool = await create_pool(settings.database_url, SCHEMA, max_size=1)
    try:
        result = await apply_settings(pool, text)
    finally:
        await pool.close()
    return result if isinstance(result, Applied) else [p.model_dump() for p in result]


async def _show(tenant: str) -> dict[str, object] | None:
    settings = load_settings(MapperSettings)
    await migrate(settings.database_url, SCHEMA, MIGRATIONS)
    pool = await create_pool(settings.database_url, SCHEMA, max_size=1)
    try:
        return await show_settings(pool, tenant)
    finally:
        await pool.close()


@app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="YAML or JSON settings document.", exists=True)],
) -> None:
    """Validate a settings document and store it as the tenant's next version.

    Every problem is printed (field path: message) and nothing is stored if there is
    any. The running mapper releases events held for the tenant within seconds.
    """
    result = asyncio.run(_apply(file.read_text(encoding="utf-8")))
    if isinstance(result, list):
        for problem in result:
            typer.echo(f"{problem['field'] or '(document)'}: {problem['message']}", err=True)
        raise typer.Exit(1)
    typer.echo(f"tenant {result.tenant_id}: settings version {result.version} applied")


@app.command("show")
def show(tenant: Annotated[str, typer.Argument(help="Tenant id.")]) -> None:
    """Print the tenant's newest settings (JSON), version and held-event counts."""
    shown = asyncio.run(_show(tenant))
    if shown is None:
        typer.echo(f"tenant {tenant} has no settings", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(shown, indent=2, default=str))
