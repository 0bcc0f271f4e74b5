"""Ingest against the real broker and database (issue 4 acceptance)."""

import asyncio
import base64
import hashlib
import hmac
import json
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from qbsync_core.records import ErrorRecord, encode_payload
from qbsync_core.topics import INBOUND

from tests.fixtures.events import make_invoice_issued, make_payment_received
from tests.ingest.conftest import WEBHOOK_TOKEN, Ingest
from tests.ingest.invalid_samples import samples

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


async def _produce(bootstrap: str, values: list[bytes], key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(INBOUND.name, value, key=key)
    finally:
        await producer.stop()


def _errors_for(ingest: Ingest, tenant: str) -> list[ErrorRecord]:
    return [ErrorRecord.model_validate_json(r.value) for r in ingest.errors.keyed(tenant)]


class TestAuth:
    async def test_missing_or_wrong_api_key_is_401(self, ingest: Ingest) -> None:
        assert (await ingest.http.post("/v1/events", content=b"[]")).status_code == 401
        response = await ingest.http.post(
            "/v1/events", content=b"[]", headers={"Authorization": "Bearer qbs_x_y"}
        )
        assert response.status_code == 401
        assert response.json() == {"error": "a valid API key is required"}

    async def test_key_may_only_submit_its_own_tenants_events(
        self, ingest: Ingest, tenant: str
    ) -> None:
        key = await ingest.api_key(tenant)
        other = make_invoice_issued(tenant_id=f"{tenant}-other")
        response = await ingest.http.post(
            "/v1/events", json=[other], headers={"Authorization": f"Bearer {key}"}
        )
        [result] = response.json()["results"]
        assert result["status"] == "rejected"
        assert result["reasons"][0]["field"] == "tenant_id"
        records = await ingest.errors.wait_for(lambda r: r.key == tenant.encode(), 1)
        assert records, "the refusal is recorded under the key's own tenant"
        assert not ingest.errors.keyed(f"{tenant}-other")


class TestDedupe:
    async def test_same_event_three_times_on_both_paths_is_forwarded_once(
        self, ingest: Ingest, kafka_bootstrap: str, tenant: str
    ) -> None:
        key = await ingest.api_key(tenant)
        event = make_invoice_issued(tenant_id=tenant, event_id=f"e-{uuid.uuid4()}")
        raw = json.dumps(event).encode()
        headers = {"Authorization": f"Bearer {key}"}
        posts = [
            ingest.http.post("/v1/events", content=b"[" + raw + b"]", headers=headers)
            for _ in range(3)
        ]
        responses, _ = await asyncio.gather(
            asyncio.gather(*posts), _produce(kafka_bootstrap, [raw] * 3, tenant.encode())
        )
        statuses = sorted(r.json()["results"][0]["status"] for r in responses)
        assert statuses.count("accepted") <= 1
        assert set(statuses) <= {"accepted", "duplicate"}
        forwarded = await ingest.accepted.wait_for(lambda r: r.key == tenant.encode(), 2, timeout=8)
        assert len(forwarded) == 1
        assert forwarded[0].value == raw, "forwarded byte for byte"

    async def test_repeat_within_one_request_is_a_duplicate(
        self, ingest: Ingest, tenant: str
    ) -> None:
        key = await ingest.api_key(tenant)
        event = make_payment_received(tenant_id=tenant)
        response = await ingest.http.post(
            "/v1/events", json=[event, event], headers={"Authorization": f"Bearer {key}"}
        )
        assert [r["status"] for r in response.json()["results"]] == ["accepted", "duplicate"]


class TestBatch:
    async def test_a_thousand_events_in_one_request_are_all_answered(
        self, ingest: Ingest, tenant: str
    ) -> None:
        key = await ingest.api_key(tenant)
        events = [
            make_payment_received(tenant_id=tenant, data={"ref": f"p-{i}"}) for i in range(1000)
        ]
        response = await ingest.http.post(
            "/v1/events", json=events, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 207
        body = response.json()
        assert [r["index"] for r in body["results"]] == list(range(1000))
        assert [r["event_id"] for r in body["results"]] == [e["event_id"] for e in events]
        assert body["accepted"] == 1000
        forwarded = await ingest.accepted.wait_for(lambda r: r.key == tenant.encode(), 1000)
        assert len(forwarded) == 1000

    async def test_more_than_a_thousand_is_refused_whole(self, ingest: Ingest, tenant: str) -> None:
        key = await ingest.api_key(tenant)
        events = [make_payment_received(tenant_id=tenant) for _ in range(1001)]
        response = await ingest.http.post(
            "/v1/events", json=events, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 413
        assert "at most 1000" in response.json()["error"]

    async def test_body_that_is_not_an_array_is_400_with_an_error_record(
        self, ingest: Ingest, tenant: str
    ) -> None:
        key = await ingest.api_key(tenant)
        response = await ingest.http.post(
            "/v1/events", content=b'{"x": 1}', headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 400
        record_id = response.json()["error_record_id"]
        records = await ingest.errors.wait_for(lambda r: r.key == tenant.encode(), 1)
        assert [ErrorRecord.model_validate_json(r.value).record_id for r in records] == [record_id]


class TestInvalidSamples:
    def test_the_table_covers_at_least_thirty_rules(self, tenant: str) -> None:
        assert len(samples(tenant)) >= 30

    async def test_every_invalid_sample_gets_its_reason_and_an_error_record(
        self, ingest: Ingest, tenant: str
    ) -> None:
        key = await ingest.api_key(tenant)
        table = samples(tenant)
        body = b"[" + b",".join(raw for _, raw, _ in table if raw.startswith((b'{"', b"["))) + b"]"
        http_table = [row for row in table if row[1].startswith((b'{"', b"["))]
        response = await ingest.http.post(
            "/v1/events", content=body, headers={"Authorization": f"Bearer {key}"}
        )
        results = response.json()["results"]
        for (rule, _, field), result in zip(http_table, results, strict=True):
            assert result["status"] == "rejected", rule
            assert any(r["field"] == field for r in result["reasons"]), (rule, result["reasons"])
        records = await ingest.errors.wait_for(lambda r: r.key == tenant.encode(), len(http_table))
        by_id = {ErrorRecord.model_validate_json(r.value).record_id: r for r in records}
        for (rule, raw, _), result in zip(http_table, results, strict=True):
            record = ErrorRecord.model_validate_json(by_id[result["error_record_id"]].value)
            assert record.payload == raw, rule
            assert record.category == "Validation"
            assert record.stage == "ingest"

    async def test_invalid_samples_on_the_topic_become_error_records(
        self, ingest: Ingest, kafka_bootstrap: str, tenant: str
    ) -> None:
        table = samples(tenant)
        await _produce(kafka_bootstrap, [raw for _, raw, _ in table], tenant.encode())
        claimed = [row for row in table if f'"tenant_id": "{tenant}"'.encode() in row[1]]
        records = await ingest.errors.wait_for(lambda r: r.key == tenant.encode(), len(claimed))
        payloads = {ErrorRecord.model_validate_json(r.value).payload for r in records}
        for rule, raw, _ in claimed:
            assert raw in payloads, rule


class TestGarbageOnTheTopic:
    async def test_garbage_becomes_an_error_record_and_the_consumer_keeps_going(
        self, ingest: Ingest, kafka_bootstrap: str, tenant: str
    ) -> None:
        garbage = b"\xff\xfe\x00 not an event " + uuid.uuid4().bytes
        good = json.dumps(make_invoice_issued(tenant_id=tenant)).encode()
        await _produce(kafka_bootstrap, [garbage, b"", good], tenant.encode())
        forwarded = await ingest.accepted.wait_for(lambda r: r.value == good, 1)
        assert len(forwarded) == 1
        # Other suites publish unreadable bytes to the errors topic too: match on raw bytes.
        marker = encode_payload(garbage).encode()
        records = await ingest.errors.wait_for(lambda r: marker in r.value, 1)
        [record] = [ErrorRecord.model_validate_json(r.value) for r in records]
        assert record.payload == garbage
        assert record.reasons[0].message.startswith("not UTF-8 JSON")


def _sign(body: bytes, token: str = WEBHOOK_TOKEN) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


class TestQboWebhook:
    BODY = json.dumps(
        {
            "eventNotifications": [
                {
                    "realmId": "4620816365",
                    "dataChangeEvent": {
                        "entities": [
                            {
                                "name": "Payment",
                                "id": "991",
                                "operation": "Create",
                                "lastUpdated": "2026-11-20T10:00:00-0700",
                            }
                        ]
                    },
                }
            ]
        }
    ).encode()

    async def test_forged_signature_is_refused(self, ingest: Ingest) -> None:
        forged = await ingest.http.post(
            "/v1/qbo/webhooks",
            content=self.BODY,
            headers={"intuit-signature": _sign(self.BODY, "guess")},
        )
        unsigned = await ingest.http.post("/v1/qbo/webhooks", content=self.BODY)
        assert (forged.status_code, unsigned.status_code) == (401, 401)

    async def test_signed_payment_notification_reaches_the_poster(self, ingest: Ingest) -> None:
        response = await ingest.http.post(
            "/v1/qbo/webhooks", content=self.BODY, headers={"intuit-signature": _sign(self.BODY)}
        )
        assert response.status_code == 200
        assert response.json() == {"queued": 1}
        [notice] = await ingest.commands.wait_for(lambda r: r.key == b"realm:4620816365", 1)
        assert json.loads(notice.value)["entity_id"] == "991"


class TestOperations:
    async def test_health_readiness_and_metrics(self, ingest: Ingest, tenant: str) -> None:
        assert (await ingest.http.get("/healthz")).json() == {"status": "ok"}
        assert (await ingest.http.get("/readyz")).json() == {"status": "ready"}
        key = await ingest.api_key(tenant)
        await ingest.http.post(
            "/v1/events",
            json=[make_payment_received(tenant_id=tenant, data={"amount": "1.001"})],
            headers={"Authorization": f"Bearer {key}"},
        )
        text = (await ingest.http.get("/metrics")).text
        assert 'qbsync_ingest_rejected_total{path="http",reason="data.amount"}' in text
        assert "qbsync_ingest_accepted_total" in text


class TestReplayOwnership:
    async def test_a_replayed_event_of_another_tenant_is_refused_not_forwarded(
        self, ingest: Ingest, kafka_bootstrap: str, tenant: str
    ) -> None:
        other = f"{tenant}-victim"
        raw = json.dumps(make_invoice_issued(tenant_id=other)).encode()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                INBOUND.name,
                raw,
                key=tenant.encode(),
                headers=[("qbsync-resync-of", b"r1"), ("qbsync-tenant", tenant.encode())],
            )
        finally:
            await producer.stop()
        [record] = await ingest.errors.wait_for(lambda r: r.key == tenant.encode(), 1)
        assert ErrorRecord.model_validate_json(record.value).reasons[0].field == "tenant_id"
        await asyncio.sleep(1)
        assert not ingest.accepted.keyed(other)
