"""Issue 8 (SET-4, ERR-3): a missing mapping, added later, then a resync posts the document.

An invoice with a spa line fails in the mapper for want of an item mapping and is an
open Mapping error; once the mapping is added through the mapper's settings API, a
resync through the errors API posts the invoice to QBO (checked in the emulator) and
the error is resolved.
"""

import asyncio
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from qbsync_dev.demo.gen_hotel import customer, line, totals
from qbsync_dev.demo.model import money
from qbsync_dev.demo.runner import set_up_company
from qbsync_dev.demo.stack_api import Keys, StackApi, StackUrls, loads, publish
from qbsync_dev.demo.tenants import HOTEL, demo_tenants, settings_document

from tests.e2e.conftest import eventually

pytestmark = [pytest.mark.slow]

TENANT = "resync-hotel"
DOC_NUMBER = "7001"


def _spa_invoice() -> dict[str, Any]:
    lines = [
        line("Rooms", "Standard", 2, Decimal("120.00"), "Standard room, 2 nights", True),
        line("Spa", "Massage", 1, Decimal("85.00"), "Massage 60 min", False),
    ]
    tax, total = totals(lines)
    return {
        "spec": "qbsync.event/1",
        "event_id": f"{TENANT}-spa-1",
        "tenant_id": TENANT,
        "source": "clock-pms",
        "type": "invoice.issued",
        "occurred_at": datetime(2026, 11, 18, 11, tzinfo=UTC).isoformat(),
        "data": {
            "ref": f"folio-{DOC_NUMBER}",
            "number": DOC_NUMBER,
            "customer": customer(("g-301", "Iva Stoyanova", None)),
            "currency": "USD",
            "issue_date": "2026-11-18",
            "lines": lines,
            "tax_total": money(tax),
            "total": money(total),
        },
    }


async def _connect(urls: StackUrls, keys: Keys) -> tuple[str, dict[str, str]]:
    """The hotel's tenant connected through OAuth2, its company set up, spa unmapped."""
    tenant = demo_tenants(date(2026, 11, 16))[HOTEL]
    async with httpx.AsyncClient(timeout=30) as client:
        api = StackApi(urls, keys, client)
        realm = await api.connect(TENANT)
        accounts = await set_up_company(api, tenant, TENANT, realm)
        await api.apply_settings(TENANT, settings_document(tenant, TENANT, realm, accounts))
    return realm, accounts


def items_of(urls: StackUrls, realm: str) -> list[dict[str, Any]]:
    export = httpx.get(f"{urls.sandbox}/_admin/realms/{realm}/export", timeout=30)
    items: list[dict[str, Any]] = loads(export.content)["entities"]["Item"]
    return items


class TestResyncAfterTheMissingMappingIsAdded:
    def test_the_invoice_is_posted_and_the_mapping_error_resolved_SET_4_ERR_3(
        self, e2e_urls: StackUrls, e2e_keys: Keys
    ) -> None:
        realm, accounts = asyncio.run(_connect(e2e_urls, e2e_keys))
        event = _spa_invoice()
        asyncio.run(publish(e2e_urls.broker, [event]))
        errors = httpx.Client(
            base_url=e2e_urls.errors,
            headers={"Authorization": f"Bearer {e2e_keys.errors}"},
            timeout=30,
        )

        def open_mapping_error() -> dict[str, Any] | None:
            query = {"tenant": TENANT, "status": "open", "text": event["event_id"]}
            items = errors.get("/v1/errors", params=query).json()["items"]
            return next((e for e in items if e["category"] == "Mapping"), None)

        error = eventually(open_mapping_error, "the open Mapping error of the spa folio")
        assert error["stage"] == "mapper"

        def invoices() -> list[dict[str, Any]]:
            export = httpx.get(f"{e2e_urls.sandbox}/_admin/realms/{realm}/export", timeout=30)
            docs: list[dict[str, Any]] = loads(export.content)["entities"].get("Invoice", [])
            return [d for d in docs if d.get("DocNumber") == DOC_NUMBER]

        assert invoices() == []  # nothing was posted while the mapping was missing

        tenant = demo_tenants(date(2026, 11, 16))[HOTEL]
        fixed = settings_document(tenant, TENANT, realm, accounts, map_spa=True)
        put = httpx.put(f"{e2e_urls.mapper}/v1/tenants/{TENANT}/settings", json=fixed, timeout=30)
        assert put.status_code == 200, put.text
        resynced = errors.post(f"/v1/errors/{error['record_id']}/resync")
        assert resynced.status_code == 200, resynced.text

        (invoice,) = eventually(invoices, f"invoice {DOC_NUMBER} in the emulator")
        assert invoice["TotalAmt"] == Decimal(event["data"]["total"])
        spa = next(i for i in items_of(e2e_urls, realm) if i["Name"] == "Spa treatment")
        used = [
            x["SalesItemLineDetail"]["ItemRef"]["value"]
            for x in invoice["Line"]
            if x.get("DetailType") == "SalesItemLineDetail"
        ]
        assert spa["Id"] in used
        detail = errors.get(f"/v1/errors/{error['record_id']}").json()
        assert (detail["status"], detail["resolution"]) == ("resolved", "resynced")
        errors.close()
