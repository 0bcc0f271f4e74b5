"""The chaos run on a running dev stack (issue 10), shared by bench/chaos and tests/chaos.

While the events go in (each 2-3 times, over HTTP and over the Kafka inbound topic), the
run SIGKILLs every service at random moments and restarts it, the emulator answers a
share of calls with 429/500/503/timeouts/dropped connections, and every realm's access
tokens are expired periodically. Then it waits until QBO holds exactly the expected
ledger and the only open errors are the planted ones (or a deadline passes) and reports
what it found.
"""

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from qbsync_core.topics import INBOUND
from qbsync_dev.restart import kill_service, restart_service
from qbsync_dev.stack import StackState, read_state

from bench.chaos.judge import ErrorsVerdict, Verdict, judge, judge_errors
from bench.chaos.tenants import Tenant, api_key, set_up
from bench.chaos.workload import TenantPlan, workload

SERVICES = ("ingest", "mapper", "poster", "errors")
FAULT_KINDS = ["429", "500", "503", "timeout", "drop"]


@dataclass(frozen=True)
class ChaosConfig:
    tenants: int = 20
    events: int = 20_000
    kills_per_service: int = 3
    killed: tuple[str, ...] = SERVICES
    fault_share: float = 0.1
    planted_share: float = 0.005
    send_seconds: float = 120.0
    """Intake is spread over this long, so kills land while events flow."""
    kill_window_s: float | None = None
    """Kills land within this many seconds of the first send (default: sending + 30 s)."""
    expire_every_s: float = 30.0
    settle_timeout_s: float = 1800.0
    """How long to wait, after the last send and restart, for QBO to hold the ledger."""
    limits: bool = False
    """Intuit's per-realm limits in the emulator and the poster's pacing."""
    seed: int = 10


def chaos_env(config: ChaosConfig) -> dict[str, str]:
    """Settings the services must start with (set before `start_stack`; restarts reuse them).

    Retries are quicker than production's so a run converges in minutes: the poster retries
    a failed QBO call 10 times within seconds, times a hung call out after 2 s (an injected
    "timeout" hangs 3 s), and the errors service replays a retriable error after 5 s.
    """
    return {
        "QBSYNC_POSTER_RETRY_MAX_ATTEMPTS": "10",
        "QBSYNC_POSTER_RETRY_INITIAL_S": "0.05",
        "QBSYNC_POSTER_RETRY_MAX_S": "1",
        "QBSYNC_POSTER_QBO_TIMEOUT_S": "2",
        "QBSYNC_POSTER_LIMITS_ENABLED": "true" if config.limits else "false",
        "QBSYNC_ERRORS_RETRY_BASE_SECONDS": "5",
        "QBSYNC_ERRORS_RETRY_FACTOR": "2",
        "QBSYNC_ERRORS_RETRY_MAX_DELAY_SECONDS": "30",
        "QBSYNC_ERRORS_RETRY_MAX_ATTEMPTS": "20",
        "QBSYNC_LOG_LEVEL": "WARNING",
    }


@dataclass
class ChaosResult:
    config: ChaosConfig
    verdict: Verdict
    errors: ErrorsVerdict
    converged: bool
    seconds: float
    """From the first send until QBO first held exactly the expected ledger (or the deadline)."""
    sends: Counter[str] = field(default_factory=Counter)
    kills: Counter[str] = field(default_factory=Counter)
    expiries: int = 0
    injected: int = 0
    qbo_requests: int = 0

    @property
    def passed(self) -> bool:
        return (
            self.verdict.exact
            and self.errors.unplanted_open == 0
            and self.errors.planted_open == self.errors.planted
        )


