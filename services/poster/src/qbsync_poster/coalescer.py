"""Independent creates of one realm, sent as `/batch` requests and single writes.

Chains of one realm run concurrently and hand their creates to the realm's
coalescer. Two kinds of long-lived workers drain one queue, as
`QboClient.write_many` does for a fixed list: batch workers send up to 30 creates per
`/batch` request (40/min at Intuit), single workers send one create per request with
the rest of the 500/min budget. That is how a realm gets near its ceiling of ~1,660
entities/min instead of 500/min. Workers live for the coalescer's lifetime (one
consumed batch), so no rate token is spent on a worker that then finds nothing to do
at the end of a group.

Only creates that nothing in the queue depends on come here: a chain awaits its
create before its next command, and QBO does not let batch items see each other.
"""

import asyncio
import contextlib
import hashlib
from collections import deque
from typing import Any

from qbsync_qbo import BatchOp, QboClient, QboEntity, QboTransportError
from qbsync_qbo.errors import error_from_fault

BATCH_WORKERS = 2
SINGLE_WORKERS = 4
GATHER_S = 0.05
"""How long a batch worker waits for a full batch before sending a partial one."""
BATCH_REQUESTID = 36
"""QBO's requestid limit on /batch."""

Pending = tuple[str, dict[str, Any], str, "asyncio.Future[QboEntity]"]


class WriteCoalescer:
    """Creates of one realm through `/batch` and single writes.

    Args:
        client: The realm's client (its limiter paces every request).
        batch_workers: Workers sending `/batch` requests.
        single_workers: Workers sending one create per request.
    """

    def __init__(
        self,
        client: QboClient,
        batch_workers: int = BATCH_WORKERS,
        single_workers: int = SINGLE_WORKERS,
    ) -> None:
        self._client = client
        self._queue: deque[Pending] = deque()
        self._arrived = asyncio.Event()
        self._kinds = [self._batch_worker] * batch_workers + [self._single_worker] * single_workers
        self._workers: list[asyncio.Task[None]] = []
        self._size = client.limiter.settings.batch_max_items

    async def create(self, entity_type: str, body: dict[str, Any], requestid: str) -> QboEntity:
        """Create one entity; raises its own QboError when QBO refuses it."""
        future: asyncio.Future[QboEntity] = asyncio.get_running_loop().create_future()
        self._queue.append((entity_type, body, requestid, future))
        self._arrived.set()
        if not self._workers:
            self._workers = [asyncio.create_task(kind()) for kind in self._kinds]
        return await future

    async def _wait_for_work(self) -> None:
        while not self._queue:
            self._arrived.clear()
            await self._arrived.wait()

    async def _single_worker(self) -> None:
        while True:
            await self._wait_for_work()
            # Leave full batches to the batch workers: one request carries 30 there.
            if len(self._queue) >= self._size:
                await asyncio.sleep(GATHER_S)
                if len(self._queue) >= self._size:
                    continue
            if not self._queue:
                continue
            entity_type, body, requestid, future = self._queue.popleft()
            try:
                entity = await self._client.create(entity_type, body, requestid)
            except Exception as exc:  # noqa: BLE001 - the chain reports it; the worker lives on
                _settle(future, exc=exc)
            else:
                _settle(future, entity=entity)

    async def _batch_worker(self) -> None:
        while True:
            await self._wait_for_work()
            if len(self._queue) < self._size:
                await asyncio.sleep(GATHER_S)  # let a partial batch fill up
            if len(self._queue) < 2:
                continue  # a lone create is a single worker's job
            take = [self._queue.popleft() for _ in range(min(self._size, len(self._queue)))]
            await self._send(take)

    async def _send(self, take: list[Pending]) -> None:
        items = [
            BatchOp(bid=f"b{n}", entity_type=entity_type, operation="create", body=body)
            for n, (entity_type, body, _, _) in enumerate(take)
        ]
        # A hash of the items' requestids: a resend of the same group replays.
        digest = hashlib.sha256("\n".join(p[2] for p in take).encode()).hexdigest()
        try:
            answers = await self._client.batch(items, digest[:BATCH_REQUESTID])
        except Exception as exc:  # noqa: BLE001 - every waiting chain gets the failure
            for *_, future in take:
                _settle(future, exc=exc)
            return
        for (*_, future), answer in zip(take, answers, strict=True):
            if answer.fault is not None:
                _settle(future, exc=error_from_fault(400, answer.fault))
            elif answer.entity is not None:
                _settle(future, entity=answer.entity)
            else:
                _settle(future, exc=QboTransportError("no answer", method="POST", url="batch"))

    async def close(self) -> None:
        """Stop the workers (the batch's chains have all finished by now)."""
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers = []


def _settle(
    future: "asyncio.Future[QboEntity]",
    *,
    entity: QboEntity | None = None,
    exc: BaseException | None = None,
) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    elif entity is not None:
        future.set_result(entity)
