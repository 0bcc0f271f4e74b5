"""An httpx transport that keeps requests from queueing inside httpcore's pool.

httpcore re-scans every queued request against every pooled connection each time a
connection frees up, so with a few thousand requests waiting (hundreds of realms, ten
in flight each) the scans cost more CPU than the requests. Waiting on a semaphore
here instead costs nothing per waiter. The slot is held until the response body is
closed, i.e. until its connection is really free.
"""

import asyncio
from collections.abc import AsyncIterator

import httpx


class _ReleasingStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, slots: asyncio.Semaphore) -> None:
        self._inner = inner
        self._slots = slots
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if not self._released:
                self._released = True
                self._slots.release()


class BoundedTransport(httpx.AsyncBaseTransport):
    """At most `limit` requests inside `inner` at once; the rest wait here.

    Args:
        inner: The real transport (a pooled `httpx.AsyncHTTPTransport`, or the emulator's
            ASGI transport in tests).
        limit: Requests in flight; keep it at the pool's `max_connections`.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._slots = asyncio.Semaphore(limit)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` once a slot is free; the slot returns when the body is closed."""
        await self._slots.acquire()
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self._slots.release()
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(stream, self._slots)
        return response

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()
