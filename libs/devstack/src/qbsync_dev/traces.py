"""`qbsync trace ID`: an event's spans from the dev stack's local span store, as a tree.

ID is a trace id (32 hex digits, as error records and logs show it) or an event id
(the `event_id` of a v1 event: spans of ingest, mapper, poster and errors carry it).
"""

import os
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated

import typer
from qbsync_core.spanstore import StoredSpan, connect, find_traces, spans_of

from qbsync_dev.stack import trace_store

KEY_ATTRIBUTE_PREFIXES = ("qbsync.", "http.", "url.path", "qbo.", "messaging.destination")
"""Attributes worth a line in the tree; the rest (offsets, sizes) are in the store."""
ID_ATTRIBUTES = ("qbsync.event_id", "qbsync.tenant_id")


def store_path() -> Path:
    """The store `qbsync trace` reads: `QBSYNC_TRACE_STORE`, else the dev stack's."""
    configured = os.environ.get("QBSYNC_TRACE_STORE")
    return Path(configured) if configured else trace_store()


def load_traces(path: Path, id_: str) -> list[list[StoredSpan]]:
    """The spans of every trace `id_` names (see module doc), oldest trace first."""
    conn = connect(path)
    try:
        return [spans_of(conn, trace_id) for trace_id in find_traces(conn, id_)]
    finally:
        conn.close()


def _status(span: StoredSpan) -> str:
    if span.status != "ERROR":
        return "ok"
    return f"ERROR ({span.status_message})" if span.status_message else "ERROR"


def _attributes(span: StoredSpan, shown_above: dict[str, object]) -> str:
    # Ids equal to the parent's are left out: the whole tree is about one event.
    items = [
        f"{k}={v}"
        for k, v in sorted(span.attributes.items())
        if k.startswith(KEY_ATTRIBUTE_PREFIXES) and shown_above.get(k) != v
    ]
    return " ".join(items)


def _walk(
    span: StoredSpan,
    children: dict[str | None, list[StoredSpan]],
    prefix: str,
    last: bool,
    root: bool,
    shown_above: dict[str, object],
) -> Iterator[str]:
    branch = "" if root else ("└─ " if last else "├─ ")
    label = f"{prefix}{branch}{span.service} {span.name}"
    attributes = _attributes(span, shown_above)
    yield f"{label:<56} {span.duration_ms:>9.1f} ms  {_status(span):<6}  {attributes}".rstrip()
    shown = {
        **shown_above,
        **{k: span.attributes[k] for k in ID_ATTRIBUTES if k in span.attributes},
    }
    below = children.get(span.span_id, [])
    deeper = prefix + ("" if root else ("   " if last else "│  "))
    for i, child in enumerate(below):
        yield from _walk(child, children, deeper, i == len(below) - 1, False, shown)


def render(spans: Sequence[StoredSpan]) -> list[str]:
    """One trace as lines: a header, then the span tree (children by start time).

    A span whose parent is not in the store (a service not writing to it, or a
    record that carried only its trace id) is shown at the top level.
    """
    if not spans:
        return []
    ids = {s.span_id for s in spans}
    children: dict[str | None, list[StoredSpan]] = defaultdict(list)
    for span in sorted(spans, key=lambda s: s.start_ns):
        children[span.parent_id if span.parent_id in ids else None].append(span)
    start = min(s.start_ns for s in spans)
    end = max(s.end_ns for s in spans)
    event_ids = sorted({s.event_id for s in spans if s.event_id})
    services = sorted({s.service for s in spans})
    lines = [
        f"trace {spans[0].trace_id}  event {', '.join(event_ids) or '-'}  "
        f"{len(spans)} spans over {(end - start) / 1e6:.1f} ms  ({', '.join(services)})"
    ]
    for top in children[None]:
        lines.extend(_walk(top, children, "", True, True, {}))
    return lines


def trace_command(
    id_: Annotated[str, typer.Argument(metavar="ID", help="An event id or a trace id.")],
) -> None:
    """Print the spans of an event's trace (by event id or trace id) from the local store."""
    path = store_path()
    if not path.is_file():
        typer.echo(
            f"No span store at {path}: start the dev stack (qbsync dev up), which records "
            "spans there, or set QBSYNC_TRACE_STORE.",
            err=True,
        )
        raise typer.Exit(1)
    traces = load_traces(path, id_)
    if not traces:
        typer.echo(
            f"No spans for {id_!r} in {path} (yet: spans are written every 0.5 s).", err=True
        )
        raise typer.Exit(1)
    for i, spans in enumerate(traces):
        if i:
            typer.echo("")
        for line in render(spans):
            typer.echo(line)
