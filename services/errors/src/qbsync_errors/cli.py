"""`qbsync errors ...`: API keys (database) and the error list and actions (over the API).

`key create` writes to the database directly (it is how the first key comes to
exist); every other command talks to a running errors service, so the CLI obeys
the same scoping and audit as any API client.
"""

import asyncio
import json
import re
from typing import Annotated, Any

import asyncpg
import httpx
import typer
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from qbsync_core.db import migrate
from qbsync_core.settings import dev_env_file, load_settings

from qbsync_errors.app import MIGRATIONS, SCHEMA
from qbsync_errors.keys import create_api_key, revoke_api_key
from qbsync_errors.settings import ErrorsSettings

app = typer.Typer(
    help="The errors service: keys, the error list, resync and skip.", no_args_is_help=True
)
key_app = typer.Typer(help="API keys of the errors API.", no_args_is_help=True)
app.add_typer(key_app, name="key")
TENANT_PATTERN = r"^[a-z0-9-]{1,64}$"

Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Base URL of the errors service [default: QBSYNC_ERRORS_URL, from the "
        "environment or the dev stack's dev.env, else http://127.0.0.1:8084].",
        show_default=False,
    ),
]
Key = Annotated[
    str,
    typer.Option(
        "--key", envvar="QBSYNC_ERRORS_KEY", help="API key (qbs_...).", show_default=False
    ),
]


async def _create(tenant: str | None, label: str) -> str:
    settings = load_settings(ErrorsSettings)
    await migrate(settings.database_url, SCHEMA, MIGRATIONS)
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": SCHEMA})
    try:
        key = await create_api_key(conn, tenant, label)
    finally:
        await conn.close()
    return key.token


@key_app.command("create")
def create_key(
    tenant: Annotated[str | None, typer.Option(help="The one tenant the key may see.")] = None,
    all_tenants: Annotated[
        bool, typer.Option("--all", help="An operator key for every tenant.")
    ] = False,
    label: Annotated[str, typer.Option(help="A note on whose key this is.")] = "",
) -> None:
    """Create a key and print it once (only its hash is stored)."""
    if (tenant is None) == (not all_tenants):
        typer.echo("give exactly one of --tenant ID or --all", err=True)
        raise typer.Exit(2)
    if tenant is not None and not re.fullmatch(TENANT_PATTERN, tenant):
        typer.echo(f"--tenant must match {TENANT_PATTERN}", err=True)
        raise typer.Exit(2)
    typer.echo(asyncio.run(_create(tenant, label)))


async def _revoke(key_id: str) -> bool:
    settings = load_settings(ErrorsSettings)
    conn = await asyncpg.connect(settings.database_url, server_settings={"search_path": SCHEMA})
    try:
        return await revoke_api_key(conn, key_id)
    finally:
        await conn.close()


@key_app.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The id part of qbs_<id>_<secret>.")],
) -> None:
    """Revoke a key at once."""
    if not asyncio.run(_revoke(key_id)):
        typer.echo(f"no live key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")


class ApiTarget(BaseSettings):
    """Where the errors API is (`QBSYNC_ERRORS_URL`).

    Read from the environment, else the dev stack's dev.env (`qbsync dev up` writes it
    there), else the service's default port.
    """

    model_config = SettingsConfigDict(extra="ignore")  # dev.env holds every service's settings

    url: str = Field(default="http://127.0.0.1:8084", validation_alias="QBSYNC_ERRORS_URL")


def _api_url() -> str:
    env_file = dev_env_file()
    return ApiTarget(_env_file=env_file if env_file.is_file() else None).url


def _call(url: str | None, key: str, method: str, path: str, **kwargs: Any) -> Any:
    if not key:
        typer.echo(
            "no API key: pass --key or set QBSYNC_ERRORS_KEY "
            "(`qbsync errors key create --all` makes an operator key)",
            err=True,
        )
        raise typer.Exit(2)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url or _api_url(), headers=headers) as client:
        try:
            response = client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            typer.echo(f"cannot reach {url}: {exc}", err=True)
            raise typer.Exit(1) from exc
    if response.is_error:
        try:
            message = response.json().get("error", response.text)
        except ValueError:
            message = response.text
        typer.echo(f"{response.status_code}: {message}", err=True)
        raise typer.Exit(1)
    return response.json() if response.content else None


@app.command("list")
def list_errors(
    url: Url = None,
    key: Key = "",
    tenant: Annotated[str | None, typer.Option()] = None,
    category: Annotated[str | None, typer.Option(help="Account, Invoice, ...")] = None,
    status: Annotated[str | None, typer.Option(help="open, resolved or skipped")] = "open",
    text: Annotated[str | None, typer.Option(help="Substring of cause or ids.")] = None,
    limit: Annotated[int, typer.Option()] = 50,
    offset: Annotated[int, typer.Option()] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw answer.")] = False,
) -> None:
    """List errors (open ones unless --status says otherwise)."""
    params = {"tenant": tenant, "category": category, "status": status, "text": text}
    query = {k: v for k, v in params.items() if v} | {"limit": limit, "offset": offset}
    page = _call(url, key, "GET", "/v1/errors", params=query)
    if as_json:
        typer.echo(json.dumps(page, indent=2))
        return
    for e in page["items"]:
        typer.echo(
            f"{e['record_id']}  {e['category']:<10} {e['status']:<8} x{e['attempts']:<3} "
            f"{e['tenant_id'] or '-'}  {e['cause']}"
        )
    typer.echo(f"{len(page['items'])} of {page['total']}")


@app.command("show")
def show(record_id: str, url: Url = None, key: Key = "") -> None:
    """Print one error in full (JSON, payload included)."""
    typer.echo(json.dumps(_call(url, key, "GET", f"/v1/errors/{record_id}"), indent=2))


@app.command("resync")
def resync(record_id: str, url: Url = None, key: Key = "") -> None:
    """Replay an error from its failing stage."""
    error = _call(url, key, "POST", f"/v1/errors/{record_id}/resync")
    typer.echo(f"{error['record_id']} {error['status']} (resync {error['resyncs']})")


@app.command("skip")
def skip(record_id: str, url: Url = None, key: Key = "") -> None:
    """Stop retrying and notifying about an error."""
    error = _call(url, key, "POST", f"/v1/errors/{record_id}/skip")
    typer.echo(f"{error['record_id']} {error['status']}")
