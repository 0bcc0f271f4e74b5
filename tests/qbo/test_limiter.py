import asyncio

import pytest
from qbsync_qbo import LimiterRegistry, LimitSettings, RealmLimiter


async def _acquire_times(limiter: RealmLimiter, n: int, *, batch: bool = False) -> list[float]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    times: list[float] = []
    for _ in range(n):
        await limiter.acquire_rate(batch=batch)
        times.append(loop.time() - start)
    return times


def _max_in_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if a <= t < a + window) for a in times)


class TestRealmLimiter:
    @pytest.mark.parametrize("burst", [1, 5])
    async def test_never_more_than_the_rate_in_any_window(self, burst: int) -> None:
        settings = LimitSettings(
            requests_per_minute=10, requests_per_second=0, window_s=0.5, burst=burst
        )
        times = await _acquire_times(RealmLimiter(settings), 22)
        assert _max_in_window(times, 0.5) <= 10
        assert sum(1 for t in times if t < 0.01) == burst

    async def test_batch_takes_both_buckets(self) -> None:
        settings = LimitSettings(
            requests_per_minute=1000,
            requests_per_second=0,
            batch_requests_per_minute=4,
            window_s=0.4,
        )
        times = await _acquire_times(RealmLimiter(settings), 6, batch=True)
        assert _max_in_window(times, 0.4) <= 4

    async def test_a_429_pauses_the_realm(self) -> None:
        limiter = RealmLimiter(LimitSettings(requests_per_minute=100_000))
        assert limiter.throttled(0.2) == 0.2
        times = await _acquire_times(limiter, 1)
        assert times[0] >= 0.19
        assert limiter.throttled_count == 1

    async def test_429_without_retry_after_uses_the_default_pause(self) -> None:
        limiter = RealmLimiter(LimitSettings(throttle_backoff_s=0.1))
        assert limiter.throttled(None) == 0.1

    def test_burst_must_leave_a_steady_rate(self) -> None:
        with pytest.raises(ValueError, match="burst"):
            RealmLimiter(LimitSettings(requests_per_minute=10, burst=11, safety_margin=0.5))

    def test_registry_shares_one_limiter_per_realm(self) -> None:
        registry = LimiterRegistry()
        assert registry.for_realm("1") is registry.for_realm("1")
        assert registry.for_realm("1") is not registry.for_realm("2")


class TestPerSecond:
    async def test_burst_is_capped_by_the_per_second_limit(self) -> None:
        settings = LimitSettings(
            requests_per_minute=600, requests_per_second=4, burst=6, safety_margin=0.0
        )
        times = await _acquire_times(RealmLimiter(settings), 6)
        assert _max_in_window(times, 1.0) <= 4
