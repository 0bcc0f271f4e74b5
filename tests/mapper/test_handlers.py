"""The accepted-events handler: infrastructure failures nack the batch after a pause."""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from faststream.exceptions import NackMessage
from opentelemetry.sdk.trace import TracerProvider
from qbsync_mapper import handlers
from qbsync_mapper.resources import Resources
from qbsync_mapper.settings import MapperSettings

from tests.fixtures.events import make_invoice_issued


@dataclass
class FakeRecord:
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = field(default_factory=list)


async def test_batch_is_nacked_after_a_pause_while_the_service_is_not_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handlers, "RETRY_PAUSE_SECONDS", 0.2)
    settings = MapperSettings(
        kafka_bootstrap_servers="localhost:9", database_url="postgresql://x/y"
    )
    resources = Resources(settings=settings, tracer=TracerProvider().get_tracer("t"))
    record = FakeRecord(json.dumps(make_invoice_issued()).encode())
    started = time.monotonic()
    with pytest.raises(NackMessage):
        await handlers.handle_records(resources, [record])
    assert time.monotonic() - started >= 0.2
