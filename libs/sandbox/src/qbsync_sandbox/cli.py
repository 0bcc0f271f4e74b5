"""``qbsync sandbox ...`` commands that drive a running emulator through its admin API."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import httpx
import typer

DEFAULT_URL = "http://127.0.0.1:18080"

app = typer.Typer(
    name="sandbox", help="QuickBooks Online sandbox emulator helpers.", no_args_is_help=True
)
realm_app = typer.Typer(help="Sandbox companies (realms).", no_args_is_help=True)
app.add_typer(realm_app, name="realm")

UrlOption = Annotated[
    str | None, typer.Option("--url", help="Emulator base URL (env QBSYNC_SANDBOX_URL).")
]


def _base(url: str | None) -> str:
    return (url or os.environ.get("QBSYNC_SANDBOX_URL") or DEFAULT_URL).rstrip("/")


def _post(url: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    try:
        response = httpx.post(url, json=payload or {}, timeout=10)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        typer.echo(f"sandbox request failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    result: dict[str, Any] = response.json()
    return result


@realm_app.command("create")
def realm_create(
    url: UrlOption = None,
    name: Annotated[str | None, typer.Option(help="Company name.")] = None,
    home_currency: Annotated[str, typer.Option(help="Home currency.")] = "USD",
    multicurrency: Annotated[bool, typer.Option(help="Enable multicurrency.")] = False,
) -> None:
    """Create a seeded sandbox company and print its realm id as JSON."""
    payload: dict[str, Any] = {"home_currency": home_currency, "multicurrency": multicurrency}
    if name:
        payload["name"] = name
    typer.echo(json.dumps(_post(f"{_base(url)}/_admin/realms", payload)))


@app.command("token")
def token(
    realm: Annotated[str, typer.Option("--realm", help="Realm id.")],
    url: UrlOption = None,
) -> None:
    """Print a fresh access/refresh token pair for a realm as JSON."""
    typer.echo(json.dumps(_post(f"{_base(url)}/_admin/realms/{realm}/tokens")))
