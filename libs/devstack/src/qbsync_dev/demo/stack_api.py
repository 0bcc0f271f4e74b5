"""The running stack as the demo talks to it: a browser, an upstream producer, the APIs.

Every call goes through a public interface: the poster's OAuth2 connect flow, the
mapper's settings API, the inbound Kafka topic, the errors API, and the emulator's
QBO API and `/_admin` reports (the emulator stands in for Intuit's UI and reports).
"""

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from qbsync_core.topics import INBOUND

from qbsync_dev.demo.model import JSON
from qbsync_dev.stack import StackState

QBO_JSON = {"Accept": "application/json", "Content-Type": "application/json"}


def loads(text: str | bytes) -> Any:
    """JSON with numbers as Decimal: money never passes through a float."""
    return json.loads(text, parse_float=Decimal)


@dataclass(frozen=True)
class StackUrls:
    """Where each component of a running stack answers."""

    broker: str
    sandbox: str
    ingest: str
    mapper: str
    poster: str
    errors: str

    @classmethod
    def of(cls, state: StackState) -> "StackUrls":
        """The URLs recorded by `qbsync dev up` (stack.json)."""
        s = state.services
        return cls(
            state.broker.url,
            s["qbo_sandbox"].url,
            s["ingest"].url,
            s["mapper"].url,
            s["poster"].url,
            s["errors"].url,
        )


