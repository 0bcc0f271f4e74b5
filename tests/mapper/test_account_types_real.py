"""PAY-10 with the company's real account types, read from the real poster app.

With the poster's URL configured (QBSYNC_POSTER_URL), applying settings judges payout
targets by the account types the poster reads from QBO (here: the sandbox emulator's
seeded company, served over real HTTP); when the poster cannot answer, by the
document's `accounts` table; with neither, the document is refused with the reason.
"""

import json
import uuid
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr
from qbsync_mapper.accounts import AccountsUnavailable, PosterAccounts, parse_accounts
from qbsync_mapper.admin import Applied, apply_settings, live_accounts
from qbsync_mapper.settings import MapperSettings
from qbsync_mapper.tenants import AccountType

from tests.errors.conftest import serve
from tests.mapper.helpers import settings_document
from tests.mapper.test_mapping_real import pool
from tests.poster.conftest import Poster, poster

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]
__all__ = ["pool", "poster"]


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def payout_settings(tenant: str, deposit_to: str, revenue: str, **extra: Any) -> str:
    payouts = {"deposit_account": deposit_to, "default_account": revenue}
    return json.dumps(settings_document(tenant_id=tenant, payouts=payouts, **extra))


async def test_payout_targets_are_judged_by_the_live_account_types_PAY_10(
    poster: Poster, pool: asyncpg.Pool
) -> None:
    tenant = new_tenant()
    await poster.connected_realm(tenant)
    listed = (await poster.http.get(f"/v1/tenants/{tenant}/qbo/accounts")).json()
    ids = {a["Name"]: a["Id"] for a in listed}
    in_transit, checking, sales = ids["Payments in transit"], ids["Checking"], ids["Sales"]
    token = str(poster.http.headers["Authorization"]).removeprefix("Bearer ")
    async with serve(poster.app) as url:
        live = PosterAccounts(url, token)
        # The document's table calls the clearing account a Bank: the company's real
        # type wins, and the problem names the account and its type.
        lying = {in_transit: {"name": "Payments in transit", "type": "Bank"}}
        refused = await apply_settings(
            pool, payout_settings(tenant, in_transit, sales, accounts=lying), live=live
        )
        assert not isinstance(refused, Applied)
        assert [(p.field, p.message) for p in refused] == [
            (
                "payouts.deposit_account",
                f"account {in_transit} 'Payments in transit' is of type Other Current "
                "Liability, a clearing/liability account; a deposit account must be one "
                "of: Bank, Other Current Asset",
            )
        ]
        applied = await apply_settings(pool, payout_settings(tenant, checking, sales), live=live)
        assert isinstance(applied, Applied)

        # A tenant not connected yet: the poster answers 409.
        unconnected = new_tenant()
        refused = await apply_settings(
            pool, payout_settings(unconnected, checking, sales), live=live
        )
        assert not isinstance(refused, Applied)
        ((field, message),) = [(p.field, p.message) for p in refused]
        assert field == "accounts"
        assert "cannot be checked (PAY-10)" in message
        assert "409" in message
        table = {checking: {"name": "Checking", "type": "Bank"}}
        fallback = await apply_settings(
            pool, payout_settings(unconnected, checking, sales, accounts=table), live=live
        )
        assert isinstance(fallback, Applied)
        # Without payouts there is nothing to judge: the poster is not asked.
        plain = await apply_settings(pool, json.dumps(settings_document(tenant_id=new_tenant())))
        assert isinstance(plain, Applied)


async def test_an_unreachable_poster_is_named_in_the_refusal_PAY_10(pool: asyncpg.Pool) -> None:
    tenant = new_tenant()
    live = PosterAccounts("http://127.0.0.1:9", timeout=2)
    refused = await apply_settings(pool, payout_settings(tenant, "35", "400"), live=live)
    assert not isinstance(refused, Applied)
    assert "unreachable" in refused[0].message


def test_the_poster_url_setting_turns_the_live_check_on() -> None:
    base: dict[str, Any] = {"kafka_bootstrap_servers": "k:1", "database_url": "postgresql://x/y"}
    assert live_accounts(MapperSettings(**base)) is None
    source = live_accounts(
        MapperSettings(**base, poster_url="http://poster:8083", poster_key=SecretStr("k"))
    )
    assert source == PosterAccounts("http://poster:8083", "k")
    with pytest.raises(ValueError, match="http"):
        MapperSettings(**base, poster_url="file:///etc/passwd")


def test_rows_of_unknown_type_are_left_unjudged() -> None:
    table = parse_accounts(
        [
            {"Id": "1", "Name": "Checking", "AccountType": "Bank"},
            {"Id": "2", "Name": "Odd", "AccountType": "Something New"},
        ]
    )
    assert {k: v.type for k, v in table.items()} == {"1": AccountType.BANK}
    with pytest.raises(AccountsUnavailable):
        parse_accounts({"not": "a list"})
