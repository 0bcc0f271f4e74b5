"""One intake path for Kafka and HTTP: validate, dedupe, forward, record every rejection.

`intake` takes its dependencies as arguments (a pool and a `Forwarder`), so tests
call it directly. Exactly-once forwarding: the dedupe rows are inserted in the
same transaction that waits for the broker to acknowledge the forwarded events;
if forwarding fails the rows roll back and a redelivery or retry forwards again.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Protocol

import asyncpg
import structlog
from qbsync_core.errors import INFRASTRUCTURE_ERRORS, InfrastructureFailure
from qbsync_core.records import ErrorRecord, Reason

from qbsync_ingest.metrics import IntakeMetrics, reason_label
from qbsync_ingest.rules import (
    Invalid,
    Valid,
    claimed_tenant,
    decode_quietly,
    error_record,
    kept_payload,
    validate,
    validate_decoded,
)
from qbsync_ingest.storage import claim_new_events

log = structlog.get_logger()


class Status(StrEnum):
    """What happened to one submitted event."""

    ACCEPTED = "accepted"
    """Valid and new: forwarded to the mapper."""
    DUPLICATE = "duplicate"
    """Seen before (same tenant, source, event_id): acknowledged, not forwarded again."""
    REJECTED = "rejected"
    """Broke the contract: not forwarded; an error record was published."""


@dataclass(frozen=True)
class Outcome:
    """The answer for one submitted event."""

    status: Status
    event_id: str | None = None
    reasons: tuple[Reason, ...] = ()
    record_id: str | None = None


@dataclass(frozen=True)
class Submitted:
    """One event as received: its exact bytes, and its decoded value when already parsed."""

    raw: bytes
    decoded: Any = None
    parsed: bool = False
    carrier: Mapping[str, str] = field(default_factory=dict)
    """Trace context headers (traceparent, tracestate) of the inbound message."""
    owner: str | None = None
    """The only tenant this event may belong to (a replay of another tenant's error)."""


class Forwarder(Protocol):
    """Where intake sends its results; each call returns once the broker has them."""

    async def accepted(self, events: Sequence[Valid]) -> None:
        """Publish valid events to qbsync.accepted.v1."""

    async def errors(self, records: Sequence[ErrorRecord]) -> None:
        """Publish error records to qbsync.errors.v1."""


def _check(item: Submitted, key_tenant: str | None) -> Valid | Invalid:
    key_tenant = item.owner or key_tenant
    result = validate_decoded(item.raw, item.decoded) if item.parsed else validate(item.raw)
    if item.carrier and isinstance(result, Valid):
        result = replace(result, carrier=item.carrier)
    if (
        key_tenant is not None
        and isinstance(result, Valid)
        and result.event.tenant_id != key_tenant
    ):
        reason = Reason(
            field="tenant_id",
            message=f"this API key may only submit events for tenant {key_tenant!r}",
        )
        return Invalid(item.raw, (reason,), item.decoded)
    return result


async def intake(
    pool: asyncpg.Pool,
    forwarder: Forwarder,
    items: Sequence[Submitted],
    *,
    path: str,
    key_tenant: str | None = None,
    trace_id: str | None = None,
    metrics: IntakeMetrics | None = None,
) -> list[Outcome]:
    """Validate, dedupe and forward `items`; return one outcome per item, in order.

    Args:
        pool: the ingest schema's pool.
        forwarder: publishes accepted events and error records.
        items: the events as received.
        path: "kafka" or "http".
        key_tenant: on HTTP, the API key's tenant: events for other tenants are rejected.
        trace_id: the current trace id, kept in error records.
        metrics: counters to update.

    Raises:
        InfrastructureFailure: the database or broker failed; nothing was forwarded
            or recorded as seen, so the whole call can be retried.
    """
    checked = [_check(item, key_tenant) for item in items]
    outcomes: list[Outcome | None] = [None] * len(items)
    records: list[ErrorRecord] = []
    first_of: dict[tuple[str, str, str], int] = {}
    candidates: list[Valid] = []
    for index, result in enumerate(checked):
        if isinstance(result, Invalid):
            owner = items[index].owner or key_tenant
            record = error_record(
                result, tenant_id=owner or claimed_tenant(result), trace_id=trace_id
            )
            records.append(record)
            outcomes[index] = Outcome(
                Status.REJECTED, record.event_id, result.reasons, record.record_id
            )
        elif result.key in first_of:
            outcomes[index] = Outcome(Status.DUPLICATE, result.event.event_id)
        else:
            first_of[result.key] = index
            candidates.append(result)
    try:
        if records:
            await forwarder.errors(records)
        new = await _forward_new(pool, forwarder, candidates, path)
    except INFRASTRUCTURE_ERRORS as exc:
        raise InfrastructureFailure(f"intake could not complete: {exc!r}") from exc
    except Exception as exc:  # noqa: BLE001 - see _unforeseen
        return await _unforeseen(forwarder, items, key_tenant, trace_id, exc)
    for key, index in first_of.items():
        status = Status.ACCEPTED if key in new else Status.DUPLICATE
        outcomes[index] = Outcome(status, key[2])
    final = [o for o in outcomes if o is not None]
    if metrics is not None:
        _count(metrics, final, path)
    return final


async def _forward_new(
    pool: asyncpg.Pool, forwarder: Forwarder, candidates: list[Valid], path: str
) -> set[tuple[str, str, str]]:
    if not candidates:
        return set()
    keys = [(*v.key, hashlib.sha256(v.raw).digest()) for v in candidates]
    async with pool.acquire() as conn, conn.transaction():
        new = await claim_new_events(conn, keys, path)
        await forwarder.accepted([v for v in candidates if v.key in new])
    return new


async def _unforeseen(
    forwarder: Forwarder,
    items: Sequence[Submitted],
    key_tenant: str | None,
    trace_id: str | None,
    exc: Exception,
) -> list[Outcome]:
    # A bug or an input no rule foresaw. Raising would let the consumer commit the
    # batch (AckPolicy.ACK) and lose it; instead every event of the batch becomes a
    # retriable error record, replayable with resync once the cause is fixed.
    log.exception("intake failed unexpectedly; the batch is kept as error records")
    reason = Reason(field="", message=f"internal error while taking this event in: {exc!r}"[:500])
    records = []
    for item in items:
        decoded = item.decoded if item.parsed else decode_quietly(item.raw)
        invalid = Invalid(kept_payload(item.raw), (reason,), decoded)
        tenant = item.owner or key_tenant or claimed_tenant(invalid)
        records.append(
            error_record(invalid, tenant_id=tenant, trace_id=trace_id).model_copy(
                update={"retriable": True}
            )
        )
    try:
        await forwarder.errors(records)
    except INFRASTRUCTURE_ERRORS as failure:
        raise InfrastructureFailure(f"intake could not record a failure: {failure!r}") from exc
    return [Outcome(Status.REJECTED, r.event_id, (reason,), r.record_id) for r in records]


def _count(metrics: IntakeMetrics, outcomes: list[Outcome], path: str) -> None:
    for outcome in outcomes:
        if outcome.status is Status.ACCEPTED:
            metrics.accepted.labels(path).inc()
        elif outcome.status is Status.DUPLICATE:
            metrics.duplicate.labels(path).inc()
        else:
            metrics.rejected.labels(path, reason_label(outcome.reasons[0].field)).inc()
