"""The async QBO v3 Accounting API client for one realm.

Every request goes through the realm's limiter (rate, batch rate, concurrency), a
tenacity retry loop (429, 5xx, timeouts, dropped connections) and a token refresh on a
401 (at most `MAX_REFRESHES`). Every write carries the caller's deterministic `requestid`,
reused by retries, so QBO replays the first outcome instead of writing twice (qbo-api.md
§1 "requestid").

This module is the only place httpx exceptions and QBO Faults become `QboError`s.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import httpx

from qbsync_qbo.auth import TokenProvider
from qbsync_qbo.errors import (
    QboError,
    QboServerError,
    QboThrottled,
    QboTransportError,
    error_from_fault,
)
from qbsync_qbo.faults import fault_from_json, parse_fault
from qbsync_qbo.limiter import RealmLimiter
from qbsync_qbo.models import BatchItemResult, BatchOp, Fault, QboEntity, QueryPage
from qbsync_qbo.query import Cond, Scalar, Select
from qbsync_qbo.query import count as count_select
from qbsync_qbo.retry import RetryPolicy
from qbsync_qbo.wire import (
    MAX_BATCH_REQUESTID,
    MAX_REQUESTID,
    PAGE_SIZE,
    VOID_BY_UPDATE,
    WriteOp,
    WriteOperation,
    WriteResult,
    batch_item,
    check_requestid,
    dumps,
    entity_from,
    loads,
    query_page,
    resource,
    write_body,
    write_params,
)

__all__ = [
    "INTUIT_PRODUCTION",
    "INTUIT_SANDBOX",
    "MAX_BATCH_REQUESTID",
    "MAX_REQUESTID",
    "PAGE_SIZE",
    "QboClient",
    "WriteOp",
    "WriteResult",
    "check_requestid",
]

INTUIT_PRODUCTION = "https://quickbooks.api.intuit.com"
"""Base URL of the production API."""
INTUIT_SANDBOX = "https://sandbox-quickbooks.api.intuit.com"
"""Base URL of Intuit's developer sandbox."""


MAX_REFRESHES = 2
"""Token refreshes one request may trigger on 401s before the 401 counts as final."""