def _schedule(plans: list[TenantPlan], rng: random.Random) -> list[tuple[float, str, str, bytes]]:
    """(moment in [0, 1], path, tenant, event): 2-3 copies of each, on both paths."""
    out = []
    for plan in plans:
        n = len(plan.events)
        for index, raw in enumerate(plan.events):
            paths = ["http", "kafka"]
            rng.shuffle(paths)
            if rng.random() < 0.5:
                paths.append(rng.choice(("http", "kafka")))
            for copy, path in enumerate(paths):
                moment = index / n + (rng.uniform(0, 0.05) if copy else 0)
                out.append((min(moment, 1.0), path, plan.tenant, raw))
    out.sort(key=lambda entry: entry[0])
    return out


class _Sender:
    def __init__(self, home: Path, tenants: dict[str, Tenant], sends: Counter[str]) -> None:
        self.home = home
        self.tenants = tenants
        self.sends = sends
        self.http = httpx.AsyncClient(timeout=30)
        self.producer = AIOKafkaProducer(bootstrap_servers=_stack(home).broker.url, linger_ms=5)

    async def post(self, tenant: str, events: list[bytes]) -> None:
        """POST until ingest takes it: a killed ingest refuses connections for a while."""
        headers = {
            "Authorization": f"Bearer {self.tenants[tenant].ingest_key}",
            "Content-Type": "application/json",
        }
        body = b"[" + b",".join(events) + b"]"
        while True:
            # Re-read each time: a restarted ingest may have had to take another port.
            url = _stack(self.home).services["ingest"].url + "/v1/events"
            try:
                response = await self.http.post(url, content=body, headers=headers)
            except httpx.HTTPError:
                response = None
            if response is not None and response.status_code == httpx.codes.MULTI_STATUS:
                for result in response.json()["results"]:
                    self.sends[f"http {result['status']}"] += 1
                return
            await asyncio.sleep(0.5)

    async def run(self, schedule: list[tuple[float, str, str, bytes]], seconds: float) -> None:
        await self.producer.start()
        try:
            started, position = time.monotonic(), 0
            while position < len(schedule):
                await asyncio.sleep(0.25)
                due = (time.monotonic() - started) / seconds
                batch = []
                while position < len(schedule) and schedule[position][0] <= due:
                    batch.append(schedule[position])
                    position += 1
                by_tenant: dict[str, list[bytes]] = {}
                futures = []
                for _, path, tenant, raw in batch:
                    if path == "http":
                        by_tenant.setdefault(tenant, []).append(raw)
                    else:
                        futures.append(
                            await self.producer.send(INBOUND.name, raw, key=tenant.encode())
                        )
                        self.sends["kafka"] += 1
                await asyncio.gather(
                    *futures, *(self.post(t, events) for t, events in by_tenant.items())
                )
        finally:
            await self.producer.stop()
            await self.http.aclose()


async def _killer(
    home: Path, config: ChaosConfig, rng: random.Random, kills: Counter[str], log: list[str]
) -> None:
    """Kill each service `kills_per_service` times at random moments, one at a time."""
    span = config.kill_window_s or config.send_seconds + 30
    moments = sorted(
        (rng.uniform(3, span), name)
        for name in config.killed
        for _ in range(config.kills_per_service)
    )
    started = time.monotonic()
    for at, name in moments:
        await asyncio.sleep(max(0.0, at - (time.monotonic() - started)))
        await kill_service(home, name)
        kills[name] += 1
        await asyncio.sleep(rng.uniform(0.5, 3))
        await restart_service(home, name)
        log.append(f"{time.monotonic() - started:6.1f}s killed and restarted {name}")


async def _expirer(
    emulator: httpx.AsyncClient, realms: list[str], every: float, stop: asyncio.Event
) -> int:
    expiries = 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            for realm in realms:
                (await emulator.post(f"/_admin/realms/{realm}/expire-tokens")).raise_for_status()
            expiries += 1
    return expiries


