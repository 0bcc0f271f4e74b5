"""Token refresh under chaos: every token holder of the poster, frequent expiry, restarts.

The incident: right after a SIGKILL and restart of the poster, in a chaos run whose
emulator expired every realm's access tokens every 30 s, two connections were marked
revoked with "QBO 401 AUTHENTICATION: 3200 ... Token expired". These tests run a real
poster app (real broker and database) against the in-process emulator and try each way
a token could go stale.
"""

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from qbsync_core.broker import ensure_topics
from qbsync_core.commands import PostingCommand
from qbsync_core.topics import ERRORS, POSTED, TopicSpec
from qbsync_poster import storage
from qbsync_poster.app import create_app
from qbsync_poster.resources import Resources
from qbsync_poster.settings import PosterSettings
from qbsync_qbo import (
    LimitSettings,
    OAuthTokens,
    QboAuthError,
    QboClient,
    QboError,
    RealmLimiter,
    TokenSet,
    select,
)
from qbsync_qbo.client import MAX_REFRESHES
from qbsync_sandbox.app import create_app as create_sandbox
from qbsync_sandbox.settings import SandboxSettings

from tests.fixtures.kafka_tap import TopicTap, tap
from tests.poster.conftest import QBO, TOKEN_KEY
from tests.poster.helpers import customer_by_name, invoice, tenant_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

JSON = dict[str, Any]
TOKEN_PATH = "/oauth2/v1/tokens/bearer"


