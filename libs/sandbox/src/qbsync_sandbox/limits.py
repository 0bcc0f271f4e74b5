"""Per-realm throttling (Intuit's limits), fault injection, latency and request statistics."""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

from qbsync_sandbox.settings import SandboxSettings

WINDOW_S = 60.0
SECOND_S = 1.0


@dataclass
class RealmUsage:
    """Sliding one-minute windows and the in-flight count of one realm."""

    requests: deque[float] = field(default_factory=deque)
    last_second: deque[float] = field(default_factory=deque)
    batches: deque[float] = field(default_factory=deque)
    in_flight: int = 0


class Limiter:
    """Intuit's per-realm limits: requests/minute and /second, concurrency, batch requests/minute.

    A request over a limit is refused (429) and does not count against the window.
    """

    def __init__(self, settings: SandboxSettings) -> None:
        self.enabled = settings.limits_enabled
        self.requests_per_minute = settings.requests_per_minute
        self.requests_per_second = settings.requests_per_second
        self.max_concurrent = settings.max_concurrent
        self.batch_requests_per_minute = settings.batch_requests_per_minute
        self.usage: dict[str, RealmUsage] = defaultdict(RealmUsage)

    def try_acquire(self, realm_id: str, *, is_batch: bool) -> float | None:
        """Admit a request; return None when admitted, else seconds until a retry may pass."""
        usage = self.usage[realm_id]
        clock = time.monotonic()
        for window in (usage.requests, usage.batches):
            while window and clock - window[0] >= WINDOW_S:
                window.popleft()
        while usage.last_second and clock - usage.last_second[0] >= SECOND_S:
            usage.last_second.popleft()
        if self.enabled:
            if usage.in_flight >= self.max_concurrent:
                return 1.0
            if len(usage.requests) >= self.requests_per_minute:
                return max(1.0, WINDOW_S - (clock - usage.requests[0]))
            if 0 < self.requests_per_second <= len(usage.last_second):
                return 1.0
            if is_batch and len(usage.batches) >= self.batch_requests_per_minute:
                return max(1.0, WINDOW_S - (clock - usage.batches[0]))
        usage.requests.append(clock)
        usage.last_second.append(clock)
        if is_batch:
            usage.batches.append(clock)
        usage.in_flight += 1
        return None

    def release(self, realm_id: str) -> None:
        """End an admitted request."""
        self.usage[realm_id].in_flight -= 1

    def reset(self) -> None:
        """Forget all windows (in-flight counts stay correct for running requests)."""
        for usage in self.usage.values():
            usage.requests.clear()
            usage.last_second.clear()
            usage.batches.clear()


FAULT_KINDS = ("429", "500", "503", "timeout", "drop")


@dataclass
class FaultPlan:
    """A share of requests answered with an injected failure."""

    share: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    realm_id: str | None = None
    timeout_s: float = 30.0
    retry_after_s: float = 60.0
    """Retry-After of an injected 429 (a long run cannot afford Intuit-like minutes)."""


class Chaos:
    """Injected faults and latency, configured over the admin API."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.plan = FaultPlan()
        self.fixed_ms = float(settings.latency_ms)
        self.min_ms = self.max_ms = self.fixed_ms
        self.random = random.Random()  # noqa: S311 - simulation, not cryptography

    def pick_fault(self, realm_id: str) -> str | None:
        """Return the fault kind to inject for this request, or None."""
        plan = self.plan
        if plan.share <= 0 or (plan.realm_id is not None and plan.realm_id != realm_id):
            return None
        if self.random.random() >= plan.share:
            return None
        return self.random.choice(plan.kinds)

    def latency_s(self) -> float:
        """Seconds to wait before answering."""
        if self.max_ms > self.min_ms:
            return self.random.uniform(self.min_ms, self.max_ms) / 1000
        return self.fixed_ms / 1000


@dataclass
class RealmStats:
    """Counters of one realm."""

    requests: int = 0
    throttled: int = 0
    injected: int = 0
    by_status: Counter[str] = field(default_factory=Counter)


class Stats:
    """Per-realm request statistics for ``GET /_admin/stats``."""

    def __init__(self) -> None:
        self.realms: dict[str, RealmStats] = defaultdict(RealmStats)

    def record(self, realm_id: str, status: int, *, injected: bool = False) -> None:
        """Count one answered request."""
        stats = self.realms[realm_id]
        stats.requests += 1
        stats.by_status[str(status)] += 1
        if status == 429 and not injected:
            stats.throttled += 1
        if injected:
            stats.injected += 1

    def as_json(self) -> dict[str, object]:
        """Render all counters."""
        return {
            "realms": {
                realm: {
                    "requests": s.requests,
                    "throttled": s.throttled,
                    "injected": s.injected,
                    "by_status": dict(s.by_status),
                }
                for realm, s in self.realms.items()
            }
        }
