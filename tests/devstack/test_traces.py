"""`qbsync trace`: the tree drawn from stored spans."""

from collections.abc import Mapping
from pathlib import Path

import pytest
from qbsync_core.spanstore import StoredSpan, connect
from qbsync_dev.cli import app
from qbsync_dev.traces import render
from typer.testing import CliRunner

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _span(
    span_id: str,
    parent: str | None,
    service: str,
    name: str,
    start: int,
    *,
    status: str = "UNSET",
    message: str | None = None,
    attributes: Mapping[str, object] | None = None,
) -> StoredSpan:
    return StoredSpan(
        trace_id=TRACE,
        span_id=span_id,
        parent_id=parent,
        service=service,
        name=name,
        kind="INTERNAL",
        start_ns=start * 1_000_000,
        end_ns=(start + 2) * 1_000_000,
        status=status,
        status_message=message,
        event_id="e-1" if name != "POST" else None,
        attributes=dict(attributes or {}),
    )


class TestRender:
    def test_children_nest_under_their_parents_by_start_time(self) -> None:
        ids = {"qbsync.event_id": "e-1", "qbsync.tenant_id": "t"}
        lines = render(
            [
                _span("a", None, "qbsync-ingest", "ingest.accept", 0, attributes=ids),
                _span("b", "a", "qbsync-mapper", "mapper.map", 1, attributes=ids),
                _span("d", "c", "qbsync-poster", "POST", 4, attributes={"url.path": "/v3/x"}),
                _span("c", "b", "qbsync-poster", "poster.post", 3, status="ERROR", message="Acct"),
                _span("e", "b", "qbsync-errors", "errors.record", 5),
                _span("f", "gone", "qbsync-errors", "errors.record", 6),
            ]
        )
        assert lines[0] == (
            f"trace {TRACE}  event e-1  6 spans over 8.0 ms  "
            "(qbsync-errors, qbsync-ingest, qbsync-mapper, qbsync-poster)"
        )
        tree = [line[:56].rstrip() for line in lines[1:]]
        assert tree == [
            "qbsync-ingest ingest.accept",
            "└─ qbsync-mapper mapper.map",
            "   ├─ qbsync-poster poster.post",
            "   │  └─ qbsync-poster POST",
            "   └─ qbsync-errors errors.record",
            "qbsync-errors errors.record",  # its parent is not in the store
        ]
        assert "qbsync.event_id=e-1 qbsync.tenant_id=t" in lines[1]
        assert "qbsync.event_id" not in lines[2]  # the same ids as above are not repeated
        assert "ERROR (Acct)" in lines[3]
        assert "url.path=/v3/x" in lines[4]


class TestCommand:
    def test_without_a_store_it_says_how_to_get_one(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("QBSYNC_HOME", str(tmp_path))
        monkeypatch.delenv("QBSYNC_TRACE_STORE", raising=False)
        result = CliRunner().invoke(app, ["trace", "e-1"])
        assert result.exit_code == 1
        assert "qbsync dev up" in result.output

    def test_an_unknown_id_is_an_error(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        connect(tmp_path / "traces.db").close()
        monkeypatch.setenv("QBSYNC_TRACE_STORE", str(tmp_path / "traces.db"))
        result = CliRunner().invoke(app, ["trace", "nope"])
        assert result.exit_code == 1
        assert "No spans for 'nope'" in result.output
