"""The poster's OAuth connect flow: state, tokens at rest, and secrets in logs and spans.

One connect (the real authorization-code flow against the emulator) plus a posting
with a forced token refresh, so the old and the rotated tokens both pass through the
poster; then the database, every captured log line and every span are searched for
them and for every other secret the stack was given.
"""

import asyncio
import base64
import json
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
from aiokafka import AIOKafkaProducer
from qbsync_core.topics import POSTED
from qbsync_poster.crypto import TokenCipher
from qbsync_qbo import TokenSet

from tests.fixtures.apps import (
    CLIENT_SECRET,
    MAPPER_ADMIN_TOKEN,
    POSTER_TOKEN_KEY,
    WEBHOOK_VERIFIER,
    bearer,
    poster_key,
)
from tests.fixtures.kafka_tap import tap
from tests.poster.helpers import customer_by_name, invoice
from tests.security.conftest import Stack

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@dataclass
class Connected:
    tenant: str
    key: str
    realm: str
    code: str
    first: TokenSet


async def _tokens(stack: Stack, tenant: str) -> TokenSet:
    pool = stack.poster.resources.ready().pool
    blob = await pool.fetchval("SELECT tokens FROM connections WHERE tenant_id = $1", tenant)
    plain = TokenCipher(POSTER_TOKEN_KEY).decrypt(bytes(blob))
    return TokenSet.model_validate_json(plain)


async def _start(stack: Stack, tenant: str, key: str) -> str:
    """The state `/connect/qbo` hands out, and the consent URL's redirect back."""
    resp = await stack.poster.http.get(
        "/connect/qbo", params={"tenant": tenant}, headers=bearer(key)
    )
    assert resp.status_code == 307, resp.text
    return resp.headers["location"]


@pytest.fixture(scope="module")
async def connected(stack: Stack) -> Connected:
    tenant = f"sc-{uuid.uuid4().hex[:10]}"
    key = await poster_key(stack.poster, tenant)
    consent = await stack.poster.qbo.get(await _start(stack, tenant, key))
    back = urlsplit(consent.headers["location"])
    code = parse_qs(back.query)["code"][0]
    done = await stack.poster.http.get(f"{back.path}?{back.query}")
    assert done.status_code == 200, done.text
    return Connected(tenant, key, done.json()["realm_id"], code, await _tokens(stack, tenant))


class TestOAuthState:
    async def test_states_are_unguessable_and_never_repeat(self, stack: Stack) -> None:
        tenant = f"sc-{uuid.uuid4().hex[:10]}"
        key = await poster_key(stack.poster, tenant)
        states = set()
        for _ in range(20):
            query = parse_qs(urlsplit(await _start(stack, tenant, key)).query)
            states.add(query["state"][0])
        assert len(states) == 20
        for state in states:
            # 24 random bytes, url-safe base64: 192 bits, far beyond guessing.
            assert len(base64.urlsafe_b64decode(state + "==")) >= 24

    async def test_a_state_is_single_use(self, stack: Stack) -> None:
        tenant = f"sc-{uuid.uuid4().hex[:10]}"
        key = await poster_key(stack.poster, tenant)
        consent = await stack.poster.qbo.get(await _start(stack, tenant, key))
        back = urlsplit(consent.headers["location"])
        first = await stack.poster.http.get(f"{back.path}?{back.query}")
        assert first.status_code == 200
        again = await stack.poster.http.get(f"{back.path}?{back.query}")
        assert again.status_code == 400

    async def test_forged_and_expired_states_are_refused(self, stack: Stack) -> None:
        forged = await stack.poster.http.get(
            "/callback", params={"code": "c", "state": "a" * 32, "realmId": "1"}
        )
        assert forged.status_code == 400
        tenant = f"sc-{uuid.uuid4().hex[:10]}"
        key = await poster_key(stack.poster, tenant)
        state = parse_qs(urlsplit(await _start(stack, tenant, key)).query)["state"][0]
        pool = stack.poster.resources.ready().pool
        await pool.execute(
            "UPDATE oauth_states SET created_at = now() - interval '2 hours' WHERE state = $1",
            state,
        )
        expired = await stack.poster.http.get(
            "/callback", params={"code": "c", "state": state, "realmId": "1"}
        )
        assert expired.status_code == 400
        stored = "SELECT count(*) FROM connections WHERE tenant_id = $1"
        assert await pool.fetchval(stored, tenant) == 0


