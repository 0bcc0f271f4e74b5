"""Fuzz of ingest's Kafka intake (qbsync.inbound.v1): random and mutated messages.

`messages` makes the cases (seeded, so a failure can be replayed): valid events,
random bytes, truncated and byte-flipped events, JSON mutations (wrong types,
missing fields, huge strings and numbers, deep nesting, NULs, lone surrogates,
thousands of invalid lines), non-objects, oversized payloads, empty and null
values, and bad headers (garbage trace context, non-UTF-8 values, a forged or
malformed replay owner).

`judge` then checks the promise of the intake: every message ends as an accepted
event (its exact bytes on qbsync.accepted.v1), or an error record on
qbsync.errors.v1 that keeps its bytes (the head of an oversized one), or, for a
valid event whose dedupe key was taken, a duplicate. Anything else is lost.
"""

import base64
import copy
import functools
import json
import random
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import ConsumerRecord
from qbsync_ingest.rules import MAX_EVENT_BYTES, MAX_KEPT_PAYLOAD_BYTES, Valid, validate

MAX_MESSAGE_BYTES = 900_000  # under the broker's 1 MB message limit, headers included


@dataclass(frozen=True)
class Message:
    """One produced case."""

    kind: str
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    key: bytes | None = None

    @property
    def payload(self) -> bytes:
        """The bytes ingest takes in (a null value is an empty payload)."""
        return self.value or b""

    @property
    def kept(self) -> bytes:
        """What an error record of this message keeps."""
        return (
            self.payload
            if len(self.payload) <= MAX_EVENT_BYTES
            else self.payload[:MAX_KEPT_PAYLOAD_BYTES]
        )


def _customer() -> dict[str, Any]:
    return {"ref": "guest-17", "name": "Ana O'Neil", "email": "ana@example.com", "currency": "USD"}


def _bases(tenant: str) -> list[dict[str, Any]]:
    envelope = {
        "spec": "qbsync.event/1",
        "tenant_id": tenant,
        "source": "fuzz",
        "occurred_at": "2026-11-20T18:30:00+00:00",
    }
    line = {"description": "Room", "quantity": "2", "unit_price": "120.00", "amount": "240.00"}
    return [
        {
            **envelope,
            "type": "invoice.issued",
            "data": {
                "ref": "folio-1",
                "number": "1001",
                "customer": _customer(),
                "currency": "USD",
                "issue_date": "2026-11-20",
                "lines": [line],
                "tax_total": "0",
                "total": "240.00",
            },
        },
        {
            **envelope,
            "type": "payment.received",
            "data": {
                "ref": "pay-1",
                "customer": _customer(),
                "currency": "USD",
                "amount": "240.00",
                "method": "card",
                "received_at": "2026-11-20T19:00:00+00:00",
                "invoice_ref": "folio-1",
            },
        },
        {
            **envelope,
            "type": "payout.settled",
            "data": {
                "ref": "po_1",
                "processor": "stripe",
                "currency": "USD",
                "arrival_date": "2026-11-21",
                "lines": [{"revenue_category": "Rooms", "amount": "500.00"}],
                "fees": "14.80",
                "net": "485.20",
            },
        },
        {**envelope, "type": "invoice.voided", "data": {"ref": "folio-1"}},
        {**envelope, "type": "customer.upserted", "data": {"customer": _customer()}},
    ]


def _event(rng: random.Random, tenant: str) -> dict[str, Any]:
    event = copy.deepcopy(rng.choice(_bases(tenant)))
    event["event_id"] = str(uuid.UUID(int=rng.getrandbits(128)))
    return event


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _odd_value(rng: random.Random) -> Any:
    choices: list[Any] = [
        None,
        True,
        0,
        -1,
        10**30,
        1e308,
        "",
        "x" * rng.randint(1, 5000),
        "\x00",
        "caf\u00e9 \u2019 \U0001f600",
        [],
        {},
        [1, "a", None],
        {"nested": {"deeper": [{}]}},
        "2026-13-45",
        "NaN",
        "-0.000",
        "1e999",
    ]
    return rng.choice(choices)


def _mutate(rng: random.Random, event: dict[str, Any]) -> dict[str, Any]:
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_paths(event))
        parent: Any = event
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and rng.random() < 0.3:
            del parent[path[-1]]
        else:
            parent[path[-1]] = _odd_value(rng)
    return event


