"""PAY-10 against the company's real account types, read from the poster.

The poster serves QBO's accounts at `GET /v1/tenants/{id}/qbo/accounts` (the only
service that talks to QBO). When the mapper knows the poster's URL, applying settings
judges payout targets by those live types; when the poster cannot answer (down, or
the tenant not connected yet) the document's `accounts` table is used instead, and
a document with neither is refused with the reason, never applied unchecked.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from qbsync_mapper.tenants import AccountInfo, AccountType

TIMEOUT_SECONDS = 10.0


class AccountsUnavailable(RuntimeError):
    """The live account types could not be read; the message says why."""


class AccountSource(Protocol):
    """Where live QBO account types come from."""

    async def accounts(self, tenant_id: str) -> Mapping[str, AccountInfo]:
        """Account id -> name and type of the tenant's QBO company.

        Raises:
            AccountsUnavailable: with the reason (unreachable, not connected, ...).
        """


def parse_accounts(rows: Any) -> dict[str, AccountInfo]:
    """The poster's account rows as the PAY-10 table; unknown types are left out (not judged)."""
    if not isinstance(rows, list):
        raise AccountsUnavailable("the poster's account list is not a JSON array")
    table: dict[str, AccountInfo] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        account_id, name, kind = row.get("Id"), row.get("Name"), row.get("AccountType")
        if account_id is None or not isinstance(kind, str):
            continue
        try:
            account_type = AccountType(kind)
        except ValueError:
            continue  # a type this table does not know: not judged
        table[str(account_id)] = AccountInfo(name=str(name or account_id), type=account_type)
    return table


@dataclass(frozen=True)
class PosterAccounts:
    """The poster's read API of QBO accounts."""

    base_url: str
    token: str | None = None
    timeout: float = TIMEOUT_SECONDS

    async def accounts(self, tenant_id: str) -> Mapping[str, AccountInfo]:
        """Read the tenant's accounts (see `AccountSource.accounts`)."""
        url = f"{self.base_url.rstrip('/')}/v1/tenants/{quote(tenant_id, safe='')}/qbo/accounts"
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise AccountsUnavailable(
                f"the poster at {self.base_url} is unreachable: {exc!r}"
            ) from exc
        if response.status_code != httpx.codes.OK:
            raise AccountsUnavailable(
                f"the poster answered {response.status_code} for {url}: {response.text[:300]}"
            )
        try:
            return parse_accounts(response.json())
        except ValueError as exc:
            raise AccountsUnavailable(f"the poster's answer is not JSON: {exc}") from exc
