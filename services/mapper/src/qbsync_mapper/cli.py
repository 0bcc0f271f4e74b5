"""`qbsync tenant apply FILE`, `qbsync tenant show ID`, `qbsync export TENANT [--from DATE]`."""

import asyncio
import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from qbsync_core.db import create_pool, migrate
from qbsync_core.settings import load_settings

from qbsync_mapper.admin import (
    Applied,
    apply_settings,
    live_accounts,
    request_export,
    show_settings,
)
from qbsync_mapper.migrations_path import MIGRATIONS, SCHEMA
from qbsync_mapper.settings import MapperSettings

app = typer.Typer(help="Tenant settings of the mapper.", no_args_is_help=True)


async def _apply(text: str) -> Applied | list[dict[str, str]]:
    settings = load_settings(MapperSettings)
    await migrate(settings.database_url, SCHEMA, MIGRATIONS)
    pool = await create_pool(settings.database_url, SCHEMA, max_size=1)
    try:
        result = await apply_settings(pool, text, live=live_accounts(settings))
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


export_app = typer.Typer(help="Manual export of a tenant (SET-3).")


async def _request(tenant: str, start: date | None) -> int | None:
    settings = load_settings(MapperSettings)
    await migrate(settings.database_url, SCHEMA, MIGRATIONS)
    pool = await create_pool(settings.database_url, SCHEMA, max_size=1)
    try:
        return await request_export(pool, tenant, start)
    finally:
        await pool.close()


@export_app.callback(
    invoke_without_command=True,
    # `qbsync export TENANT --from DATE`: the option may follow the argument.
    context_settings={"allow_interspersed_args": True},
)
def export(
    tenant: Annotated[str, typer.Argument(help="Tenant id.")],
    start: Annotated[
        datetime | None,
        typer.Option(
            "--from",
            formats=["%Y-%m-%d"],
            help=(
                "New start date: waiting commands dated earlier are not sent; each becomes "
                "an error record in the errors service (resync posts it, skip drops it)."
            ),
        ),
    ] = None,
) -> None:
    """Export what waits for TENANT, from the last export (or --from) until now.

    The running mapper performs it within its release interval.
    """
    request = asyncio.run(_request(tenant, start.date() if start else None))
    if request is None:
        typer.echo(f"tenant {tenant} has no settings", err=True)
        raise typer.Exit(1)
    since = f" from {start.date().isoformat()}" if start else " since the last export"
    typer.echo(f"tenant {tenant}: export{since} requested (request {request})")
    if start:
        typer.echo(
            f"commands dated before {start.date().isoformat()} will not be sent: each becomes "
            "an error record in the errors service (resync posts it, skip drops it)"
        )