async def _post_with_refresh(stack: Stack, connected: Connected) -> TokenSet:
    """Expire the realm's tokens in QBO, post an invoice (refresh on 401), return new tokens."""
    expired = await stack.poster.qbo.post(f"/_admin/realms/{connected.realm}/expire-tokens")
    assert expired.status_code < 300, expired.text
    inv = invoice(
        connected.tenant,
        connected.realm,
        "sec-1",
        "901",
        customer_by_name(connected.tenant, "Secret Keeper"),
    )
    producer = AIOKafkaProducer(bootstrap_servers=stack.infra.kafka)
    await producer.start()
    try:
        async with tap(stack.infra.kafka, POSTED.name) as posted:
            await producer.send_and_wait(
                stack.poster.settings.commands_topic,
                inv.model_dump_json().encode(),
                key=connected.tenant.encode(),
                headers=[("qbsync-kind", b"posting-command")],
            )
            found = await posted.wait_for(
                lambda r: inv.command_id.encode() in (r.value or b""), 1, timeout=30
            )
    finally:
        await producer.stop()
    assert found, "the invoice was posted"
    assert json.loads(found[0].value or b"{}")["type"] == "posted"
    for _ in range(50):
        rotated = await _tokens(stack, connected.tenant)
        if rotated.refresh_token != connected.first.refresh_token:
            return rotated
        await asyncio.sleep(0.1)
    raise AssertionError("the tokens were not refreshed")


def _key_secrets(*tokens: str) -> list[str]:
    # The whole token and its secret part (qbs_<id>_<secret>); the id alone is not secret.
    return [part for t in tokens for part in (t, t.split("_", 2)[-1])]


async def test_no_token_or_secret_in_the_database_logs_or_spans(
    stack: Stack, connected: Connected
) -> None:
    rotated = await _post_with_refresh(stack, connected)
    tokens = [connected.first, rotated]
    secrets = {
        "authorization code": [connected.code],
        "access tokens": [t.access_token for t in tokens],
        "refresh tokens": [t.refresh_token for t in tokens],
        "client secret": [CLIENT_SECRET],
        "token key": [POSTER_TOKEN_KEY],
        "webhook verifier": [WEBHOOK_VERIFIER],
        "mapper admin token": [MAPPER_ADMIN_TOKEN],
        "poster key": _key_secrets(connected.key),
    }
    # Tokens at rest: every table of the poster, as text and as raw bytes.
    pool = stack.poster.resources.ready().pool
    tables = await pool.fetch(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'poster' AND table_type = 'BASE TABLE'"
    )
    dump = []
    for row in tables:
        name = row["table_name"]
        rows = await pool.fetch(f'SELECT t::text AS line FROM poster."{name}" t')  # noqa: S608
        dump += [r["line"] for r in rows]
    assert any(connected.tenant in line for line in dump), "the scan reads the connection row"
    database = "\n".join(dump)
    for what in ("access tokens", "refresh tokens", "client secret", "poster key"):
        for secret in secrets[what]:
            assert secret not in database, f"{what} stored in clear"
            # bytea columns print as hex: look for the hex form too.
            assert secret.encode().hex() not in database, f"{what} stored in clear (bytea)"
    logs = "\n".join(stack.captured.lines)
    spans = "\n".join(stack.captured.span_texts())
    assert connected.tenant in spans, "spans of the flow were captured"
    assert stack.captured.lines, "log lines were captured"
    for what, values in secrets.items():
        for secret in values:
            assert secret not in logs, f"{what} in the logs"
            assert secret not in spans, f"{what} in a span"
