"""QBO webhooks for the opt-in payment back-sync (SET-7): signature check and parsing.

Intuit signs the raw body with HMAC-SHA256 keyed by the app's verifier token and
sends the base64 digest in `intuit-signature`. Both payload formats are read: the
legacy `eventNotifications` object and the CloudEvents array.
"""

import base64
import hashlib
import hmac
import json
from typing import Any

from qbsync_core.records import QboPaymentNotice


def signature_is_valid(body: bytes, signature: str | None, verifier_token: str) -> bool:
    """True when `signature` is the base64 HMAC-SHA256 of `body` under `verifier_token`."""
    if not signature:
        return False
    expected = base64.b64encode(hmac.new(verifier_token.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode())


def payment_notices(body: bytes) -> list[QboPaymentNotice]:
    """The Payment changes a webhook body announces.

    Raises:
        ValueError: the body is not one of Intuit's two webhook formats.
    """
    payload: Any = json.loads(body)
    if isinstance(payload, dict) and isinstance(payload.get("eventNotifications"), list):
        return _legacy(payload["eventNotifications"])
    if isinstance(payload, list):
        return _cloudevents(payload)
    raise ValueError("not a QBO webhook payload (neither eventNotifications nor CloudEvents)")


def _legacy(notifications: list[Any]) -> list[QboPaymentNotice]:
    notices: list[QboPaymentNotice] = []
    for notification in notifications:
        realm = str(notification.get("realmId", ""))
        entities = (notification.get("dataChangeEvent") or {}).get("entities") or []
        notices.extend(
            QboPaymentNotice(
                realm_id=realm,
                entity_id=str(entity["id"]),
                operation=str(entity.get("operation", "")),
                last_updated=entity.get("lastUpdated"),
            )
            for entity in entities
            if entity.get("name") == "Payment" and realm and entity.get("id")
        )
    return notices


def _cloudevents(events: list[Any]) -> list[QboPaymentNotice]:
    notices: list[QboPaymentNotice] = []
    for event in events:
        kind = str(event.get("type", "")) if isinstance(event, dict) else ""
        parts = kind.split(".")  # qbo.payment.created.v1
        if len(parts) >= 3 and parts[0] == "qbo" and parts[1] == "payment":
            realm, entity_id = event.get("intuitaccountid"), event.get("intuitentityid")
            if realm and entity_id:
                notices.append(
                    QboPaymentNotice(
                        realm_id=str(realm),
                        entity_id=str(entity_id),
                        operation=parts[2].capitalize(),
                        last_updated=event.get("time"),
                    )
                )
    return notices