class TokenChaos(httpx.AsyncBaseTransport):
    """The emulator's transport, with hooks on the token endpoint.

    - `after_token`: awaited with the emulator's answer to a refresh, before the poster
      sees it (e.g. to expire the realm's tokens right after they were issued).
    - `lose_next`: that many refresh answers are lost after the emulator rotated.
    - `before_api`: awaited with every API request before it reaches the emulator.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.after_token: Callable[[JSON], Any] | None = None
        self.lose_next = 0
        self.before_api: Callable[[httpx.Request], Any] | None = None
        self.refreshes: list[int] = []  # status of every refresh answer
        self.token_delay_s = 0.0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v3/") and self.before_api is not None:
            await self.before_api(request)
        response = await self.inner.handle_async_request(request)
        if request.url.path != TOKEN_PATH:
            return response
        await response.aread()
        self.refreshes.append(response.status_code)
        if self.token_delay_s:
            await asyncio.sleep(random.uniform(0, self.token_delay_s))
        if response.status_code == 200 and self.after_token is not None:
            await self.after_token(response.json())
        if self.lose_next > 0:
            self.lose_next -= 1
            raise httpx.ReadTimeout("token answer lost after the rotation (test)", request=request)
        return response


@dataclass
class Stack:
    """One emulator and one database; posters started (and "killed") on top of them."""

    kafka_bootstrap: str
    database_url: str
    kafka_idempotent: bool
    topic: str
    transport: TokenChaos
    qbo: httpx.AsyncClient
    producer: AIOKafkaProducer
    posted: TopicTap
    errors: TopicTap

    def settings(self, **overrides: Any) -> PosterSettings:
        values: JSON = {
            "kafka_bootstrap_servers": self.kafka_bootstrap,
            "database_url": self.database_url,
            "kafka_idempotent_producer": self.kafka_idempotent,
            "commands_topic": self.topic,
            "kafka_max_records": 200,
            "token_keys": TOKEN_KEY,
            "qbo_base_url": QBO,
            "oauth_authorize_url": f"{QBO}/oauth2/authorize",
            "oauth_token_url": f"{QBO}{TOKEN_PATH}",
            "oauth_redirect_uri": "http://poster.test/callback",
            "limits_enabled": False,
            "retry_max_attempts": 10,
            "retry_initial_s": 0.01,
            "retry_max_s": 0.05,
            "throttle_backoff_s": 0.05,
            "cdc_interval_s": 0,
        }
        values.update(overrides)
        return PosterSettings(**values)

    @asynccontextmanager
    async def poster(self, **overrides: Any) -> AsyncIterator[Resources]:
        """A poster process: its lifespan, from startup until it is "killed"."""
        # A new consumer group per start: the same group would wait out a rebalance (~20 s)
        # after the previous poster left; the new one re-reads the topic from the start,
        # which the ledger makes harmless (commands already done are not posted again).
        overrides.setdefault("group_id", f"qbsync-poster-{uuid.uuid4().hex[:8]}")
        app: FastAPI = create_app(self.settings(**overrides), qbo_transport=self.transport)
        async with app.router.lifespan_context(app):
            resources: Resources = app.state.resources
            yield resources

    async def admin(self, method: str, path: str, body: JSON | None = None) -> Any:
        resp = await self.qbo.request(method, f"/_admin/{path}", json=body)
        resp.raise_for_status()
        return resp.json()

    async def connect(self, resources: Resources, tenant: str) -> str:
        realm = str((await self.admin("POST", "realms", {"name": "Token Co"}))["realm_id"])
        tokens = await self.admin("POST", f"realms/{realm}/tokens")
        await resources.ready().connections.connect_with_tokens(
            tenant,
            TokenSet(
                realm_id=realm,
                access_token=tokens["access_token"],
                refresh_token=tokens["refresh_token"],
                expires_at=datetime.now(UTC) + timedelta(seconds=float(tokens["expires_in"])),
            ),
        )
        return realm

    async def expire(self, realms: Sequence[str]) -> None:
        for realm in realms:
            await self.admin("POST", f"realms/{realm}/expire-tokens")

    async def send(self, commands: Sequence[PostingCommand]) -> None:
        futures = [
            await self.producer.send(
                self.topic,
                c.model_dump_json().encode(),
                key=c.tenant_id.encode(),
                headers=[("qbsync-kind", b"posting-command")],
            )
            for c in commands
        ]
        for future in futures:
            await future

    def latest(self, commands: Sequence[PostingCommand]) -> dict[str, str]:
        """command id -> kind of its outcome ("posted" / "error")."""
        wanted = {c.command_id for c in commands}
        seen: dict[str, str] = {}
        for kind, topic in (("posted", self.posted), ("error", self.errors)):
            for record in topic.records:
                # The topics are shared with the whole session: other tests publish
                # malformed records on purpose, so skip what is not one of ours.
                try:
                    value = json.loads(record.value or b"{}")
                except ValueError:
                    continue
                cid = value.get("command_id") if isinstance(value, dict) else None
                if cid in wanted:
                    seen[cid] = kind  # an error record wins: "posted" means no error at all
        return seen

    async def wait_outcomes(
        self, commands: Sequence[PostingCommand], timeout: float
    ) -> dict[str, str]:
        await self.posted.wait_until(lambda: len(self.latest(commands)) == len(commands), timeout)
        return self.latest(commands)

    async def status(self, resources: Resources, tenant: str) -> tuple[str, str | None]:
        stored = await storage.connection_for_tenant(resources.ready().pool, tenant)
        assert stored is not None
        return stored.status, stored.failure


@pytest.fixture
async def stack(
    kafka_bootstrap: str, database_url: str, kafka_idempotent: bool
) -> AsyncIterator[Stack]:
    suffix = uuid.uuid4().hex[:8]
    topic = TopicSpec(f"qbsync.commands.token-{suffix}", 4, "token test commands")
    await ensure_topics(kafka_bootstrap, (topic,))
    sandbox = create_sandbox(SandboxSettings(limits_enabled=False, _env_file=None))
    inner = httpx.ASGITransport(app=sandbox, raise_app_exceptions=False)
    transport = TokenChaos(inner)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=kafka_idempotent, linger_ms=2
    )
    await producer.start()
    try:
        async with (
            httpx.AsyncClient(transport=inner, base_url=QBO) as qbo,
            tap(kafka_bootstrap, POSTED.name) as posted,
            tap(kafka_bootstrap, ERRORS.name) as errors,
        ):
            yield Stack(
                kafka_bootstrap,
                database_url,
                kafka_idempotent,
                topic.name,
                transport,
                qbo,
                producer,
                posted,
                errors,
            )
    finally:
        await producer.stop()


async def _expirer(stack: Stack, realms: Sequence[str], every: float) -> None:
    while True:
        await asyncio.sleep(every)
        await stack.expire(realms)


async def _cdc(resources: Resources, connected: dict[str, str], every: float) -> None:
    """The CDC loop over our realms only (`poll_once` would also poll every connection
    other tests left in the shared database, against realms this emulator never had)."""
    poller = resources.cdc
    assert poller is not None
    while True:
        for tenant, realm in connected.items():
            with contextlib.suppress(QboError):
                await poller.poll_realm(tenant, realm)
        await asyncio.sleep(every)


async def _reads(resources: Resources, tenants: Sequence[str]) -> None:
    """What the read API does: a list query through the tenant's cached client."""
    while True:
        for tenant in tenants:
            client = await resources.ready().connections.client_for(tenant)
            with contextlib.suppress(QboError):
                await client.query_all(select("Account", {}, order_by="Id"))
        await asyncio.sleep(0.01)


