"""Names in QBO queries are escaped: each name matches exactly its own customer (CUS-2)."""

import uuid

import pytest

from tests.poster.conftest import Poster
from tests.poster.helpers import customer_by_name, invoice, tenant_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

# Each name next to a decoy a sloppy escaper would confuse it with.
NAMES = [
    ("O'Brien & Sons", "O Brien & Sons"),
    ("Back\\slash Ltd", "Back\\\\slash Ltd"),
    ("Trailing backslash\\", "Trailing backslash"),
    ("Smart\u2019s Café", "Smart's Café"),
    ("Quote '' twice", "Quote ' twice"),
    ("Zoë Ærø Łódź 東京", "Zoe Aero Lodz"),
    ("100% Percent_Under", "100 Percent Under"),
    ("Semi; -- comment", "Semi"),
]


@pytest.mark.parametrize(("name", "decoy"), NAMES)
async def test_display_name_with_special_characters_matches_its_customer_cus2(
    poster: Poster, name: str, decoy: str
) -> None:
    tenant = tenant_id()
    realm = await poster.connected_realm(tenant)
    qbo = await poster.direct(realm)
    target = await qbo.create("Customer", {"DisplayName": name}, uuid.uuid4().hex)
    await qbo.create("Customer", {"DisplayName": decoy}, uuid.uuid4().hex)
    inv = invoice(tenant, realm, "n", "1", customer_by_name(tenant, name, auto_create=False))
    outcome = (await poster.run([inv]))[inv.command_id]
    assert outcome.kind == "posted", outcome.record
    (posted,) = (await poster.export(realm))["Invoice"]
    assert posted["CustomerRef"]["value"] == target.id


async def test_item_name_with_colon_matches_its_item(poster: Poster) -> None:
    tenant = tenant_id()
    realm = await poster.connected_realm(tenant)
    qbo = await poster.direct(realm)
    income = (await qbo.query("SELECT * FROM Account WHERE AccountType = 'Income'")).entities[0]
    body = {"Type": "Service", "IncomeAccountRef": {"value": income.id}}
    target = await qbo.create("Item", {**body, "Name": "Rooms: Suite O'Hara"}, uuid.uuid4().hex)
    await qbo.create("Item", {**body, "Name": "Rooms"}, uuid.uuid4().hex)
    cust = customer_by_name(tenant, "Colon Guest")
    inv = invoice(tenant, realm, "c", "1", cust, item="Rooms: Suite O'Hara")
    assert (await poster.run([inv]))[inv.command_id].kind == "posted"
    (posted,) = (await poster.export(realm))["Invoice"]
    assert posted["Line"][0]["SalesItemLineDetail"]["ItemRef"]["value"] == target.id
