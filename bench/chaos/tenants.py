"""Tenants of a running stack: API keys, a QBO connection and mapper settings each.

Keys are created in each service's `api_keys` table by the services' own functions
(`qbsync_core.apikeys`, ingest's storage), as `qbsync apikey create` and its siblings
do; the QBO connection goes through the poster's real OAuth flow against the emulator
(poster -> emulator consent -> poster callback).
"""

import asyncio
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
from qbsync_core.apikeys import create_api_key
from qbsync_dev.stack import StackState
from qbsync_ingest.storage import create_api_key as create_ingest_key

# Ids of the emulator's seeded chart (libs/sandbox seed.py: ids count from 1 per realm).
UNDEPOSITED_FUNDS = "2"
SERVICES_INCOME = "5"
BANK_CHARGES = "7"
REFUNDS = "8"


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    realm_id: str
    ingest_key: str


async def api_key(database_url: str, schema: str, tenant_id: str | None) -> str:
    """A new key of `schema`'s service for `tenant_id` (None: an operator key)."""
    conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
    try:
        if schema == "ingest":  # ingest keys always belong to one tenant (its own table)
            assert tenant_id is not None
            return (await create_ingest_key(conn, tenant_id)).token
        return (await create_api_key(conn, tenant_id, label="bench")).token
    finally:
        await conn.close()


async def _has_table(database_url: str, table: str) -> bool:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetchval("SELECT to_regclass($1)", table) is not None
    finally:
        await conn.close()


def settings_document(tenant_id: str, realm_id: str) -> dict[str, object]:
    """Mapper settings on the emulator's seeded chart: match by e-mail, create customers."""
    return {
        "tenant_id": tenant_id,
        "realm_id": realm_id,
        "home_currency": "USD",
        "multicurrency": False,
        "customers": {"strategy": "email", "auto_create": True},
        "items": {"default_item": "Services", "default_income_account": SERVICES_INCOME},
        "tax": {"default": "NON"},
        "deposit_accounts": {"default": UNDEPOSITED_FUNDS},
        "refund_accounts": {"USD": REFUNDS},
        "fee_account": BANK_CHARGES,
    }


async def connect(state: StackState, http: httpx.AsyncClient, tenant_id: str, key: str) -> str:
    """Run the poster's OAuth flow for `tenant_id`; return the new realm's id."""
    poster = state.services["poster"].url
    response = await http.get(
        f"{poster}/connect/qbo",
        params={"tenant": tenant_id},
        headers={"Authorization": f"Bearer {key}"},
        follow_redirects=True,
    )
    response.raise_for_status()
    realm = parse_qs(urlsplit(str(response.url)).query).get("realmId")
    if not realm:
        raise RuntimeError(f"the OAuth flow of {tenant_id} ended at {response.url}")
    return realm[0]


async def set_up(state: StackState, tenant_ids: list[str]) -> list[Tenant]:
    """Connect and configure every tenant; give each an ingest key."""
    db = state.database.url
    # An operator key for the poster's connect endpoint, when this poster has keys.
    poster_key = (
        await api_key(db, "poster", None) if await _has_table(db, "poster.api_keys") else ""
    )
    mapper = state.services["mapper"].url
    async with httpx.AsyncClient(timeout=30) as http:

        async def one(tenant_id: str) -> Tenant:
            realm = await connect(state, http, tenant_id, poster_key)
            response = await http.put(
                f"{mapper}/v1/tenants/{tenant_id}/settings",
                json=settings_document(tenant_id, realm),
            )
            response.raise_for_status()
            return Tenant(tenant_id, realm, await api_key(db, "ingest", tenant_id))

        tenants = []
        for start in range(0, len(tenant_ids), 10):
            tenants += await asyncio.gather(*(one(t) for t in tenant_ids[start : start + 10]))
    return tenants