async def test_stress_posting_cdc_and_reads_with_tokens_expiring_every_third_second(
    stack: Stack,
) -> None:
    await stack.admin("POST", "latency", {"min_ms": 0, "max_ms": 40})
    stack.transport.token_delay_s = 0.02
    async with stack.poster() as resources:
        tenants = [tenant_id() for _ in range(3)]
        realms = [await stack.connect(resources, t) for t in tenants]
        waves = [
            [
                invoice(t, r, f"s-{w}-{i}", f"{w}{i:02d}", customer_by_name(t, f"Stress {i % 4}"))
                for t, r in zip(tenants, realms, strict=True)
                for i in range(10)
            ]
            for w in range(1, 16)
        ]
        tasks = [
            asyncio.create_task(_expirer(stack, realms, 0.3)),
            asyncio.create_task(_cdc(resources, dict(zip(tenants, realms, strict=True)), 0.02)),
            asyncio.create_task(_reads(resources, tenants)),
        ]
        try:
            for wave in waves:
                await stack.send(wave)
                await asyncio.sleep(0.4)
            commands = [c for wave in waves for c in wave]
            outcomes = await stack.wait_outcomes(commands, timeout=60)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await stack.admin("POST", "latency", {"fixed_ms": 0})
        statuses = [await stack.status(resources, t) for t in tenants]
        print("refreshes", stack.transport.refreshes)
        print("statuses", statuses)
        assert all(s == "active" for s, _ in statuses), statuses
        assert set(outcomes.values()) == {"posted"}


async def test_token_expiring_between_refresh_and_first_use_after_restart_is_not_a_revocation(
    stack: Stack,
) -> None:
    """The incident. A restarted poster refreshes every realm at once, at a random moment
    of the emulator's 30 s expiry cycle; when an expiry lands between the refresh and the
    first request with the new token, that request gets 401 "Token expired" again. One
    refresh per request made that second 401 final, and the poster marked the connection
    revoked, although the token endpoint had just accepted the refresh token."""
    tenant = tenant_id()
    cust = customer_by_name(tenant, "Restart Co")
    async with stack.poster() as resources:
        realm = await stack.connect(resources, tenant)
        first = invoice(tenant, realm, "r-1", "1", cust)
        await stack.send([first])
        assert await stack.wait_outcomes([first], timeout=30) == {first.command_id: "posted"}
    # SIGKILLed: the emulator's expiry tick lands while the poster is down.
    await stack.expire([realm])
    expired_once: list[JSON] = []

    async def tick_after_refresh(answer: JSON) -> None:
        if not expired_once:  # the next tick, right after the refresh, before first use
            expired_once.append(answer)
            await stack.expire([realm])

    stack.transport.after_token = tick_after_refresh
    async with stack.poster() as resources:
        second = invoice(tenant, realm, "r-2", "2", cust)
        await stack.send([second])
        outcomes = await stack.wait_outcomes([second], timeout=30)
        status = await stack.status(resources, tenant)
    assert expired_once, "the poster never refreshed"
    assert status[0] == "active", status[1]
    assert outcomes == {second.command_id: "posted"}


async def test_posting_cdc_backsync_and_reads_share_one_token_holder_per_realm(
    stack: Stack,
) -> None:
    """Suspect 1 (two holders refreshing independently) ruled out: every path asks the one
    `Connections` of the process, which caches one client (one `OAuthTokens`) per realm, so
    a burst of 401s from all paths at once costs one refresh."""
    async with stack.poster() as resources:
        tenant = tenant_id()
        realm = await stack.connect(resources, tenant)
        polling_task = asyncio.create_task(_cdc(resources, {tenant: realm}, 0.01))
        connections = resources.ready().connections
        posting = (await connections.clients_for({tenant: realm}))[tenant]  # dispatch
        reading = await connections.client_for(tenant)  # http.py read API
        polling = await connections.client_for(tenant, realm)  # cdc.py, backsync.py
        assert posting is reading is polling
        assert isinstance(reading, QboClient)
        cust = customer_by_name(tenant, "Holder Co")
        commands = [invoice(tenant, realm, f"h-{i}", f"{i}", cust) for i in range(10)]
        await asyncio.sleep(0.1)  # the CDC loop is polling
        await stack.expire([realm])
        before = len(stack.transport.refreshes)
        await stack.send(commands)
        await asyncio.gather(
            *(reading.query_all(select("Account", {}, order_by="Id")) for _ in range(10))
        )
        outcomes = await stack.wait_outcomes(commands, timeout=30)
        await asyncio.sleep(0.1)
        polling_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling_task
        assert stack.transport.refreshes[before:] == [200]
        assert await stack.status(resources, tenant) == ("active", None)
    assert set(outcomes.values()) == {"posted"}


