"""Reading one event's trace from the end-to-end stack's local span store."""

import time
from pathlib import Path
from typing import Any

from qbsync_core.spanstore import StoredSpan, connect, find_traces, spans_of
from qbsync_dev.stack import trace_store

WAIT_SECONDS = 90.0


def trace_when(
    home: Path, event_id: str, complete: Any, wait: float = WAIT_SECONDS
) -> list[StoredSpan]:
    """The event's one trace once `complete(spans)` holds (spans arrive every 0.5 s).

    Looks at least once, then until `wait` seconds have passed.
    """
    deadline = time.monotonic() + wait
    while True:
        spans: list[StoredSpan] = []
        if trace_store(home).is_file():
            conn = connect(trace_store(home))
            try:
                traces = find_traces(conn, event_id)
                if len(traces) == 1:
                    spans = spans_of(conn, traces[0])
            finally:
                conn.close()
        # A failed wait returns what there is: the caller's assertions say what is missing.
        if complete(spans) or time.monotonic() >= deadline:
            return spans
        time.sleep(0.25)


def named(spans: list[StoredSpan]) -> set[tuple[str, str]]:
    return {(s.service, s.name) for s in spans}
