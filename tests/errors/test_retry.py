"""Automatic retries on a capped backoff; skip stops them; a failing connection pauses."""

import asyncio
import json
from datetime import datetime, timedelta

import pytest
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import (
    CONNECTION_FIELD,
    OperatorAction,
    OperatorActionType,
    Reason,
    Stage,
)

from tests.errors.conftest import Errors, auth, make_record, serve
from tests.errors.receiver import Receiver

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def _later(occurred_at: datetime, seconds: int) -> dict[str, object]:
    """A model_copy update: the same failure reported again, `seconds` later."""
    return {"occurred_at": occurred_at + timedelta(seconds=seconds)}


class TestAutomaticRetry:
    async def test_retriable_errors_are_retried_with_backoff_until_the_cap(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        record = make_record(tenant, retriable=True)
        await errors.publish(record)
        mine = lambda r: r.key == tenant.encode()  # noqa: E731
        first = await errors.accepted.wait_for(mine, 1, timeout=5)
        assert dict(first[0].headers)["qbsync-resync-attempt"] == b"1"
        stored = await errors.wait_error(key, record.record_id, lambda e: e["status"] == "resolved")
        assert stored["resolution"] == "auto-retry"
        # The stage fails again: reopened, and retried after a longer delay (0.3 s * 2).
        await errors.publish(record.model_copy(update=_later(record.occurred_at, 1)))
        reopened = await errors.wait_error(key, record.record_id, lambda e: e["attempts"] == 2)
        assert reopened["next_retry_at"] is not None
        await errors.accepted.wait_for(mine, 2, timeout=5)
        # Third failure: the cap (2 automatic retries) is reached; it waits for an operator.
        await errors.publish(record.model_copy(update=_later(record.occurred_at, 2)))
        waiting = await errors.wait_error(
            key, record.record_id, lambda e: e["attempts"] == 3 and e["status"] == "open"
        )
        assert waiting["next_retry_at"] is None
        assert waiting["auto_retries"] == 2
        await asyncio.sleep(1.0)
        assert len(errors.accepted.matching(mine)) == 2
        audit = (
            await errors.http.get(f"/v1/audit?record_id={record.record_id}", headers=auth(key))
        ).json()
        assert [a["action"] for a in audit] == ["auto_retry", "auto_retry"]
        assert {a["key_id"] for a in audit} == {"system"}

    async def test_skip_stops_retries_even_when_the_failure_repeats(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        record = make_record(tenant, retriable=True)
        await errors.publish(record)
        await errors.wait_error(key, record.record_id)
        skipped = await errors.http.post(f"/v1/errors/{record.record_id}/skip", headers=auth(key))
        assert skipped.json()["status"] == "skipped"
        mine = lambda r: r.key == tenant.encode()  # noqa: E731
        replays_before = len(errors.accepted.matching(mine))
        await errors.publish(record.model_copy(update=_later(record.occurred_at, 1)))
        stored = await errors.wait_error(key, record.record_id, lambda e: e["attempts"] == 2)
        assert stored["status"] == "skipped"
        assert stored["next_retry_at"] is None
        await asyncio.sleep(1.0)
        assert len(errors.accepted.matching(mine)) == replays_before


class TestConnectionPause:
    async def test_a_failing_connection_pauses_the_tenant_with_one_notice(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        receiver = Receiver()
        async with serve(receiver) as base:
            hook = await errors.http.post(
                f"/v1/tenants/{tenant}/webhooks", json={"url": f"{base}/hook"}, headers=auth(key)
            )
            assert hook.status_code == 201
            failure = make_record(
                tenant,
                stage=Stage.POSTER,
                category=ErrorCategory.ACCOUNT,
                reasons=[Reason(field=CONNECTION_FIELD, message="AuthenticationFailed (3200)")],
            )
            await errors.publish(failure)
            await errors.wait_error(key, failure.record_id)
            deadline = asyncio.get_running_loop().time() + 10
            while asyncio.get_running_loop().time() < deadline:
                counts = (await errors.http.get("/v1/errors/counts", headers=auth(key))).json()
                if counts["paused_tenants"] == [tenant]:
                    break
                await asyncio.sleep(0.1)
            assert counts["paused_tenants"] == [tenant]
            notices = await receiver.wait("/hook", 2)
            kinds = [json.loads(n.body)["kind"] for n in notices]
            assert sorted(kinds) == ["errors.digest", "tenant.paused"]  # jobs race: any order
            # While paused, further failures are stored but neither retried nor notified.
            more = make_record(tenant, retriable=True)
            await errors.publish(more)
            await errors.wait_error(key, more.record_id)
            await asyncio.sleep(1.5)
            assert len(receiver.at("/hook")) == 2
            assert not errors.accepted.keyed(tenant)
            resumed = await errors.http.post(f"/v1/tenants/{tenant}/resume", headers=auth(key))
            assert resumed.status_code == 204
            stored = await errors.wait_error(key, failure.record_id)
            assert (stored["status"], stored["resolution"]) == ("resolved", "resynced")
        # Resume replays the command that failed while the connection was broken, after
        # the resume action: resolving it without a replay would lose it.
        await errors.commands.wait_for(lambda r: r.key == tenant.encode(), 3)
        records = errors.commands.keyed(tenant)
        actions = [OperatorAction.model_validate_json(r.value).action for r in records[:2]]
        assert actions == [OperatorActionType.PAUSE_TENANT, OperatorActionType.RESUME_TENANT]
        replayed = records[2]
        assert dict(replayed.headers)["qbsync-resync-of"] == failure.record_id.encode()
        assert replayed.value == failure.payload
        assert len(records) == 3  # the mapper-stage failure is not a connection error
