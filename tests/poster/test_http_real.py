"""The OAuth connect flow, tokens at rest, the read API and message kinds (issue 7)."""

import asyncpg
import pytest
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families
from qbsync_poster.crypto import TokenCipher
from qbsync_poster.migrations_path import SCHEMA

from tests.poster.conftest import TOKEN_KEY, Poster
from tests.poster.helpers import customer_by_name, invoice, tenant_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def _connect_by_oauth(poster: Poster, tenant: str) -> str:
    start = await poster.http.get("/connect/qbo", params={"tenant": tenant})
    assert start.status_code == 307
    consent = await poster.qbo.get(start.headers["location"])
    assert consent.status_code in (302, 303, 307)
    back = consent.headers["location"]
    assert back.startswith("http://poster.test/callback?")
    done = await poster.http.get(back.removeprefix("http://poster.test"))
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["tenant_id"] == tenant
    return str(body["realm_id"])


class TestConnect:
    async def test_oauth_code_flow_connects_the_tenant_and_posting_works(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await _connect_by_oauth(poster, tenant)
        inv = invoice(tenant, realm, "o-1", "1", customer_by_name(tenant, "OAuth Co"))
        assert (await poster.run([inv]))[inv.command_id].kind == "posted"

    async def test_callback_with_unknown_state_is_refused(self, poster: Poster) -> None:
        resp = await poster.http.get(
            "/callback", params={"code": "x", "state": "forged", "realmId": "1"}
        )
        assert resp.status_code == 400

    async def test_tokens_are_encrypted_at_rest_and_keys_rotate(
        self, poster: Poster, database_url: str
    ) -> None:
        tenant = tenant_id()
        await poster.connected_realm(tenant)
        conn = await asyncpg.connect(database_url)
        try:
            blob = bytes(
                await conn.fetchval(
                    f"SELECT tokens FROM {SCHEMA}.connections WHERE tenant_id = $1",  # noqa: S608
                    tenant,
                )
            )
        finally:
            await conn.close()
        assert b"access_token" not in blob
        assert b"access_token" in TokenCipher(TOKEN_KEY).decrypt(blob)
        new_key = Fernet.generate_key().decode()
        rotated = TokenCipher(f"{new_key},{TOKEN_KEY}").rotate(blob)
        assert TokenCipher(new_key).decrypt(rotated) == TokenCipher(TOKEN_KEY).decrypt(blob)


class TestHealth:
    async def test_health_answers_once_started(self, poster: Poster) -> None:
        resp = await poster.http.get("/health")
        assert resp.status_code == 200

    async def test_liveness_and_readiness_answer_with_database_and_broker_up(
        self, poster: Poster
    ) -> None:
        assert (await poster.http.get("/healthz")).json() == {"status": "ok"}
        assert (await poster.http.get("/readyz")).json() == {"status": "ready"}


def qbo_requests(text: str) -> dict[str, float]:
    """`qbsync_poster_qbo_requests_total` by status, from a /metrics answer."""
    return {
        sample.labels["status"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "qbsync_poster_qbo_requests_total"
    }


class TestMetrics:
    async def test_qbo_requests_are_counted_by_status_throttling_included(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        before = qbo_requests((await poster.http.get("/metrics")).text)
        cust = customer_by_name(tenant, "Metered Co")
        await poster.admin(
            "POST", "faults", {"share": 0.5, "kinds": ["429"], "realm_id": realm, "seed": 3}
        )
        try:
            invoices = [invoice(tenant, realm, f"m-{i}", f"{i + 1}", cust) for i in range(10)]
            outcomes = await poster.run(invoices, timeout=60)
        finally:
            await poster.admin("DELETE", "faults")
        assert {o.kind for o in outcomes.values()} == {"posted"}
        after = qbo_requests((await poster.http.get("/metrics")).text)
        assert after.get("200", 0) > before.get("200", 0)
        assert after.get("429", 0) > before.get("429", 0)  # what the Grafana 429 panel reads


class TestReadApi:
    async def test_lists_come_from_qbo_through_the_client(self, poster: Poster) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        qbo = await poster.direct(realm)
        await qbo.create(
            "Customer",
            {"DisplayName": "Read O'Neil", "PrimaryEmailAddr": {"Address": "r@read.example"}},
            "read-1",
        )
        base = f"/v1/tenants/{tenant}/qbo"
        by_name = (await poster.http.get(f"{base}/customers", params={"q": "Read O'"})).json()
        assert [c["DisplayName"] for c in by_name] == ["Read O'Neil"]
        by_mail = await poster.http.get(f"{base}/customers", params={"q": "r@read.example"})
        assert by_mail.status_code == 200
        accounts = (await poster.http.get(f"{base}/accounts")).json()
        checking = next(a for a in accounts if a["Name"] == "Checking")
        assert checking["AccountType"] == "Bank"
        assert checking["Classification"] == "Asset"
        for path in ("items", "classes", "taxcodes", "paymentmethods"):
            resp = await poster.http.get(f"{base}/{path}")
            assert resp.status_code == 200, (path, resp.text)
        names = {i["Name"] for i in (await poster.http.get(f"{base}/items")).json()}
        assert "Services" in names
        assert {t["Name"] for t in (await poster.http.get(f"{base}/taxcodes")).json()} >= {"TAX"}

    async def test_unconnected_tenant_gets_409(self, poster: Poster) -> None:
        resp = await poster.http.get(f"/v1/tenants/{tenant_id()}/qbo/items")
        assert resp.status_code == 409


class TestMessages:
    async def test_unreadable_command_is_a_validation_error_and_unknown_kinds_are_skipped(
        self, poster: Poster
    ) -> None:
        tenant = tenant_id()
        realm = await poster.connected_realm(tenant)
        await poster.send_raw(tenant, b'{"spec": "qbsync.command/1", "oops": true}', "")
        await poster.send_raw(tenant, b"{}", "something.else")
        # A later command of the partition still posts: nothing above stopped the consumer.
        inv = invoice(tenant, realm, "m-1", "1", customer_by_name(tenant, "After Co"))
        assert (await poster.run([inv]))[inv.command_id].kind == "posted"
        unreadable = await poster.errors.wait_for(
            lambda r: b"unreadable posting-command" in (r.value or b""), 1
        )
        assert unreadable
