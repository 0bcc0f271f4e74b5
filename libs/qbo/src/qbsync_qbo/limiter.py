"""Per-realm limiter that keeps a client under Intuit's throttles by itself.

Intuit's limits per realm (qbo-api.md §4): 500 requests/min, 10 requests/s, 10 concurrent
requests, 40 batch requests/min of at most 30 items. A 429 costs a 60 s wait, so the limiter paces
requests instead of discovering the limit.

Why capacity 1: aiolimiter is a leaky bucket whose capacity is also its burst. With
`AsyncLimiter(500, 60)` a fresh bucket lets 500 requests through at once and then drips
8.3/s, i.e. up to ~1,000 requests in the first 60 s window, which a sliding-window server
rejects. A bucket of capacity 1 spaces requests evenly (one every 60/rate s), so any
60 s window holds at most `rate` requests. A small safety margin absorbs timer and
network jitter between our clock and the server's.

`burst` > 1 trades smoothness for latency: a bucket of capacity b that leaks
`rate*(1 - margin) - (b - 1)` per window admits at most `rate` in any window, b at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiolimiter import AsyncLimiter


@dataclass(frozen=True)
class LimitSettings:
    """The limits one realm is held to.

    Attributes:
        requests_per_minute: Server limit on requests (batch requests included) per window.
        requests_per_second: Server limit on requests per second (0 = none).
        max_concurrent: Server limit on requests in flight.
        batch_requests_per_minute: Server limit on `/batch` requests per window.
        batch_max_items: Items per `/batch` request.
        safety_margin: Share of each rate left unused (0.01 = pace at 99%).
        window_s: Length of the server's rate window (60 s at Intuit; shorter in tests).
        throttle_backoff_s: Pause after a 429 without Retry-After (Intuit says 60 s).
        burst: Requests (and batch requests) that may leave back to back; 1 = evenly paced.
    """

    requests_per_minute: int = 500
    requests_per_second: int = 10
    max_concurrent: int = 10
    batch_requests_per_minute: int = 40
    batch_max_items: int = 30
    safety_margin: float = 0.01
    window_s: float = 60.0
    throttle_backoff_s: float = 60.0
    burst: int = 1

    @property
    def batches_scarce(self) -> bool:
        """Whether `/batch` requests run out before plain ones (Intuit: 40 against 500).

        Only then is a single write worth sending on its own: it spends a request the
        batch budget could not have used. Otherwise every request can carry 30 writes.
        """
        return self.batch_requests_per_minute < self.requests_per_minute

    def bucket(self, per_window: int, window_s: float | None = None) -> AsyncLimiter:
        """A leaky bucket admitting at most `per_window` (less the margin) in any window."""
        window = self.window_s if window_s is None else window_s
        capacity = max(1, min(self.burst, per_window))
        steady = per_window * (1.0 - self.safety_margin) - (capacity - 1)
        if steady <= 0:
            raise ValueError(f"burst {self.burst} leaves no steady rate under {per_window}")
        # Capacity c leaking `steady` per window: c - 1 + steady <= per_window per window.
        return AsyncLimiter(capacity, window * capacity / steady)


class RealmLimiter:
    """Rate, batch-rate and concurrency limits for one realm, plus 429 back-off.

    Share one instance between every client of the same realm in a process (see
    `LimiterRegistry`); two limiters for one realm would each spend the full budget.
    """

    def __init__(self, settings: LimitSettings | None = None) -> None:
        self.settings = s = settings or LimitSettings()
        self._requests = s.bucket(s.requests_per_minute)
        self._batches = s.bucket(s.batch_requests_per_minute)
        # Evenly paced 500/min is 8.3/s, under 10/s; this bucket matters with a burst.
        self._per_second = s.bucket(s.requests_per_second, 1.0) if s.requests_per_second else None
        self._in_flight = asyncio.Semaphore(s.max_concurrent)
        self._resume_at = 0.0
        self.throttled_count = 0

    async def _wait_resume(self) -> None:
        loop = asyncio.get_running_loop()
        # A deadline that a later 429 can push back, not a poll: recheck after each sleep.
        while (delay := self._resume_at - loop.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(delay)

    async def acquire_rate(self, *, batch: bool = False) -> None:
        """Wait for a rate token (and a batch token for `/batch`); not the concurrency slot.

        A batch request is also a request, so it takes a token from both buckets.
        """
        await self._wait_resume()
        if batch:
            await self._batches.acquire()
        await self._requests.acquire()
        if self._per_second is not None:
            await self._per_second.acquire()

    @asynccontextmanager
    async def in_flight(self) -> AsyncIterator[None]:
        """Hold one of the realm's concurrent-request slots."""
        async with self._in_flight:
            yield

    @asynccontextmanager
    async def slot(self, *, batch: bool = False) -> AsyncIterator[None]:
        """Hold a concurrency slot and take a rate token in it, for one request."""
        async with self._in_flight:
            await self.acquire_rate(batch=batch)
            yield

    def throttled(self, retry_after: float | None) -> float:
        """Record a 429: pause every request of the realm.

        Args:
            retry_after: The server's Retry-After in seconds, if it sent one.

        Returns:
            The pause applied, in seconds.
        """
        self.throttled_count += 1
        pause = self.settings.throttle_backoff_s if retry_after is None else retry_after
        loop = asyncio.get_running_loop()
        self._resume_at = max(self._resume_at, loop.time() + pause)
        return pause


class LimiterRegistry:
    """One `RealmLimiter` per realm id, for a process that talks to many realms."""

    def __init__(self, settings: LimitSettings | None = None) -> None:
        self._settings = settings or LimitSettings()
        self._limiters: dict[str, RealmLimiter] = {}

    def for_realm(self, realm_id: str) -> RealmLimiter:
        """Return the realm's limiter, creating it on first use."""
        if realm_id not in self._limiters:
            self._limiters[realm_id] = RealmLimiter(self._settings)
        return self._limiters[realm_id]
