"""One trace per event across the whole stack, read from the local span store (issue 9).

An event posted to ingest must leave one trace covering ingest, mapper, poster and the
QBO HTTP call; an event the mapper cannot map must have its error record's handling
in the errors service in that same trace. Both are checked in the store the dev stack
keeps and through `qbsync trace ID`, as a developer would run it.
"""

import json
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from qbsync_core.spanstore import StoredSpan, connect
from qbsync_dev.stack import StackState, trace_store

from tests.e2e.traces import named, trace_when
from tests.fixtures.events import make_customer, make_envelope
from tests.mapper.helpers import settings_document

pytestmark = [pytest.mark.slow]

CREDENTIAL_NAME = re.compile(r"token|secret|password|authorization|api.?key|cookie", re.I)
WAIT_SECONDS = 90.0
"""Upper bound for an event to cross the stack (it usually takes about a second)."""


def _cli(home: Path, *argv: str) -> str:
    env = {**os.environ, "QBSYNC_HOME": str(home)}
    env.pop("QBSYNC_TRACE_STORE", None)
    done = subprocess.run(
        [sys.executable, *argv], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Tenant:
    tenant_id: str
    ingest_key: str
    realm_id: str
    secrets: tuple[str, ...]
    """Every credential the test handled: none may appear in any span."""


@pytest.fixture(scope="module")
def tenant(e2e_stack: StackState, e2e_home: Path) -> Tenant:
    """A tenant with an ingest key, a QBO sandbox connection and mapper settings."""
    tenant_id = f"trace-{uuid.uuid4().hex[:10]}"
    services = e2e_stack.services
    ingest_key = _cli(e2e_home, "-m", "qbsync_dev", "apikey", "create", "--tenant", tenant_id)
    poster_key = _cli(e2e_home, "-m", "qbsync_poster.keys", "create", "--tenant", tenant_id)
    ingest_key = ingest_key.strip().splitlines()[-1]
    poster_key = poster_key.strip().splitlines()[-1]
    with httpx.Client(timeout=30.0, follow_redirects=True) as http:
        # The emulator approves the consent at once and sends the browser to /callback.
        connected = http.get(
            f"{services['poster'].url}/connect/qbo",
            params={"tenant": tenant_id},
            headers={"Authorization": f"Bearer {poster_key}"},
        )
        assert connected.status_code == 200, connected.text
        realm_id = str(connected.json()["realm_id"])
        document = settings_document(tenant_id=tenant_id, realm_id=realm_id)
        applied = http.put(
            f"{services['mapper'].url}/v1/tenants/{tenant_id}/settings",
            content=yaml.safe_dump(document),
            headers={"content-type": "application/yaml"},
        )
        assert applied.status_code in (200, 201), applied.text
    return Tenant(tenant_id, ingest_key, realm_id, (ingest_key, poster_key))


def _post_event(stack: StackState, tenant: Tenant, event: dict[str, Any]) -> None:
    response = httpx.post(
        f"{stack.services['ingest'].url}/v1/events",
        json=[event],
        headers={"Authorization": f"Bearer {tenant.ingest_key}"},
        timeout=30.0,
    )
    assert response.status_code == 207, response.text
    assert response.json()["accepted"] == 1, response.text


def _parent(spans: list[StoredSpan], span: StoredSpan) -> StoredSpan:
    [parent] = [s for s in spans if s.span_id == span.parent_id]
    return parent


class TestOneTracePerEvent:
    def test_a_posted_event_is_traced_from_ingest_to_the_qbo_call(
        self, e2e_stack: StackState, e2e_home: Path, tenant: Tenant
    ) -> None:
        ref = f"guest-{uuid.uuid4().hex[:8]}"
        customer = make_customer(ref=ref, name=f"Trace Guest {ref}", email=f"{ref}@example.com")
        event = make_envelope(
            "customer.upserted", {"customer": customer}, tenant_id=tenant.tenant_id
        )
        _post_event(e2e_stack, tenant, event)

        stages = {
            ("qbsync-ingest", "ingest.accept"),
            ("qbsync-mapper", "mapper.map"),
            ("qbsync-poster", "poster.post"),
        }

        def posted(spans: list[StoredSpan]) -> bool:
            # Each service exports on its own schedule, and the command's span ends after
            # its QBO calls: wait for every stage and a successful call.
            return stages <= named(spans) and any(
                s.kind == "CLIENT" and s.attributes.get("http.response.status_code") == 200
                for s in spans
            )

        spans = trace_when(e2e_home, event["event_id"], posted)
        names = named(spans)
        assert stages <= names, names
        [accept] = [s for s in spans if s.name == "ingest.accept"]
        [mapped] = [s for s in spans if s.name == "mapper.map"]
        [post] = [s for s in spans if s.name == "poster.post"]
        calls = [s for s in spans if s.kind == "CLIENT" and s.service == "qbsync-poster"]
        assert calls, names
        # One tree: ingest -> mapper -> poster -> the QBO request(s).
        assert _parent(spans, mapped) == accept
        assert _parent(spans, post) == mapped
        assert all(_parent(spans, c) == post for c in calls)
        assert post.attributes["qbsync.outcome"] == "posted"
        assert all(
            c.attributes["url.path"].startswith(f"/v3/company/{tenant.realm_id}/") for c in calls
        )
        assert {s.event_id for s in (accept, mapped, post)} == {event["event_id"]}

        by_event = _cli(e2e_home, "-m", "qbsync_dev", "trace", event["event_id"])
        by_trace = _cli(e2e_home, "-m", "qbsync_dev", "trace", accept.trace_id)
        assert by_event == by_trace
        lines = by_event.splitlines()
        assert lines[0].startswith(f"trace {accept.trace_id}  event {event['event_id']}")
        assert lines[1].startswith("qbsync-ingest ingest.accept")
        assert "└─ qbsync-mapper mapper.map" in lines[2]
        assert "└─ qbsync-poster poster.post" in lines[3]
        assert any(
            "qbsync-poster POST" in line and "http.response.status_code=200" in line
            for line in lines[4:]
        ), by_event

    def test_a_failed_event_has_its_error_record_handled_in_the_same_trace(
        self, e2e_stack: StackState, e2e_home: Path, tenant: Tenant
    ) -> None:
        # Voiding a credit note qbsync never saw: the mapper raises an error record.
        event = make_envelope(
            "credit_note.voided", {"ref": f"cn-{uuid.uuid4().hex[:8]}"}, tenant_id=tenant.tenant_id
        )
        _post_event(e2e_stack, tenant, event)

        stages = {
            ("qbsync-ingest", "ingest.accept"),
            ("qbsync-mapper", "mapper.map"),
            ("qbsync-errors", "errors.record"),
        }

        # Each service exports its spans on its own schedule: wait for all three.
        spans = trace_when(e2e_home, event["event_id"], lambda found: stages <= named(found))
        assert stages <= named(spans), named(spans)
        [mapped] = [s for s in spans if s.name == "mapper.map"]
        [record] = [s for s in spans if s.name == "errors.record"]
        assert _parent(spans, record) == mapped
        assert (mapped.status, mapped.status_message) == ("ERROR", "1 error record(s)")
        assert record.attributes["qbsync.stage"] == "mapper"
        assert record.event_id == event["event_id"]
        assert record.status != "ERROR"  # stored

        shown = _cli(e2e_home, "-m", "qbsync_dev", "trace", event["event_id"])
        assert "qbsync-errors errors.record" in shown
        assert "qbsync.stage=mapper" in shown

    def test_no_credential_reaches_a_span(self, e2e_home: Path, tenant: Tenant) -> None:
        # Runs after the two above in this module, so their spans are in the store.
        stored = trace_store(e2e_home).read_bytes()
        for path in trace_store(e2e_home).parent.glob("traces.db-wal"):
            stored += path.read_bytes()
        assert tenant.tenant_id.encode() in stored  # the spans of this tenant are there
        for secret in tenant.secrets:
            assert secret.encode() not in stored
        assert b"Bearer" not in stored
        # Nor anything named like a credential (OAuth tokens, webhook secrets, keys).
        conn = connect(trace_store(e2e_home))
        try:
            rows = conn.execute("SELECT attributes FROM spans").fetchall()
            keys = {key for (text,) in rows for key in json.loads(text)}
        finally:
            conn.close()
        assert not {k for k in keys if CREDENTIAL_NAME.search(k)}, keys
