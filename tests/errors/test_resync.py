"""Resync replays the original payload to the topic of the stage that failed."""

import pytest
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import Stage

from tests.errors.conftest import Errors, auth, make_record
from tests.fixtures.kafka_tap import TopicTap

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CASES = [
    (Stage.INGEST, ErrorCategory.VALIDATION, "inbound"),
    (Stage.MAPPER, ErrorCategory.MAPPING, "accepted"),
    (Stage.POSTER, ErrorCategory.INVOICE, "commands"),
]


class TestResync:
    @pytest.mark.parametrize(("stage", "category", "topic"), CASES)
    async def test_resync_republishes_the_payload_to_the_failing_stages_topic(
        self, errors: Errors, tenant: str, stage: Stage, category: ErrorCategory, topic: str
    ) -> None:
        key = await errors.key(tenant)
        record = make_record(tenant, stage=stage, category=category, event_id="e-1", source="crm")
        await errors.publish(record)
        await errors.wait_error(key, record.record_id)
        tap: TopicTap = getattr(errors, topic)
        for attempt in (1, 2):
            response = await errors.http.post(
                f"/v1/errors/{record.record_id}/resync", headers=auth(key)
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "resolved"
            assert response.json()["resyncs"] == attempt
            replays = await tap.wait_for(lambda r: r.key == tenant.encode(), attempt)
            assert len(replays) == attempt
            replay = replays[-1]
            assert replay.value == record.payload
            headers = dict(replay.headers)
            assert headers["qbsync-resync-of"] == record.record_id.encode()
            assert headers["qbsync-resync-attempt"] == str(attempt).encode()
            assert headers["qbsync-event-id"] == b"e-1"
            assert record.trace_id is not None
            assert record.trace_id.encode() in headers["traceparent"]
        for other in {"inbound", "accepted", "commands"} - {topic}:
            assert not getattr(errors, other).keyed(tenant)

    async def test_an_unknown_id_is_404(self, errors: Errors, tenant: str) -> None:
        key = await errors.key(tenant)
        response = await errors.http.post("/v1/errors/nope/resync", headers=auth(key))
        assert response.status_code == 404
        assert response.json() == {"error": "no error nope"}
