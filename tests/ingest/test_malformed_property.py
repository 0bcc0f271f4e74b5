"""Property: thousands of generated malformed events at POST /v1/events (issue 4 acceptance).

No 5xx, every event answered in order, and nothing lost: every accepted event
reaches qbsync.accepted.v1 and every rejection has its error record on
qbsync.errors.v1.
"""

import asyncio
import copy
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from qbsync_core.records import ErrorRecord

from tests.fixtures.events import sample_events
from tests.ingest.conftest import Ingest

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

EXAMPLES = 220
EVENTS_PER_REQUEST = 25  # 220 x 25 = 5,500 events

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=30),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.floats(allow_nan=False, allow_infinity=False),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def malformed_event(draw: st.DrawFn, tenant: str) -> Any:
    base = copy.deepcopy(draw(st.sampled_from(sample_events())))
    base["tenant_id"] = tenant
    base["event_id"] = str(uuid.uuid4())
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(base)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = base
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["delete", "replace", "replace"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_value)
    if draw(st.integers(min_value=0, max_value=20)) == 0:
        return draw(json_value)  # sometimes not an event at all
    return base


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value))


class TestMalformedEventsProperty:
    def test_thousands_of_malformed_events_are_all_answered_and_none_lost(
        self, ingest: Ingest, session_loop: asyncio.AbstractEventLoop
    ) -> None:
        tenant = f"prop-{uuid.uuid4().hex[:10]}"
        key = session_loop.run_until_complete(ingest.api_key(tenant))
        accepted: set[str] = set()
        rejected: set[str] = set()
        answered = 0

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(
            batch=st.lists(
                malformed_event(tenant), min_size=EVENTS_PER_REQUEST, max_size=EVENTS_PER_REQUEST
            )
        )
        def post(batch: list[Any]) -> None:
            nonlocal answered
            body = json.dumps(batch, default=_default).encode()
            response = session_loop.run_until_complete(
                ingest.http.post(
                    "/v1/events", content=body, headers={"Authorization": f"Bearer {key}"}
                )
            )
            assert response.status_code == 207, response.text
            results = response.json()["results"]
            assert [r["index"] for r in results] == list(range(len(batch)))
            for result in results:
                assert result["status"] in {"accepted", "duplicate", "rejected"}
                if result["status"] == "accepted":
                    accepted.add(result["event_id"])
                elif result["status"] == "rejected":
                    assert result["reasons"], result
                    rejected.add(result["error_record_id"])
            answered += len(results)

        post()
        assert answered >= 5000
        tenant_key = tenant.encode()

        def forwarded_ids() -> set[str]:
            return {json.loads(r.value)["event_id"] for r in ingest.accepted.keyed(tenant)}

        def recorded_ids() -> set[str]:
            return {
                ErrorRecord.model_validate_json(r.value).record_id
                for r in ingest.errors.matching(lambda r: r.key == tenant_key)
            }

        session_loop.run_until_complete(
            ingest.accepted.wait_until(lambda: forwarded_ids() >= accepted, timeout=60)
        )
        session_loop.run_until_complete(
            ingest.errors.wait_until(lambda: recorded_ids() >= rejected, timeout=60)
        )
        assert forwarded_ids() >= accepted
        assert recorded_ids() >= rejected
