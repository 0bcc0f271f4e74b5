"""Builders and a chaos transport for the poster tests."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from qbsync_core.commands import (
    CustomerResolution,
    Entity,
    MatchStrategy,
    Operation,
    PostingCommand,
    command_id_for,
)
from qbsync_core.errors import ErrorCategory

JSON = dict[str, Any]
SOURCE = "test"


class ChaosTransport(httpx.AsyncBaseTransport):
    """The emulator's ASGI transport, plus faults the emulator cannot inject by itself.

    - `lose(predicate)`: the next matching request reaches QBO, then its answer is lost
      (a timeout after the write was committed: the outcome-unknown case).
    - 429 answers get `Retry-After: 0`: the emulator always says 60 s, which would make a
      test sit still for a minute per injected throttle.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self._lose: list[Callable[[httpx.Request], bool]] = []
        self.lost = 0
        self.lost_paths: list[str] = []

    def clear(self) -> None:
        self._lose.clear()

    def lose(self, predicate: Callable[[httpx.Request], bool]) -> None:
        self._lose.append(predicate)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        for i, predicate in enumerate(self._lose):
            if predicate(request):
                del self._lose[i]
                await response.aread()
                self.lost += 1
                self.lost_paths.append(request.url.path.rsplit("/", 1)[-1])
                raise httpx.ReadTimeout("answer lost after the write (test)", request=request)
        if response.status_code == 429:
            response.headers["Retry-After"] = "0"
        return response


def creates(entity: str) -> Callable[[httpx.Request], bool]:
    """Predicate: a create POST of `entity` (lowercase resource)."""
    return lambda r: r.method == "POST" and r.url.path.endswith(f"/{entity.lower()}")


def tenant_id() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


def command(
    tenant: str,
    realm: str,
    operation: Operation,
    entity: Entity,
    upstream_ref: str,
    body: JSON,
    *,
    event_id: str | None = None,
    sequence: int = 0,
    customer: CustomerResolution | None = None,
    category: ErrorCategory = ErrorCategory.INVOICE,
    auto_renumber: bool = False,
    depends_on: list[str] | None = None,
    expected_total: str | None = None,
) -> PostingCommand:
    event = event_id or uuid.uuid4().hex
    return PostingCommand(
        command_id=command_id_for(tenant, SOURCE, event, sequence, operation, entity),
        tenant_id=tenant,
        realm_id=realm,
        event_id=event,
        source=SOURCE,
        event_type="test.event",
        sequence=sequence,
        operation=operation,
        entity=entity,
        upstream_ref=upstream_ref,
        body=body,
        customer=customer,
        depends_on=depends_on or [],
        category=category,
        expected_total=None if expected_total is None else expected_total,  # type: ignore[arg-type]
        auto_renumber=auto_renumber,
        occurred_at=datetime.now(UTC),
    )


def customer_by_name(
    tenant: str, name: str, *, auto_create: bool = True, email: str | None = None
) -> CustomerResolution:
    strategy = MatchStrategy.EMAIL if email else MatchStrategy.DISPLAY_NAME
    lookup = {"email": email} if email else {"display_name": name}
    create: JSON = {"DisplayName": name}
    if email:
        create["PrimaryEmailAddr"] = {"Address": email}
    return CustomerResolution(
        upstream_ref=f"customer:{tenant}:{name}:USD",
        strategy=strategy,
        lookup=lookup,
        auto_create=auto_create,
        create=create,
    )


def invoice(
    tenant: str,
    realm: str,
    ref: str,
    doc: str | None,
    customer: CustomerResolution,
    amount: str = "100.00",
    item: str = "Services",
    **kwargs: Any,
) -> PostingCommand:
    body: JSON = {
        "TxnDate": "2026-11-20",
        "CustomerRef": {"$ref": customer.upstream_ref},
        "Line": [
            {
                "Amount": amount,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {
                    "ItemRef": {"$item": item},
                    "Qty": "1",
                    "UnitPrice": amount,
                },
            }
        ],
    }
    if doc is not None:
        body["DocNumber"] = doc
    return command(
        tenant,
        realm,
        Operation.CREATE,
        Entity.INVOICE,
        f"invoice:{tenant}:{ref}",
        body,
        customer=customer,
        **kwargs,
    )


def payment(
    tenant: str,
    realm: str,
    ref: str,
    invoice_ref: str,
    customer: CustomerResolution,
    amount: str = "100.00",
) -> PostingCommand:
    body: JSON = {
        "CustomerRef": {"$ref": customer.upstream_ref},
        "TotalAmt": amount,
        "TxnDate": "2026-11-21",
        "PrivateNote": f"Upstream payment {ref}",
        "Line": [
            {
                "Amount": amount,
                "LinkedTxn": [{"TxnId": {"$ref": invoice_ref}, "TxnType": "Invoice"}],
            }
        ],
    }
    return command(
        tenant,
        realm,
        Operation.CREATE,
        Entity.PAYMENT,
        f"payment:{tenant}:{ref}",
        body,
        customer=customer,
        category=ErrorCategory.PAYMENT,
        depends_on=[invoice_ref],
    )