class QboClient:
    """Async client of the QBO v3 Accounting API for one realm.

    Args:
        base_url: API host, e.g. `INTUIT_PRODUCTION` or the emulator's URL.
        realm_id: The company (realm) id.
        tokens: Supplies access tokens and refreshes them on 401.
        http: The process's shared AsyncClient (tests inject a transport into it).
        limiter: The realm's limiter; share one per realm in a process.
        minorversion: Sent on every call; QBO treats anything below 75 as 75.
        retry: Retry policy for retriable failures.
    """

    def __init__(
        self,
        base_url: str,
        realm_id: str,
        tokens: TokenProvider,
        http: httpx.AsyncClient,
        limiter: RealmLimiter | None = None,
        *,
        minorversion: int = 75,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.realm_id = realm_id
        self.limiter = limiter or RealmLimiter()
        self._root = f"{base_url.rstrip('/')}/v3/company/{realm_id}"
        self._tokens = tokens
        self._http = http
        self._minorversion = minorversion
        self._retry = retry or RetryPolicy()

    # ---- transport ---------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Any = None,
        content: str | None = None,
        content_type: str = "application/json",
        batch: bool = False,
        prepaid: bool = False,
    ) -> dict[str, Any]:
        """Send with retries; `prepaid` = the caller already took the first rate token."""
        query = {"minorversion": str(self._minorversion), **(params or {})}
        attempt_no = 0
        async for attempt in self._retry.retrying():
            with attempt:
                attempt_no += 1
                return await self._attempt(
                    method,
                    f"{self._root}/{path}",
                    query,
                    json_body,
                    content,
                    content_type,
                    batch=batch,
                    take_rate=not (prepaid and attempt_no == 1),
                )
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _attempt(
        self,
        method: str,
        url: str,
        params: dict[str, str],
        json_body: Any,
        content: str | bytes | None,
        content_type: str,
        *,
        batch: bool,
        take_rate: bool,
    ) -> dict[str, Any]:
        rejected: str | None = None
        refreshes = 0
        while True:
            # Slot first, then the rate token, so the request leaves right after its token:
            # tokens taken before a wait for a slot would bunch sends into one window.
            async with self.limiter.in_flight():
                if take_rate:
                    await self.limiter.acquire_rate(batch=batch)
                take_rate = True  # a resend after a 401 is a new request for the server
                if rejected is None:
                    token = await self._tokens.access_token()
                else:
                    token = await self._tokens.on_unauthorized(rejected)
                headers = {
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/json",
                    "Content-Type": content_type,
                }
                resp = await self._send(method, url, params, headers, json_body, content)
            if resp.status_code == 401 and refreshes < MAX_REFRESHES:
                # A 401 on the token a refresh just gave is no proof the grant is gone:
                # that token can expire before its first use (an expiry between the
                # refresh and the resend). Only the token endpoint refusing the refresh
                # token (invalid_grant) is final; it raises from `on_unauthorized`.
                rejected = token
                refreshes += 1
                continue
            return self._decode(resp)

    async def _send(
        self,
        method: str,
        url: str,
        params: dict[str, str],
        headers: dict[str, str],
        json_body: Any,
        content: str | bytes | None,
    ) -> httpx.Response:
        if json_body is not None:
            content = dumps(json_body)
        try:
            return await self._http.request(
                method, url, params=params, headers=headers, content=content
            )
        except httpx.TimeoutException as exc:
            raise QboTransportError(f"timeout: {exc!r}", method=method, url=url) from exc
        except httpx.RequestError as exc:
            raise QboTransportError(f"connection: {exc!r}", method=method, url=url) from exc

    def _decode(self, resp: httpx.Response) -> dict[str, Any]:
        ctype = resp.headers.get("content-type", "")
        fault: Fault | None
        data: dict[str, Any] = {}
        if resp.status_code >= 400:
            fault = parse_fault(resp.content, ctype) or Fault()
        else:
            try:
                decoded = loads(resp.content)
            except ValueError as exc:
                raise QboServerError(
                    f"QBO {resp.status_code}: body is not JSON",
                    status_code=resp.status_code,
                    headers=resp.headers,
                ) from exc
            data = decoded if isinstance(decoded, dict) else {}
            fault = fault_from_json(data)  # QBO can send a Fault with 200
        if fault is None:
            return data
        err = error_from_fault(resp.status_code, fault, resp.headers)
        if isinstance(err, QboThrottled):
            self.limiter.throttled(err.retry_after)
        raise err

    # ---- single-entity operations ------------------------------------------------

    async def _write(
        self,
        op: WriteOperation,
        entity_type: str,
        body: dict[str, Any],
        requestid: str,
        *,
        prepaid: bool = False,
    ) -> QboEntity:
        params = {**write_params(op, entity_type), "requestid": check_requestid(requestid)}
        data = await self._request(
            "POST",
            resource(entity_type),
            params=params,
            json_body=write_body(op, entity_type, body),
            prepaid=prepaid,
        )
        return entity_from(data, entity_type)

    async def create(self, entity_type: str, body: dict[str, Any], requestid: str) -> QboEntity:
        """Create an entity.

        Args:
            entity_type: QBO entity name, e.g. "Invoice".
            body: The entity JSON.
            requestid: Deterministic id of this write (≤50 chars); a repeat replays.

        Returns:
            The created entity (with Id and SyncToken "0").
        """
        return await self._write("create", entity_type, body, requestid)

    async def read(self, entity_type: str, entity_id: str) -> QboEntity:
        """Read one entity by Id.

        Raises:
            QboNotFound: The entity was deleted or never existed (610).
        """
        data = await self._request("GET", f"{resource(entity_type)}/{entity_id}")
        return entity_from(data, entity_type)

    async def update(
        self,
        entity_type: str,
        body: dict[str, Any],
        requestid: str,
        *,
        sparse: bool = True,
    ) -> QboEntity:
        """Update an entity; `body` must carry `Id` and the current `SyncToken`.

        Args:
            entity_type: QBO entity name.
            body: Id, SyncToken and the fields to change (all writable fields if not sparse:
                QBO nulls omitted fields on a full update).
            requestid: Deterministic id of this write.
            sparse: Send a sparse update (only the given fields change).

        Raises:
            QboStaleObject: The SyncToken is stale (5010); re-read and reapply.
        """
        if "Id" not in body or "SyncToken" not in body:
            raise ValueError("update needs Id and SyncToken in the body")
        return await self._write("update", entity_type, {**body, "sparse": sparse}, requestid)

    async def delete(
        self, entity_type: str, entity_id: str, sync_token: str, requestid: str
    ) -> QboEntity:
        """Delete a transaction; returns the `{"status": "Deleted", "Id": ...}` stub."""
        body = {"Id": entity_id, "SyncToken": sync_token}
        return await self._write("delete", entity_type, body, requestid)

    async def void(
        self, entity_type: str, entity_id: str, sync_token: str, requestid: str
    ) -> QboEntity:
        """Void a transaction.

        Invoices use `?operation=void`; Payment, SalesReceipt and BillPayment use a sparse
        update with `?operation=update&include=void`, as Intuit documents.
        """
        body = {"Id": entity_id, "SyncToken": sync_token}
        return await self._write("void", entity_type, body, requestid)

    async def send_invoice(
        self, invoice_id: str, email: str | None = None, *, requestid: str
    ) -> QboEntity:
        """Email an invoice (to `email`, else its BillEmail); returns the updated invoice."""
        params = {"requestid": check_requestid(requestid)}
        if email is not None:
            params["sendTo"] = email
        data = await self._request(
            "POST",
            f"invoice/{invoice_id}/send",
            params=params,
            content="",
            content_type="application/octet-stream",
        )
        return entity_from(data, "Invoice")

    # ---- queries -----------------------------------------------------------------

    async def query(self, statement: str | Select) -> QueryPage:
        """Run one `SELECT` (build it with `qbsync_qbo.query.select` to escape literals)."""
        data = await self._request("GET", "query", params={"query": str(statement)})
        raw = data.get("QueryResponse")
        return query_page(raw if isinstance(raw, dict) else {})

    async def query_all(
        self, statement: Select | str, *, page_size: int = PAGE_SIZE
    ) -> list[QboEntity]:
        """Run a `SELECT` over all pages (STARTPOSITION/MAXRESULTS, 1000 rows a page).

        Args:
            statement: A `Select`, or a statement without STARTPOSITION/MAXRESULTS.
            page_size: Rows per request (QBO caps it at 1000).
        """
        if isinstance(statement, str) and "STARTPOSITION" in statement.upper():
            raise ValueError("query_all adds STARTPOSITION/MAXRESULTS itself")
        rows: list[QboEntity] = []
        start = 1
        while True:
            if isinstance(statement, Select):
                text = statement.render(start, page_size)
            else:
                text = f"{statement} STARTPOSITION {start} MAXRESULTS {page_size}"
            page = await self.query(text)
            rows.extend(page.entities)
            if len(page.entities) < page_size:
                return rows
            start += page_size

    async def count(self, entity_type: str, where: dict[str, Scalar | Cond] | None = None) -> int:
        """`SELECT COUNT(*)` of an entity, optionally filtered."""
        page = await self.query(count_select(entity_type, where))
        return page.total_count or 0

    async def cdc(
        self, entities: Sequence[str], changed_since: date | datetime
    ) -> dict[str, list[QboEntity]]:
        """Changes since a point in time (≤30 days back), deleted stubs included."""
        params = {"entities": ",".join(entities), "changedSince": changed_since.isoformat()}
        data = await self._request("GET", "cdc", params=params)
        out: dict[str, list[QboEntity]] = {name: [] for name in entities}
        for block in data.get("CDCResponse") or []:
            for raw in block.get("QueryResponse") or []:
                page = query_page(raw)
                if page.entity_type is not None:
                    out.setdefault(page.entity_type, []).extend(page.entities)
        return out

    # ---- batch -------------------------------------------------------------------

    async def batch(self, items: Sequence[BatchOp], requestid: str) -> list[BatchItemResult]:
        """Send items through `/batch`, split into chunks of the batch limit (30).

        Chunks run concurrently under the batch limiter. With more than one chunk the
        chunk's requestid is `<requestid>-<n>`, so all must fit in 36 chars.

        Returns:
            One result per item, in the order of `items`.
        """
        if len({i.bid for i in items}) != len(items):
            raise ValueError("bIds must be unique")
        size = self.limiter.settings.batch_max_items
        chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
        ids = [requestid] if len(chunks) == 1 else [f"{requestid}-{k}" for k in range(len(chunks))]
        for rid in ids:
            check_requestid(rid, MAX_BATCH_REQUESTID)
        parts = await asyncio.gather(
            *(self._batch_chunk(c, rid) for c, rid in zip(chunks, ids, strict=True))
        )
        return [r for part in parts for r in part]

    async def _batch_chunk(
        self, chunk: Sequence[BatchOp], requestid: str, *, prepaid: bool = False
    ) -> list[BatchItemResult]:
        request_items: list[dict[str, Any]] = []
        for item in chunk:
            if item.query is not None:
                request_items.append({"bId": item.bid, "Query": item.query})
                continue
            if item.operation is None:
                raise ValueError(f"batch item {item.bid} has neither operation nor query")
            entry: dict[str, Any] = {
                "bId": item.bid,
                "operation": item.operation,
                item.entity_type: write_body(item.operation, item.entity_type, item.body),
            }
            if item.operation == "void" and resource(item.entity_type) in VOID_BY_UPDATE:
                # Payment-like voids are updates with optionsData=void (qbo-api.md §1 Batch).
                entry["operation"] = "update"
                entry["optionsData"] = "void"
            request_items.append(entry)
        data = await self._request(
            "POST",
            "batch",
            params={"requestid": requestid},
            json_body={"BatchItemRequest": request_items},
            batch=True,
            prepaid=prepaid,
        )
        by_bid = {r.bid: r for r in map(batch_item, data.get("BatchItemResponse") or [])}
        missing = Fault(type="Missing", errors=())
        return [by_bid.get(i.bid) or BatchItemResult(bid=i.bid, fault=missing) for i in chunk]

    async def write_many(
        self,
        ops: Sequence[WriteOp],
        *,
        batch_workers: int = 3,
        single_workers: int = 4,
    ) -> list[WriteResult]:
        """Write many independent entities as fast as the realm's limits allow.

        Two kinds of workers drain one queue: batch workers take up to 30 writes per
        `/batch` request as the batch rate allows (40/min), single workers send one write
        per request with the rest of the request rate (500/min minus the batches). Each
        worker takes its rate token *before* taking writes off the queue, so no write
        waits behind a token it does not need. Faults never abort the others; they come
        back in `WriteResult.error`.

        Single workers run only when batch requests are scarcer than requests
        (`LimitSettings.batches_scarce`) or for a lone write; with the limits off, a single
        write would cost a whole request for one write that a `/batch` could carry.

        A batch's requestid is a hash of its writes' requestids, so a rerun of the same
        ops replays rather than duplicates; a different grouping on rerun would not, so
        callers still check "already posted" before writing (style point 9).

        Returns:
            One result per op, in order.
        """
        for op in ops:
            check_requestid(op.requestid)
        results: list[WriteResult | None] = [None] * len(ops)
        pending = deque(range(len(ops)))
        size = self.limiter.settings.batch_max_items
        if batch_workers and len(ops) > 1 and not self.limiter.settings.batches_scarce:
            single_workers = 0

        async def batch_worker() -> None:
            # Leave a lone last write to a single worker: it needs no batch token.
            while len(pending) > (1 if single_workers else 0):
                await self.limiter.acquire_rate(batch=True)
                if not pending:
                    return
                take = [pending.popleft() for _ in range(min(size, len(pending)))]
                await self._write_chunk(take, ops, results)

        async def single_worker() -> None:
            while pending:
                await self.limiter.acquire_rate()
                if not pending:
                    return
                i = pending.popleft()
                op = ops[i]
                try:
                    entity = await self._write(
                        op.operation, op.entity_type, op.body, op.requestid, prepaid=True
                    )
                    results[i] = WriteResult(op, entity=entity)
                except QboError as exc:
                    results[i] = WriteResult(op, error=exc)

        kinds = [batch_worker] * batch_workers + [single_worker] * single_workers
        tasks = [asyncio.create_task(kind()) for kind in kinds]
        try:
            # Once every write has a result, the workers still queued for a rate token
            # (up to one batch interval each) have nothing left to send: stop them.
            for finished in asyncio.as_completed(tasks):
                await finished
                if all(r is not None for r in results):
                    break
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return [r if r is not None else WriteResult(ops[i]) for i, r in enumerate(results)]

    async def _write_chunk(
        self, idxs: list[int], ops: Sequence[WriteOp], results: list[WriteResult | None]
    ) -> None:
        chunk = [ops[i] for i in idxs]
        digest = hashlib.sha256("\n".join(op.requestid for op in chunk).encode()).hexdigest()
        items = [  # from validated WriteOps, with bids well under 10 chars: not re-validated
            BatchOp.model_construct(
                bid=f"b{n}", entity_type=op.entity_type, operation=op.operation, body=op.body
            )
            for n, op in enumerate(chunk)
        ]
        try:
            answers = await self._batch_chunk(items, digest[:MAX_BATCH_REQUESTID], prepaid=True)
        except QboError as exc:
            for i in idxs:
                results[i] = WriteResult(ops[i], error=exc)
            return
        for i, op, answer in zip(idxs, chunk, answers, strict=True):
            if answer.fault is not None:
                results[i] = WriteResult(op, error=error_from_fault(400, answer.fault))
            else:
                results[i] = WriteResult(op, entity=answer.entity)
