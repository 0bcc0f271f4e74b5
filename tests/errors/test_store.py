"""Errors from every stage land in the store; a repeating failure updates one row."""

import pytest
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import QboFault, Stage
from qbsync_errors.app import SCHEMA
from qbsync_errors.models import Status

from tests.errors.conftest import Errors, auth, make_record

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

STAGE_CATEGORIES = [
    (Stage.INGEST, ErrorCategory.VALIDATION),
    (Stage.MAPPER, ErrorCategory.MAPPING),
    (Stage.POSTER, ErrorCategory.INVOICE),
    (Stage.POSTER, ErrorCategory.ACCOUNT),
    (Stage.POSTER, ErrorCategory.SERVICE),
]


class TestIntake:
    @pytest.mark.parametrize(("stage", "category"), STAGE_CATEGORIES)
    async def test_an_error_of_each_stage_lands_with_its_category(
        self, errors: Errors, tenant: str, stage: Stage, category: ErrorCategory
    ) -> None:
        key = await errors.key(tenant)
        record = make_record(
            tenant,
            stage=stage,
            category=category,
            qbo_fault=QboFault(code="6240", message="Duplicate Name Exists Error", detail="x")
            if stage is Stage.POSTER
            else None,
            command_id="cmd-1" if stage is Stage.POSTER else None,
        )
        await errors.publish(record)
        stored = await errors.wait_error(key, record.record_id)
        assert stored["category"] == category.value
        assert stored["stage"] == stage.value
        assert stored["status"] == Status.OPEN
        assert stored["attempts"] == 1
        assert stored["trace_id"] == record.trace_id
        assert stored["payload_b64"] == record.payload_b64
        assert stored["cause"] == record.cause
        assert stored["reasons"] == [r.model_dump() for r in record.reasons]
        if stage is Stage.POSTER:
            assert stored["qbo_fault"]["code"] == "6240"
            assert stored["command_id"] == "cmd-1"

    async def test_the_same_failure_twice_is_one_row_with_attempts_two(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        first = make_record(tenant)
        await errors.publish(first)
        await errors.wait_error(key, first.record_id)
        again = first.model_copy(update={"occurred_at": first.occurred_at.replace(year=2100)})
        await errors.publish(again)
        stored = await errors.wait_error(key, first.record_id, lambda e: e["attempts"] == 2)
        page = await errors.http.get("/v1/errors", headers=auth(key))
        assert [e["record_id"] for e in page.json()["items"]] == [first.record_id]
        assert stored["last_occurred_at"] > stored["first_occurred_at"]

    async def test_a_redelivered_message_does_not_count_as_another_attempt(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        record = make_record(tenant)
        marker = make_record(tenant)
        await errors.publish(record, record, marker)
        await errors.wait_error(key, marker.record_id)
        stored = await errors.wait_error(key, record.record_id)
        assert stored["attempts"] == 1

    async def test_a_resolved_error_that_fails_again_is_open_again(
        self, errors: Errors, tenant: str
    ) -> None:
        key = await errors.key(tenant)
        record = make_record(tenant)
        await errors.publish(record)
        await errors.wait_error(key, record.record_id)
        response = await errors.http.post(
            f"/v1/errors/{record.record_id}/resync", headers=auth(key)
        )
        assert response.json()["status"] == Status.RESOLVED
        await errors.publish(
            record.model_copy(update={"occurred_at": record.occurred_at.replace(year=2100)})
        )
        stored = await errors.wait_error(key, record.record_id, lambda e: e["attempts"] == 2)
        assert stored["status"] == Status.OPEN
        assert stored["resyncs"] == 1

    async def test_a_message_that_is_not_an_error_record_is_kept(
        self, errors: Errors, tenant: str
    ) -> None:
        import asyncpg

        marker = make_record(tenant)
        await errors.producer.send_and_wait(
            "qbsync.errors.v1", b"{not an error record " + tenant.encode(), key=tenant.encode()
        )
        await errors.publish(marker)
        await errors.wait_error(await errors.key(tenant), marker.record_id)
        conn = await asyncpg.connect(errors.settings.database_url)
        try:
            kept = await conn.fetchval(
                f"SELECT count(*) FROM {SCHEMA}.unreadable_records WHERE kafka_key = $1",  # noqa: S608
                tenant.encode(),
            )
        finally:
            await conn.close()
        assert kept == 1