async def _settle(
    emulator: httpx.AsyncClient,
    errors: httpx.AsyncClient,
    plans: list[TenantPlan],
    realms: dict[str, str],
    timeout: float,
) -> tuple[Verdict, ErrorsVerdict, bool, float]:
    """Poll until QBO holds the ledger and only planted errors are open, twice 10 s apart."""
    deadline = time.monotonic() + timeout
    first_exact: float | None = None
    while True:
        verdict = await judge(emulator, plans, realms)
        errs = await judge_errors(errors, plans)
        good = verdict.exact and errs.unplanted_open == 0 and errs.planted_open == errs.planted
        if good and first_exact is not None and time.monotonic() - first_exact >= 10:
            return verdict, errs, True, first_exact
        if good and first_exact is None:
            first_exact = time.monotonic()
        elif not good:
            first_exact = None
        if time.monotonic() > deadline:
            return verdict, errs, False, time.monotonic()
        await asyncio.sleep(3 if first_exact else 5)


async def run_chaos(
    home: Path, state: StackState, config: ChaosConfig, log: list[str]
) -> ChaosResult:
    """Run the scenario on the stack recorded in `home` (started with `chaos_env`)."""
    rng = random.Random(config.seed)
    emulator = httpx.AsyncClient(base_url=state.services["qbo_sandbox"].url, timeout=60)
    errors_key = await api_key(state.database.url, "errors", None)
    errors = httpx.AsyncClient(headers={"Authorization": f"Bearer {errors_key}"}, timeout=60)
    try:
        await emulator.delete("/_admin/faults")
        await emulator.post("/_admin/latency", json={"fixed_ms": 0})
        await emulator.post(
            "/_admin/limits", json={"enabled": config.limits, "reset_windows": True}
        )
        names = [f"chaos-{i:02d}" for i in range(config.tenants)]
        tenants = {t.tenant_id: t for t in await set_up(state, names)}
        realms = {t.tenant_id: t.realm_id for t in tenants.values()}
        plans = workload(names, config.events, config.planted_share, config.seed)
        log.append(f"{len(tenants)} tenants connected and configured")
        await emulator.post(
            "/_admin/faults",
            json={
                "share": config.fault_share,
                "kinds": FAULT_KINDS,
                "timeout_s": 3,
                "retry_after_s": 1,
                "seed": config.seed,
            },
        )
        result = ChaosResult(config, Verdict(), ErrorsVerdict(0), False, 0.0)
        stop = asyncio.Event()
        expirer = asyncio.create_task(
            _expirer(emulator, list(realms.values()), config.expire_every_s, stop)
        )
        started = time.monotonic()
        sender = _Sender(home, tenants, result.sends)
        await asyncio.gather(
            sender.run(_schedule(plans, rng), config.send_seconds),
            _killer(home, config, rng, result.kills, log),
        )
        log.append(
            f"{time.monotonic() - started:6.1f}s sending and killing done: {dict(result.sends)}"
        )
        errors.base_url = httpx.URL(_stack(home).services["errors"].url)
        verdict, errs, converged, at = await _settle(
            emulator, errors, plans, realms, config.settle_timeout_s
        )
        stop.set()
        result.expiries = await expirer
        result.verdict, result.errors, result.converged = verdict, errs, converged
        result.seconds = at - started
        await emulator.delete("/_admin/faults")
        stats = (await emulator.get("/_admin/stats")).json()
        ours = set(realms.values())
        for realm, counters in _realm_stats(stats).items():
            if realm in ours:
                result.injected += int(str(counters.get("injected", 0)))
                result.qbo_requests += int(str(counters.get("requests", 0)))
        return result
    finally:
        await emulator.aclose()
        await errors.aclose()


def _stack(home: Path) -> StackState:
    state = read_state(home)
    if state is None:
        raise RuntimeError(f"no stack recorded in {home}")
    return state


def _realm_stats(stats: dict[str, object]) -> dict[str, dict[str, object]]:
    realms = stats.get("realms", stats)
    return realms if isinstance(realms, dict) else {}
