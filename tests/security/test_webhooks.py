"""Forged webhooks are refused: Intuit's notices to ingest, and qbsync's own to receivers.

QBO's payment notices reach the poster only through ingest's signed receiver
(`POST /v1/qbo/webhooks` -> `qbo.payment.changed` on qbsync.commands.v1): the poster
has no webhook endpoint of its own, so a forged notice refused here never reaches it.
"""

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
from qbsync_errors.notify import sign, verify

from tests.fixtures.apps import WEBHOOK_VERIFIER
from tests.security.conftest import Stack

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def _notice(realm: str) -> bytes:
    entity = {"name": "Payment", "id": "77", "operation": "Create"}
    body = {"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": [entity]}}]}
    return json.dumps(body).encode()


def _signature(body: bytes, token: str = WEBHOOK_VERIFIER) -> str:
    return base64.b64encode(hmac.new(token.encode(), body, hashlib.sha256).digest()).decode()


async def test_forged_qbo_webhooks_are_refused_and_reach_no_one(stack: Stack) -> None:
    realm = f"forged-{uuid.uuid4().hex[:8]}"
    body = _notice(realm)
    tampered = body.replace(b'"77"', b'"78"')
    forgeries = {
        "no signature": {},
        "empty signature": {"intuit-signature": ""},
        "garbage": {"intuit-signature": "not base64 at all!"},
        "another body's signature": {"intuit-signature": _signature(_notice("other"))},
        "wrong verifier token": {"intuit-signature": _signature(body, "guessed-token")},
        "hex instead of base64": {
            "intuit-signature": hmac.new(WEBHOOK_VERIFIER.encode(), body, "sha256").hexdigest()
        },
    }
    for what, headers in forgeries.items():
        resp = await stack.ingest.http.post("/v1/qbo/webhooks", content=body, headers=headers)
        assert resp.status_code == 401, what
    signed_original = {"intuit-signature": _signature(body)}
    resp = await stack.ingest.http.post(
        "/v1/qbo/webhooks", content=tampered, headers=signed_original
    )
    assert resp.status_code == 401, "a signed body changed by one byte"
    # The control: the genuine notice goes through, and only it reaches the poster's topic.
    genuine = await stack.ingest.http.post(
        "/v1/qbo/webhooks", content=body, headers=signed_original
    )
    assert genuine.status_code == 200, genuine.text
    # Same key, same partition: a forged notice published earlier would be read before
    # the genuine one, so once that is here everything sent for the realm is.
    found = await stack.commands.wait_for(lambda r: r.key == f"realm:{realm}".encode(), 1)
    assert [json.loads(r.value or b"{}")["entity_id"] for r in found] == ["77"]


def test_receivers_can_tell_forged_notifications_of_the_errors_service() -> None:
    secret, body = "whsec-for-tests", b'{"kind": "errors.digest"}'
    now = int(time.time())
    header = sign(secret, now, body)
    assert verify(secret, header, body)
    assert not verify("another-secret", header, body)
    assert not verify(secret, header, body + b" ")
    assert not verify(secret, sign(secret, now - 3600, body), body), "a replay an hour later"
    assert not verify(secret, f"t={now},v1=" + "0" * 64, body)
    assert not verify(secret, "", body)
