"""Applying and showing tenant settings: one path for the admin API and the CLI."""

from dataclasses import dataclass
from datetime import date

import asyncpg

from qbsync_mapper import storage
from qbsync_mapper.tenants import Problem, TenantSettings, parse_document


@dataclass(frozen=True)
class Applied:
    """A document stored as the tenant's newest version."""

    tenant_id: str
    version: int


async def apply_settings(
    pool: asyncpg.Pool, text: str | bytes, *, tenant_id: str | None = None
) -> Applied | list[Problem]:
    """Validate a whole settings document and store it as the tenant's next version.

    A document with any problem is not stored, so a bad document never replaces a
    good one (SET-4). Held events are released by the caller (`release_tenant`).

    Args:
        pool: the mapper schema's pool.
        text: the YAML or JSON document.
        tenant_id: the tenant it must be for (the URL's), if known.

    Returns:
        The stored version, or every problem of the document.
    """
    result = parse_document(text, tenant_id=tenant_id)
    if not isinstance(result, TenantSettings):
        return result
    source = text.decode("utf-8") if isinstance(text, bytes) else text
    async with pool.acquire() as conn, conn.transaction():
        version = await storage.insert_settings(conn, result, source)
    return Applied(result.tenant_id, version)


async def show_settings(pool: asyncpg.Pool, tenant_id: str) -> dict[str, object] | None:
    """The tenant's newest settings with its version and held-event counts, or None."""
    stored = (await storage.latest_settings(pool, [tenant_id])).get(tenant_id)
    if stored is None:
        return None
    return {
        **storage.settings_json(stored),
        "held": await storage.held_counts(pool, tenant_id),
        "outbox": await storage.outbox_counts(pool, tenant_id),
    }


async def request_export(pool: asyncpg.Pool, tenant_id: str, start: date | None) -> int | None:
    """Ask the running service for a manual export (SET-3); None if the tenant has no settings.

    The service's schedule loop runs it within its release interval, through the one
    producer that publishes the tenant's commands.
    """
    if tenant_id not in await storage.latest_settings(pool, [tenant_id]):
        return None
    return await storage.request_export(pool, tenant_id, start)
