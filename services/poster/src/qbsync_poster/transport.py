"""httpx transports that keep httpcore's pool scans short.

httpcore re-scans every queued request against every pooled connection each time a
connection frees up, so with a few thousand requests waiting (hundreds of realms, ten
in flight each) the scans cost more CPU than the requests. Waiting on a semaphore
here instead costs nothing per waiter. The slot is held until the response body is
closed, i.e. until its connection is really free.

Even without a queue, each request and each response close walks the whole pool
(an expiry check per connection is a socket poll): with 100 connections that was a
third of the poster's CPU. `ShardedTransport` splits the connections over small pools.
"""

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx


class _ReleasingStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release = release
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
                self._release()


class BoundedTransport(httpx.AsyncBaseTransport):
    """At most `limit` requests inside `inner` at once; the rest wait here.

    Args:
        inner: The real transport (a pooled `httpx.AsyncHTTPTransport`, or the emulator's
            ASGI transport in tests).
        limit: Requests in flight; keep it at the pool's `max_connections`.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._limit = limit
        self._slots = asyncio.Semaphore(limit)
        self._busy = 0

    @property
    def free(self) -> int:
        """Requests that can start now without waiting."""
        return self._limit - self._busy

    def _release(self) -> None:
        self._busy -= 1
        self._slots.release()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` once a slot is free; the slot returns when the body is closed."""
        await self._slots.acquire()
        self._busy += 1
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            self._release()
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(stream, self._release)
        return response

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self._inner.aclose()


class ShardedTransport(httpx.AsyncBaseTransport):
    """`shards` small bounded pools; each request goes to the one with most free slots.

    Args:
        shards: Number of pools.
        per_shard: Connections (and requests in flight) per pool.
        make_pool: Builds one pool's transport with the given limits.
    """

    def __init__(
        self,
        shards: int,
        per_shard: int,
        make_pool: Callable[[httpx.Limits], httpx.AsyncBaseTransport] = lambda limits: (
            httpx.AsyncHTTPTransport(limits=limits)
        ),
    ) -> None:
        limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
        self._pools = [BoundedTransport(make_pool(limits), per_shard) for _ in range(shards)]
        self._slots = asyncio.Semaphore(shards * per_shard)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send through the least busy pool, once any pool has a free slot."""
        await self._slots.acquire()
        try:
            pool = max(self._pools, key=lambda p: p.free)
            response = await pool.handle_async_request(request)
        except BaseException:
            self._slots.release()
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(stream, self._slots.release)
        return response

    async def aclose(self) -> None:
        """Close every pool."""
        for pool in self._pools:
            await pool.aclose()