def _key_command(home: Path, argv: list[str]) -> str:
    env = {**os.environ, "QBSYNC_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, *argv], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[-1]


@dataclass(frozen=True)
class Keys:
    """Operator keys of the errors API and (when it asks for one) the poster's API."""

    errors: str
    poster: str | None = None

    @classmethod
    def create(cls, home: Path) -> "Keys":
        """New operator keys, made by each service's own command.

        The dev stack must not import a service, so it runs their commands. A poster
        without API keys (no `qbsync_poster.keys`) gets none.
        """
        errors = _key_command(
            home, ["-m", "qbsync_dev", "errors", "key", "create", "--all", "--label", "demo"]
        )
        if importlib.util.find_spec("qbsync_poster.keys") is None:
            return cls(errors)
        poster = _key_command(
            home, ["-m", "qbsync_poster.keys", "create", "--all", "--label", "demo"]
        )
        return cls(errors, poster)


class StackApi:
    """HTTP calls of the demo against one running stack."""

    def __init__(self, urls: StackUrls, keys: Keys, client: httpx.AsyncClient) -> None:
        self.urls = urls
        self.client = client
        self.errors_auth = {"Authorization": f"Bearer {keys.errors}"}
        self.poster_auth = {"Authorization": f"Bearer {keys.poster}"} if keys.poster else {}

    async def _ok(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise RuntimeError(
                f"{response.request.method} {response.request.url} answered "
                f"{response.status_code}: {response.text[:500]}"
            )
        return loads(response.content) if response.content else None

    async def connect(self, tenant: str) -> str:
        """Connect a tenant as a user's browser does: poster -> Intuit consent -> callback."""
        url = f"{self.urls.poster}/connect/qbo"
        # httpx drops the Authorization header on a redirect to another origin, so the
        # poster key never reaches "Intuit"; the callback is protected by its `state`.
        async with httpx.AsyncClient(follow_redirects=True, timeout=30) as browser:
            answer = await self._ok(
                await browser.get(url, params={"tenant": tenant}, headers=self.poster_auth)
            )
        return str(answer["realm_id"])

    async def qbo_write(self, realm: str, token: str, entity: str, body: JSON) -> JSON:
        """One QBO create, as the accountant's set-up in the QBO UI; paced on 429."""
        url = f"{self.urls.sandbox}/v3/company/{realm}/{entity.lower()}"
        headers = {**QBO_JSON, "Authorization": f"Bearer {token}"}
        for _ in range(30):
            response = await self.client.post(url, headers=headers, content=json.dumps(body))
            if response.status_code != httpx.codes.TOO_MANY_REQUESTS:
                created: JSON = (await self._ok(response))[entity]
                return created
            await asyncio.sleep(1)
        raise RuntimeError(f"QBO kept throttling the set-up of realm {realm}")

    async def admin_token(self, realm: str) -> str:
        """A token for the set-up writes (the emulator's stand-in for the QBO UI)."""
        url = f"{self.urls.sandbox}/_admin/realms/{realm}/tokens"
        return str((await self._ok(await self.client.post(url)))["access_token"])

    async def accounts(self, tenant: str) -> dict[str, str]:
        """Account name -> id of the tenant's company, through the poster's read API."""
        url = f"{self.urls.poster}/v1/tenants/{tenant}/qbo/accounts"
        rows = await self._ok(await self.client.get(url, headers=self.poster_auth))
        return {str(r["Name"]): str(r["Id"]) for r in rows}

    async def apply_settings(self, tenant: str, document: JSON) -> JSON:
        """PUT the tenant's settings document (mapper admin API)."""
        url = f"{self.urls.mapper}/v1/tenants/{tenant}/settings"
        answer: JSON = await self._ok(await self.client.put(url, content=json.dumps(document)))
        return answer

    async def dry_run(self, tenant: str, start: str, end: str) -> JSON:
        """What an export would post for the range (SET-5)."""
        url = f"{self.urls.mapper}/v1/tenants/{tenant}/dry-run"
        answer: JSON = await self._ok(await self.client.post(url, json={"from": start, "to": end}))
        return answer

    async def export(self, tenant: str) -> JSON:
        """A manual export (SET-3)."""
        answer: JSON = await self._ok(
            await self.client.post(f"{self.urls.mapper}/v1/tenants/{tenant}/export")
        )
        return answer

    async def realm_export(self, realm: str) -> JSON:
        """The emulator's full state of a company."""
        url = f"{self.urls.sandbox}/_admin/realms/{realm}/export"
        answer: JSON = await self._ok(await self.client.get(url))
        return answer

    async def trial_balance(self, realm: str) -> JSON:
        """The emulator's trial balance report of a company."""
        url = f"{self.urls.sandbox}/_admin/realms/{realm}/trial-balance"
        answer: JSON = await self._ok(await self.client.get(url))
        return answer

    async def delete_in_qbo(self, realm: str, entity: str, entity_id: str) -> None:
        """Delete an entity "in QBO", behind qbsync's back (list entities become inactive)."""
        url = (
            f"{self.urls.sandbox}/_admin/realms/{realm}/entities/{entity.lower()}/{entity_id}"
            "/delete"
        )
        await self._ok(await self.client.post(url))

    async def errors(self, **params: str) -> list[JSON]:
        """Errors matching a filter (errors API), every page."""
        items: list[JSON] = []
        while True:
            query = {**params, "limit": "200", "offset": str(len(items))}
            page = await self._ok(
                await self.client.get(
                    f"{self.urls.errors}/v1/errors", params=query, headers=self.errors_auth
                )
            )
            items.extend(page["items"])
            if len(items) >= page["total"] or not page["items"]:
                return items

    async def error_counts(self, tenant: str) -> JSON:
        """Open errors per category of a tenant (the "orange banner")."""
        url = f"{self.urls.errors}/v1/errors/counts"
        answer: JSON = await self._ok(
            await self.client.get(url, params={"tenant": tenant}, headers=self.errors_auth)
        )
        return answer

    async def resync(self, record_id: str) -> JSON:
        """Resync one error (errors API)."""
        url = f"{self.urls.errors}/v1/errors/{record_id}/resync"
        answer: JSON = await self._ok(await self.client.post(url, headers=self.errors_auth))
        return answer

    async def error(self, record_id: str) -> JSON:
        """One error in full."""
        url = f"{self.urls.errors}/v1/errors/{record_id}"
        answer: JSON = await self._ok(await self.client.get(url, headers=self.errors_auth))
        return answer


async def publish(bootstrap: str, events: list[JSON]) -> None:
    """Publish events to `qbsync.inbound.v1` as an upstream system does (key = tenant)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        sent = [
            await producer.send(
                INBOUND.name, json.dumps(e).encode(), key=str(e["tenant_id"]).encode()
            )
            for e in events
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()
