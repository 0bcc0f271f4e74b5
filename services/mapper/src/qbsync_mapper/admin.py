"""Applying and showing tenant settings: one path for the admin API and the CLI."""

from dataclasses import dataclass
from datetime import date

import asyncpg

from qbsync_mapper import storage
from qbsync_mapper.accounts import AccountSource, AccountsUnavailable, PosterAccounts
from qbsync_mapper.settings import MapperSettings
from qbsync_mapper.tenants import Problem, TenantSettings, parse_document


@dataclass(frozen=True)
class Applied:
    """A document stored as the tenant's newest version."""

    tenant_id: str
    version: int


async def check_document(
    text: str | bytes, *, tenant_id: str | None = None, live: AccountSource | None = None
) -> TenantSettings | list[Problem]:
    """Validate a settings document, judging payout accounts by live types when possible.

    With `live` (the poster's account list, PAY-10): a valid document with payouts is
    judged by the company's real account types; if the poster cannot answer, by the
    document's `accounts` table; with neither, it is refused with the poster's reason.
    Without `live`, by the document's table alone (accounts missing from it are not
    judged; QBO refuses them when posting).
    """
    if live is None:
        return parse_document(text, tenant_id=tenant_id)
    unjudged = parse_document(text, tenant_id=tenant_id, accounts={})
    if not isinstance(unjudged, TenantSettings):
        return parse_document(text, tenant_id=tenant_id)  # every problem, table included
    if unjudged.payouts is None:
        return unjudged
    try:
        accounts = await live.accounts(unjudged.tenant_id)
    except AccountsUnavailable as exc:
        if unjudged.accounts:
            return parse_document(text, tenant_id=tenant_id)
        message = (
            f"payout account types cannot be checked (PAY-10): {exc}. Connect the tenant "
            "to QuickBooks (or fix the poster), or list the payout accounts with their QBO "
            "types under `accounts`."
        )
        return [Problem(field="accounts", message=message)]
    return parse_document(text, tenant_id=tenant_id, accounts=accounts)


async def apply_settings(
    pool: asyncpg.Pool,
    text: str | bytes,
    *,
    tenant_id: str | None = None,
    live: AccountSource | None = None,
) -> Applied | list[Problem]:
    """Validate a whole settings document and store it as the tenant's next version.

    A document with any problem is not stored, so a bad document never replaces a
    good one (SET-4). Held events are released by the caller (`release_tenant`).

    Args:
        pool: the mapper schema's pool.
        text: the YAML or JSON document.
        tenant_id: the tenant it must be for (the URL's), if known.
        live: the company's account types (the poster's read API), for PAY-10.

    Returns:
        The stored version, or every problem of the document.
    """
    result = await check_document(text, tenant_id=tenant_id, live=live)
    if not isinstance(result, TenantSettings):
        return result
    source = text.decode("utf-8") if isinstance(text, bytes) else text
    async with pool.acquire() as conn, conn.transaction():
        version = await storage.insert_settings(conn, result, source)
    return Applied(result.tenant_id, version)


async def show_settings(pool: asyncpg.Pool, tenant_id: str) -> dict[str, object] | None:
    """The tenant's newest settings and state, or None.

    With the version, held-event counts, outbox size and the customers an operator
    stopped syncing (CUS-8).
    """
    stored = (await storage.latest_settings(pool, [tenant_id])).get(tenant_id)
    if stored is None:
        return None
    return {
        **storage.settings_json(stored),
        "held": await storage.held_counts(pool, tenant_id),
        "outbox": await storage.outbox_counts(pool, tenant_id),
        "stopped_customers": sorted(await storage.stopped_customers(pool, tenant_id)),
    }


async def request_export(pool: asyncpg.Pool, tenant_id: str, start: date | None) -> int | None:
    """Ask the running service for a manual export (SET-3); None if the tenant has no settings.

    The service's schedule loop runs it within its release interval, through the one
    producer that publishes the tenant's commands.
    """
    if tenant_id not in await storage.latest_settings(pool, [tenant_id]):
        return None
    return await storage.request_export(pool, tenant_id, start)


def live_accounts(settings: MapperSettings) -> AccountSource | None:
    """The poster's account list when its URL is configured (QBSYNC_POSTER_URL), else None."""
    if settings.poster_url is None:
        return None
    token = settings.poster_key.get_secret_value() if settings.poster_key else None
    return PosterAccounts(settings.poster_url, token)
