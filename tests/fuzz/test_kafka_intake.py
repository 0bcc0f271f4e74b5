"""Reduced Kafka intake fuzz (the full form, 10,000 cases, is bench/fuzz/run.py).

Every random or mutated message on qbsync.inbound.v1 must end as an accepted event
or an error record: none lost, and the consumer keeps going (a valid event sent
after all the others is accepted too).
"""

import json
import os
import uuid

import pytest
from qbsync_ingest.rules import Invalid, error_record, validate

from bench.fuzz.driver import fuzz_inbound
from bench.fuzz.kafka_intake import KINDS, messages
from tests.fuzz.conftest import Fuzzed

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CASES = 300
SEED = int(os.environ.get("QBSYNC_FUZZ_SEED", "20261123"))


async def test_every_fuzzed_inbound_message_is_accepted_or_recorded(fuzzed: Fuzzed) -> None:
    tenant = f"fz-{uuid.uuid4().hex[:10]}"
    cases = messages(SEED, CASES, tenant)
    cases += messages(SEED + 1, 1, tenant)  # the sentinel: shows the consumer went on
    assert {c.kind for c in cases} == set(KINDS)
    verdict = await fuzz_inbound(fuzzed.infra.kafka, fuzzed.infra.database_url, cases, 90.0)
    lost = [(c.kind, (c.value or b"")[:120], c.headers[:1]) for c in verdict.lost]
    assert lost == [], f"seed {SEED}: {len(lost)} of {len(cases)} lost"
    assert verdict.accepted > 0
    assert verdict.rejected > 0


def test_an_event_breaking_thousands_of_rules_makes_an_error_record_kafka_takes() -> None:
    # Found by the fuzz: 60,000 empty lines made a 21 MB record, refused by the producer
    # (over 1 MB), so the batch was retried forever and the partition stalled.
    event = {
        "spec": "qbsync.event/1",
        "event_id": "e-many",
        "tenant_id": "fz-lines",
        "source": "fuzz",
        "type": "invoice.issued",
        "occurred_at": "2026-11-20T10:00:00+00:00",
        "data": {"lines": [{}] * 60_000},
    }
    result = validate(json.dumps(event).encode())
    assert isinstance(result, Invalid)
    record = error_record(result, tenant_id="fz-lines", trace_id=None)
    assert len(record.model_dump_json()) < 1_000_000
    assert record.reasons[-1].message.endswith("more problems not listed")