def _dumps(value: Any) -> bytes:
    # Non-ASCII stays raw UTF-8, as most producers send it.
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _case(rng: random.Random, tenant: str, kind: str) -> Message:
    event = _event(rng, tenant)
    raw = _dumps(event)
    if kind == "valid":
        return Message(kind, raw, key=tenant.encode())
    if kind == "garbage":
        return Message(kind, rng.randbytes(rng.randint(1, 3000)))
    if kind == "truncated":
        return Message(kind, raw[: rng.randint(1, len(raw) - 1)])
    if kind == "flipped":
        data = bytearray(raw)
        for _ in range(rng.randint(1, 5)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return Message(kind, bytes(data))
    if kind == "mutated":
        return Message(kind, _dumps(_mutate(rng, event)), key=tenant.encode())
    if kind == "not-an-object":
        value = rng.choice([[event], 42, "event", None, True, [], "", 1.5])
        return Message(kind, _dumps(value))
    if kind == "huge-string":
        event["data"]["ref"] = "r" * rng.randint(100_000, 480_000)
        return Message(kind, _dumps(event))
    if kind == "oversized":
        event["data"]["padding"] = "p" * rng.randint(MAX_EVENT_BYTES, MAX_MESSAGE_BYTES - 2000)
        return Message(kind, _dumps(event))
    if kind == "deep":
        depth = rng.randint(1_000, 100_000)
        return Message(kind, b"[" * depth + b"]" * depth)
    if kind == "many-bad-lines":
        event["data"]["lines"] = [{}] * rng.randint(1_000, 60_000)
        return Message(kind, _dumps(event))
    if kind == "huge-tag":
        event["type"] = "t" * rng.randint(100_000, 450_000)
        return Message(kind, _dumps(event))
    if kind == "escapes":
        text = raw.decode()
        text = text.replace('"Ana', '"\\ud800Ana' if rng.random() < 0.5 else '"\\u0000Ana')
        return Message(kind, text.encode())
    if kind == "empty":
        return Message(kind, rng.choice([b"", None, b" ", b"\n"]), key=b"k")  # one is needed
    if kind == "bad-headers":
        headers = rng.choice(
            [
                (("traceparent", b"00-zz-not-a-trace-01"),),
                (("traceparent", rng.randbytes(40)),),
                (("tracestate", b"\xff\xfe" * 100),),
                (("qbsync-tenant", b"\xff\x00bad"),),
                (("qbsync-tenant", b"x" * 200_000),),
                (("qbsync-tenant", b"someone-else"),),
                (("qbsync-tenant", tenant.encode()),),
                (("content-type", b"text/plain"), ("content-type", b"application/json")),
                (("", b""),),
            ]
        )
        return Message(kind, raw if rng.random() < 0.7 else raw[:-3], headers, rng.randbytes(8))
    raise ValueError(kind)


KINDS: dict[str, int] = {
    # kind -> weight; the heavy ones are rare so 10,000 cases stay a few minutes.
    "valid": 20,
    "garbage": 12,
    "truncated": 12,
    "flipped": 12,
    "mutated": 25,
    "not-an-object": 4,
    "escapes": 4,
    "empty": 2,
    "bad-headers": 8,
    "huge-string": 1,
    "oversized": 1,
    "deep": 1,
    "many-bad-lines": 1,
    "huge-tag": 1,
}


def messages(seed: int, count: int, tenant: str) -> list[Message]:
    """`count` cases for `tenant`, every kind at least once (when count allows)."""
    rng = random.Random(seed)
    kinds = list(KINDS)
    chosen = kinds[: min(count, len(kinds))]
    chosen += rng.choices(kinds, weights=list(KINDS.values()), k=count - len(chosen))
    return [_case(rng, tenant, kind) for kind in chosen]


@dataclass
class Verdict:
    """How the cases ended."""

    accepted: int = 0
    rejected: int = 0
    duplicate: int = 0
    lost: list[Message] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.accepted + self.rejected + self.duplicate + len(self.lost)

    def by_kind(self) -> dict[str, int]:
        """Lost cases per kind."""
        return dict(Counter(m.kind for m in self.lost))


def _dedupe_key(payload: bytes) -> tuple[str, str, str] | None:
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    parts = (value.get("tenant_id"), value.get("source"), value.get("event_id"))
    return parts if all(isinstance(p, str) for p in parts) else None  # type: ignore[return-value]


def count_payloads(
    accepted: Iterable[ConsumerRecord[bytes, bytes]],
    errors: Iterable[ConsumerRecord[bytes, bytes]],
    forwarded: Counter[bytes],
    recorded: Counter[bytes],
) -> None:
    """Add the payloads forwarded, and those kept by ingest error records, to the counts."""
    forwarded.update(r.value or b"" for r in accepted)
    for record in errors:
        try:
            body = json.loads(record.value or b"{}")
            if body.get("stage") == "ingest":
                recorded[base64.b64decode(body["payload_b64"])] += 1
        except (ValueError, KeyError, TypeError):
            continue


@functools.cache
def is_valid(payload: bytes) -> bool:
    """Whether ingest accepts `payload` (cached: the judge asks again and again)."""
    return isinstance(validate(payload), Valid)


def judge(
    cases: Iterable[Message],
    forwarded: Counter[bytes],
    recorded: Counter[bytes],
    seen_keys: set[tuple[str, str, str]],
) -> Verdict:
    """Match each case to an outcome; `seen_keys` are the dedupe keys already taken."""
    forwarded, recorded = forwarded.copy(), recorded.copy()
    verdict = Verdict()
    for case in cases:
        if forwarded[case.payload] > 0:
            forwarded[case.payload] -= 1
            verdict.accepted += 1
        elif recorded[case.kept] > 0:
            recorded[case.kept] -= 1
            verdict.rejected += 1
        elif is_valid(case.payload) and _dedupe_key(case.payload) in seen_keys:
            verdict.duplicate += 1
        else:
            verdict.lost.append(case)
    return verdict
