"""Notifications: signed digests to a real webhook receiver, retried, never for skipped errors."""

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from qbsync_errors.notify import SIGNATURE_HEADER, verify

from tests.errors.conftest import Errors, auth, make_record, serve
from tests.errors.receiver import Receiver

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    hooks = Receiver()
    async with serve(hooks) as base:
        yield hooks, base


async def _webhook(errors: Errors, key: str, tenant: str, url: str) -> str:
    response = await errors.http.post(
        f"/v1/tenants/{tenant}/webhooks", json={"url": url}, headers=auth(key)
    )
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    listed = await errors.http.get(f"/v1/tenants/{tenant}/webhooks", headers=auth(key))
    assert "secret" not in listed.json()[0]
    return secret


def _ids(bodies: list[bytes]) -> set[str]:
    return {e["record_id"] for b in bodies for e in json.loads(b)["new_errors"]}


class TestDigest:
    async def test_a_signed_digest_of_new_errors_arrives_err5(
        self, errors: Errors, tenant: str, receiver: tuple[Receiver, str]
    ) -> None:
        hooks, base = receiver
        key = await errors.key(tenant)
        path = f"/{tenant}"
        secret = await _webhook(errors, key, tenant, f"{base}{path}")
        records = [make_record(tenant) for _ in range(3)]
        await errors.publish(*records)
        deadline = asyncio.get_running_loop().time() + 10
        while _ids([r.body for r in hooks.at(path)]) != {r.record_id for r in records}:
            assert asyncio.get_running_loop().time() < deadline, hooks.at(path)
            await asyncio.sleep(0.05)
        for request in hooks.at(path):
            assert verify(secret, request.headers[SIGNATURE_HEADER], request.body)
            assert not verify("whsec_wrong", request.headers[SIGNATURE_HEADER], request.body)
            body = json.loads(request.body)
            assert body["kind"] == "errors.digest"
            assert body["tenant_id"] == tenant
            assert body["delivery_id"] == request.headers["qbsync-delivery-id"]
            assert body["open_by_category"]["Mapping"] >= 1
        # Batched: three errors published together do not make three digests.
        assert len(hooks.at(path)) < 3

    async def test_a_failed_delivery_is_retried_with_the_same_body(
        self, errors: Errors, tenant: str, receiver: tuple[Receiver, str]
    ) -> None:
        hooks, base = receiver
        key = await errors.key(tenant)
        path = f"/{tenant}"
        hooks.failures[path] = 2
        secret = await _webhook(errors, key, tenant, f"{base}{path}")
        record = make_record(tenant)
        await errors.publish(record)
        [delivered] = await hooks.wait(path, 1)
        failed = hooks.at(path, 500)
        assert len(failed) == 2
        assert {r.body for r in failed} == {delivered.body}
        assert {r.headers["qbsync-delivery-id"] for r in failed} == {
            delivered.headers["qbsync-delivery-id"]
        }
        assert verify(secret, delivered.headers[SIGNATURE_HEADER], delivered.body)
        deliveries = (
            await errors.http.get(f"/v1/tenants/{tenant}/deliveries", headers=auth(key))
        ).json()
        assert [(d["status"], d["attempts"]) for d in deliveries] == [("delivered", 3)]

    async def test_skipped_errors_are_never_notified_err3_err5(
        self, errors: Errors, tenant: str, receiver: tuple[Receiver, str]
    ) -> None:
        hooks, base = receiver
        key = await errors.key(tenant)
        path = f"/{tenant}"
        await _webhook(errors, key, tenant, f"{base}{path}")
        first = make_record(tenant)
        await errors.publish(first)
        await hooks.wait(path, 1)
        # The next digest is at least a second away: skip one error before it is built.
        skipped, kept = make_record(tenant), make_record(tenant)
        await errors.publish(skipped)
        await errors.wait_error(key, skipped.record_id)
        response = await errors.http.post(f"/v1/errors/{skipped.record_id}/skip", headers=auth(key))
        assert response.json()["status"] == "skipped"
        await errors.publish(kept)
        await hooks.wait(path, 2)
        bodies = [r.body for r in hooks.at(path)]
        assert _ids(bodies) == {first.record_id, kept.record_id}
        # Failing again while skipped does not notify either.
        await errors.publish(
            skipped.model_copy(update={"occurred_at": skipped.occurred_at.replace(year=2100)})
        )
        await errors.wait_error(key, skipped.record_id, lambda e: e["attempts"] == 2)
        await asyncio.sleep(1.5)
        assert skipped.record_id not in _ids([r.body for r in hooks.at(path)])
