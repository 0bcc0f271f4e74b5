"""The local span store: finished spans in one SQLite file, for `qbsync trace` without a collector.

The dev stack points every service at the same file (`QBSYNC_TRACE_STORE`). SQLite in
WAL mode lets the four service processes append while the CLI reads. Spans reach the
file through the SDK's `BatchSpanProcessor` (see `telemetry.setup_tracing`), so a
service never waits on the disk and a full queue drops spans rather than slowing it.

The event id is copied out of each span's `qbsync.event_id` attribute into its own
indexed column, so a trace can be found by event id as well as by trace id.
"""

import json
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

EVENT_ID_ATTRIBUTE = "qbsync.event_id"
RETENTION_SECONDS = 7 * 24 * 3600
"""Spans older than this are deleted when a service opens the store: it is a dev tool."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_id TEXT,
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    status TEXT NOT NULL,
    status_message TEXT,
    event_id TEXT,
    attributes TEXT NOT NULL,
    links TEXT NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS spans_by_event ON spans (event_id) WHERE event_id IS NOT NULL;
"""
_INSERT = "INSERT OR REPLACE INTO spans VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_SELECT_TRACE = (
    "SELECT trace_id, span_id, parent_id, service, name, kind, start_ns, end_ns, "
    "status, status_message, event_id, attributes, links "
    "FROM spans WHERE trace_id = ? ORDER BY start_ns"
)


@dataclass(frozen=True)
class StoredSpan:
    """One finished span as the store keeps it."""

    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    name: str
    kind: str
    start_ns: int
    end_ns: int
    status: str
    """`UNSET`, `OK` or `ERROR` (OpenTelemetry's status codes)."""
    status_message: str | None
    event_id: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    links: tuple[str, ...] = ()
    """Trace ids this span links to (e.g. the request or batch that carried the event)."""

    @property
    def duration_ms(self) -> float:
        """Wall time from start to end, in milliseconds."""
        return (self.end_ns - self.start_ns) / 1e6


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the store at `path`, in WAL mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Several processes write: wait for a lock rather than fail at once.
    conn = sqlite3.connect(path, timeout=10.0, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(_SCHEMA)
    return conn


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


def _row(span: ReadableSpan) -> tuple[object, ...]:
    context = span.get_span_context()
    assert context is not None  # an SDK span always has one
    attributes = dict(span.attributes or {})
    event_id = attributes.get(EVENT_ID_ATTRIBUTE)
    resource = span.resource.attributes.get("service.name", "unknown") if span.resource else ""
    return (
        _hex(context.trace_id, 32),
        _hex(context.span_id, 16),
        _hex(span.parent.span_id, 16) if span.parent else None,
        str(resource),
        span.name,
        span.kind.name,
        span.start_time or 0,
        span.end_time or span.start_time or 0,
        span.status.status_code.name,
        span.status.description,
        str(event_id) if event_id is not None else None,
        json.dumps({k: _jsonable(v) for k, v in attributes.items()}),
        json.dumps(sorted({_hex(link.context.trace_id, 32) for link in span.links})),
    )


def _jsonable(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


class SqliteSpanExporter(SpanExporter):
    """Writes finished spans to the SQLite store at `path` (opened on first export)."""

    def __init__(self, path: Path) -> None:
        """Export to `path`; nothing is opened until the first batch arrives."""
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = connect(self.path)
            cutoff = time.time_ns() - RETENTION_SECONDS * 1_000_000_000
            with self._conn:
                self._conn.execute("DELETE FROM spans WHERE end_ns < ?", (cutoff,))
        return self._conn

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Append `spans` in one transaction."""
        rows = [_row(s) for s in spans]
        try:
            with self._lock:
                conn = self._connection()
                with conn:
                    conn.executemany(_INSERT, rows)
        except (sqlite3.Error, OSError):  # the SDK logs a failed export and goes on
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the file."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _span(row: sqlite3.Row | tuple[Any, ...]) -> StoredSpan:
    (trace_id, span_id, parent_id, service, name, kind, start, end, status, message, event_id,
     attributes, links) = row  # fmt: skip
    return StoredSpan(
        trace_id,
        span_id,
        parent_id,
        service,
        name,
        kind,
        start,
        end,
        status,
        message,
        event_id,
        json.loads(attributes),
        tuple(json.loads(links)),
    )


def find_traces(conn: sqlite3.Connection, id_: str) -> list[str]:
    """Trace ids for `id_`: a trace id itself, or every trace whose spans name that event id.

    Oldest first (an event id is unique per tenant and source only, and a resync
    continues the original trace, so there is usually one).
    """
    rows = conn.execute(
        "SELECT trace_id, min(start_ns) FROM spans WHERE trace_id = ? OR event_id = ? "
        "GROUP BY trace_id ORDER BY 2",
        (id_.lower() if len(id_) == 32 else id_, id_),
    ).fetchall()
    return [r[0] for r in rows]


def spans_of(conn: sqlite3.Connection, trace_id: str) -> list[StoredSpan]:
    """Every stored span of `trace_id`, by start time."""
    rows = conn.execute(_SELECT_TRACE, (trace_id,)).fetchall()
    return [_span(r) for r in rows]
