"""A poster app on the real broker and database, posting to the in-process QBO emulator."""

import json
import uuid
from collections.abc import AsyncIterator, Sequence
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
from qbsync_poster.app import create_app
from qbsync_poster.keys import create_api_key
from qbsync_poster.resources import Resources
from qbsync_poster.settings import PosterSettings
from qbsync_qbo import LimitSettings, QboClient, RealmLimiter, RetryPolicy, StaticToken, TokenSet
from qbsync_sandbox.app import create_app as create_sandbox
from qbsync_sandbox.settings import SandboxSettings

from tests.fixtures.kafka_tap import TopicTap, tap
from tests.poster.helpers import ChaosTransport

JSON = dict[str, Any]
QBO = "http://sandbox.test"
TOKEN_KEY = "uJ3bbqUzAXmC2m7m9wTLM0S1R2nY5xXzBd8uC8Q6v1Y="


@dataclass
class Outcome:
    kind: str  # "posted" or "error"
    record: JSON


@dataclass
class Poster:
    app: FastAPI
    http: httpx.AsyncClient
    qbo: httpx.AsyncClient
    chaos: ChaosTransport
    settings: PosterSettings
    producer: AIOKafkaProducer
    posted: TopicTap
    errors: TopicTap

    @property
    def resources(self) -> Resources:
        resources: Resources = self.app.state.resources
        return resources

    async def admin(self, method: str, path: str, body: JSON | None = None) -> Any:
        resp = await self.qbo.request(method, f"/_admin/{path}", json=body)
        resp.raise_for_status()
        return resp.json()

    async def realm(self) -> str:
        return str((await self.admin("POST", "realms", {"name": "Test Co"}))["realm_id"])

    async def connect(self, tenant: str, realm: str) -> None:
        tokens = await self.admin("POST", f"realms/{realm}/tokens")
        await self.resources.ready().connections.connect_with_tokens(
            tenant,
            TokenSet(
                realm_id=realm,
                access_token=tokens["access_token"],
                refresh_token=tokens["refresh_token"],
                expires_at=datetime.now(UTC) + timedelta(seconds=float(tokens["expires_in"])),
            ),
        )

    async def opt_in_backsync(self, tenant: str) -> None:
        """Turn payment back-sync on for `tenant` through the API (SET-7)."""
        answer = await self.http.put(f"/v1/tenants/{tenant}/backsync", json={"enabled": True})
        assert answer.json() == {"enabled": True}, answer.text

    async def direct(self, realm: str) -> QboClient:
        """A client of the realm that bypasses the poster (to change QBO behind its back)."""
        tokens = await self.admin("POST", f"realms/{realm}/tokens")
        limits = LimitSettings(requests_per_minute=100_000, requests_per_second=0)
        return QboClient(
            QBO,
            realm,
            StaticToken(tokens["access_token"]),
            self.qbo,
            RealmLimiter(limits),
            retry=RetryPolicy(max_attempts=2, initial_s=0.01, max_s=0.02, jitter_s=0.01),
        )

    async def revoke_at_intuit(self, realm: str) -> None:
        """Revoke the realm's grant at Intuit (the user disconnected the app in QuickBooks)."""
        tokens = await self.admin("POST", f"realms/{realm}/tokens")
        resp = await self.qbo.post(
            f"{QBO}/oauth2/v1/tokens/revoke",
            json={"token": tokens["refresh_token"]},
            auth=("qbsync-dev", "qbsync-dev-secret"),
        )
        assert resp.status_code == 200

    async def connected_realm(self, tenant: str) -> str:
        realm = await self.realm()
        await self.connect(tenant, realm)
        return realm

    async def send(self, commands: Sequence[PostingCommand]) -> None:
        futures = [
            await self.producer.send(
                self.settings.commands_topic,
                c.model_dump_json().encode(),
                key=c.tenant_id.encode(),
                headers=[("qbsync-kind", b"posting-command")],
            )
            for c in commands
        ]
        for future in futures:
            await future

    async def send_raw(self, key: str, value: bytes, kind: str) -> None:
        await (
            await self.producer.send(
                self.settings.commands_topic,
                value,
                key=key.encode(),
                headers=[("qbsync-kind", kind.encode())],
            )
        )

    def outcomes(self, tenant: str) -> dict[str, list[Outcome]]:
        """command id -> every outcome published for it, in order."""
        found: dict[str, list[Outcome]] = {}
        for kind, topic in (("posted", self.posted), ("error", self.errors)):
            for record in topic.keyed(tenant):
                value = json.loads(record.value or b"{}")
                cid = value.get("command_id")
                if cid:
                    found.setdefault(cid, []).append(Outcome(kind, value))
        for outs in found.values():
            outs.sort(key=lambda o: str(o.record.get("posted_at") or o.record.get("occurred_at")))
        return found

    async def run(
        self, commands: Sequence[PostingCommand], timeout: float = 30.0
    ) -> dict[str, Outcome]:
        """Send commands and return each one's latest outcome once all have one."""
        tenants = {c.tenant_id for c in commands}
        wanted: dict[str, int] = {}
        for c in commands:
            wanted[c.command_id] = wanted.get(c.command_id, 0) + 1
        before = self._counts(tenants)
        await self.send(commands)

        def all_done() -> bool:
            now = self._counts(tenants)
            return all(now.get(cid, 0) >= before.get(cid, 0) + n for cid, n in wanted.items())

        await self.posted.wait_until(all_done, timeout=timeout)
        latest: dict[str, Outcome] = {}
        for t in tenants:
            for cid, outs in self.outcomes(t).items():
                if cid in wanted:
                    latest[cid] = outs[-1]
        assert set(latest) == set(wanted), f"no outcome for {set(wanted) - set(latest)}"
        return latest

    def _counts(self, tenants: set[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in tenants:
            for cid, outs in self.outcomes(t).items():
                counts[cid] = len(outs)
        return counts

    async def export(self, realm: str) -> dict[str, list[JSON]]:
        state = await self.admin("GET", f"realms/{realm}/export")
        entities: dict[str, list[JSON]] = state["entities"]
        return entities


@pytest.fixture(scope="session")
async def poster(
    kafka_bootstrap: str, database_url: str, kafka_idempotent: bool
) -> AsyncIterator[Poster]:
    suffix = uuid.uuid4().hex[:8]
    topic = TopicSpec(f"qbsync.commands.test-{suffix}", 4, "poster test commands")
    await ensure_topics(kafka_bootstrap, (topic,))
    sandbox = create_sandbox(SandboxSettings(limits_enabled=False, _env_file=None))
    inner = httpx.ASGITransport(app=sandbox, raise_app_exceptions=False)
    chaos = ChaosTransport(inner)
    settings = PosterSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        kafka_idempotent_producer=kafka_idempotent,
        group_id=f"qbsync-poster-{suffix}",
        commands_topic=topic.name,
        kafka_max_records=200,
        token_keys=TOKEN_KEY,  # type: ignore[arg-type]
        qbo_base_url=QBO,
        oauth_authorize_url=f"{QBO}/oauth2/authorize",
        oauth_token_url=f"{QBO}/oauth2/v1/tokens/bearer",
        oauth_redirect_uri="http://poster.test/callback",
        limits_enabled=False,
        retry_max_attempts=10,
        retry_initial_s=0.01,
        retry_max_s=0.05,
        throttle_backoff_s=0.05,
    )
    app = create_app(settings, qbo_transport=chaos)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, enable_idempotence=kafka_idempotent, linger_ms=2
    )
    await producer.start()
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://poster.test"
            ) as client,
            httpx.AsyncClient(transport=inner, base_url=QBO) as qbo,
            tap(kafka_bootstrap, POSTED.name) as posted,
            tap(kafka_bootstrap, ERRORS.name) as errors,
        ):
            # An operator key: these tests are about posting; tests/security checks scoping.
            operator = (await create_api_key(app.state.resources.ready().pool, None, "tests")).token
            client.headers["Authorization"] = f"Bearer {operator}"
            yield Poster(app, client, qbo, chaos, settings, producer, posted, errors)
    finally:
        await producer.stop()