async def test_every_request_uses_a_token_already_in_the_database(stack: Stack) -> None:
    """Suspects 2 and 4 ruled out: the rotated pair is stored before its first use, so a
    poster killed at any moment restarts from the newest pair (or from the one before it
    when killed between the token endpoint's answer and the store, see the lost-answer
    test), never from an older one."""
    tenant = tenant_id()
    stale: list[str] = []
    async with stack.poster() as resources:
        realm = await stack.connect(resources, tenant)
        store = resources.ready().connections.store
        pool = resources.ready().pool

        async def in_db(request: httpx.Request) -> None:
            stored = await storage.connection_for_tenant(pool, tenant)
            if stored is None or f"/company/{realm}/" not in request.url.path:
                return
            sent = request.headers["authorization"].removeprefix("Bearer ")
            if store.open(stored.tokens).access_token != sent:
                stale.append(request.url.path)

        stack.transport.before_api = in_db
        cust = customer_by_name(tenant, "Stored Co")
        for n in range(3):
            await stack.expire([realm])
            wave = [invoice(tenant, realm, f"d-{n}-{i}", f"{n}{i}", cust) for i in range(5)]
            await stack.send(wave)
            assert set((await stack.wait_outcomes(wave, timeout=30)).values()) == {"posted"}
        stack.transport.before_api = None
        refreshes = len(stack.transport.refreshes)
    assert refreshes >= 3
    assert stale == []
    # "SIGKILL" and restart: the stored pair is the emulator's live one.
    await stack.expire([realm])
    async with stack.poster() as resources:
        last = invoice(tenant, realm, "d-last", "99", cust)
        await stack.send([last])
        assert await stack.wait_outcomes([last], timeout=30) == {last.command_id: "posted"}
        assert await stack.status(resources, tenant) == ("active", None)


async def test_lost_refresh_answer_is_reported_as_invalid_grant_not_as_an_expired_token(
    stack: Stack,
) -> None:
    """Suspect 3. The emulator spends a refresh token as soon as it rotates it; when the
    answer carrying the new pair is lost, the pair is lost, and the poster's next refresh
    (with the spent token) gets invalid_grant. qbo-api.md section 5 only says "always store
    the latest refresh_token"; whether Intuit keeps the previous one valid for a while is
    not confirmed there, so the emulator stays strict. Either way this path ends in
    invalid_grant from the token endpoint, never in the incident's 401 "Token expired"."""
    tenant = tenant_id()
    async with stack.poster() as resources:
        realm = await stack.connect(resources, tenant)
        await stack.expire([realm])
        stack.transport.lose_next = 1
        lost = invoice(tenant, realm, "l-1", "1", customer_by_name(tenant, "Lost Co"))
        await stack.send([lost])
        assert await stack.wait_outcomes([lost], timeout=30) == {lost.command_id: "error"}
        status, failure = await stack.status(resources, tenant)
    assert stack.transport.refreshes[-2:] == [200, 400]
    assert status == "revoked"
    assert failure is not None
    assert "invalid_grant" in failure
    assert "3200" not in failure


class _Memory:
    def __init__(self) -> None:
        self.saved: list[TokenSet] = []

    async def save(self, tokens: TokenSet) -> None:
        self.saved.append(tokens)


async def test_client_refreshes_at_most_max_refreshes_times_per_request(stack: Stack) -> None:
    """The fix stays bounded: when every new token is expired before its first use, one
    request gives up after `MAX_REFRESHES` refreshes with the 401 (QboAuthError)."""
    realm = str((await stack.admin("POST", "realms", {"name": "Bounded Co"}))["realm_id"])
    issued = await stack.admin("POST", f"realms/{realm}/tokens")

    async def always_expire(_: JSON) -> None:
        await stack.expire([realm])

    async with httpx.AsyncClient(transport=stack.transport) as http:
        oauth = OAuthTokens(
            TokenSet(
                realm_id=realm,
                access_token=issued["access_token"],
                refresh_token=issued["refresh_token"],
                expires_at=datetime.now(UTC) + timedelta(hours=1),
            ),
            _Memory(),
            http,
            client_id="qbsync-dev",
            client_secret="qbsync-dev-secret",
            token_url=f"{QBO}{TOKEN_PATH}",
        )
        limits = LimitSettings(requests_per_minute=100_000, requests_per_second=0)
        client = QboClient(QBO, realm, oauth, http, RealmLimiter(limits))
        await stack.expire([realm])
        stack.transport.after_token = always_expire
        before = len(stack.transport.refreshes)
        with pytest.raises(QboAuthError, match="Token expired"):
            await client.query(select("Account", {}))
        assert len(stack.transport.refreshes) - before == MAX_REFRESHES
        # One expiry between a refresh and the resend (the incident) is absorbed.
        expired: list[JSON] = []

        async def expire_once(answer: JSON) -> None:
            if not expired:
                expired.append(answer)
                await stack.expire([realm])

        stack.transport.after_token = expire_once
        await stack.expire([realm])
        assert (await client.query(select("Account", {}))).entities
