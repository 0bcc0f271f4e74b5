"""All four services in process for the security tests, with logs and spans captured.

The fixtures are package-scoped: the apps stop when the package ends, so their
consumers (each in a fresh group) do not keep reading other packages' topics.
Spans go to an in-memory exporter (added to every app's tracer provider, which
also turns recording on), and every structlog line and stdlib log record is kept,
so a test can look for secrets in what was written.
"""

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from qbsync_core.telemetry import setup_tracing
from qbsync_core.topics import ACCEPTED, COMMANDS, ERRORS, INBOUND

from tests.fixtures.apps import (
    Infra,
    Poster,
    Service,
    create_errors,
    create_ingest,
    create_mapper,
    errors_settings,
    ingest_settings,
    mapper_settings,
    running,
    running_poster,
)
from tests.fixtures.kafka_tap import TopicTap, tap

_LOG_METHODS = (
    "msg", "log", "debug", "info", "warn", "warning", "fatal", "failure", "err", "error",
    "critical", "exception",
)  # fmt: skip


@dataclass
class Captured:
    """Everything the apps wrote to logs and spans while the package ran."""

    spans: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    lines: list[str] = field(default_factory=list)

    def span_texts(self) -> list[str]:
        """Each finished span as text: name, attributes, events and links."""
        texts = []
        for span in self.spans.get_finished_spans():
            parts: list[Any] = [span.name, dict(span.attributes or {})]
            parts += [(e.name, dict(e.attributes or {})) for e in span.events]
            parts += [dict(link.attributes or {}) for link in span.links]
            texts.append(repr(parts))
        return texts


class _Records(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self._lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self._lines.append(self.format(record) + repr(record.__dict__.get("args")))


@pytest.fixture(scope="package")
def captured() -> Iterator[Captured]:
    """Install the capture before any app of the package is built."""
    found = Captured()

    def tracing(*args: Any, **kwargs: Any) -> TracerProvider:
        # Pass through whatever else the runtime gives (the signature grows); add ours.
        extra = (*kwargs.pop("extra_processors", ()), SimpleSpanProcessor(found.spans))
        return setup_tracing(*args, **kwargs, extra_processors=extra)

    def keep(method: Any) -> Any:
        def write(self: Any, message: Any = None, *args: Any, **kwargs: Any) -> Any:
            found.lines.append(str(message))
            return method(self, message, *args, **kwargs)

        return write

    handler = _Records(found.lines)
    with pytest.MonkeyPatch.context() as patch:
        # build_runtime looks the name up in its own module at app creation.
        patch.setattr("qbsync_core.service.setup_tracing", tracing)
        # Patch the logger classes, not the configuration: loggers cached on first use
        # by earlier packages keep their own processor chains but call these methods.
        for cls in (structlog.PrintLogger, structlog.WriteLogger):
            for name in _LOG_METHODS:
                patch.setattr(cls, name, keep(getattr(cls, name)))
        logging.getLogger().addHandler(handler)
        try:
            yield found
        finally:
            logging.getLogger().removeHandler(handler)


@dataclass
class Stack:
    """The four services, their infrastructure, and taps on the pipeline topics."""

    infra: Infra
    ingest: Service
    mapper: Service
    poster: Poster
    errors: Service
    inbound: TopicTap
    accepted: TopicTap
    commands: TopicTap
    error_records: TopicTap
    captured: Captured


@pytest.fixture(scope="package")
async def stack(
    kafka_bootstrap: str, database_url: str, kafka_idempotent: bool, captured: Captured
) -> AsyncIterator[Stack]:
    infra = Infra(kafka_bootstrap, database_url, kafka_idempotent)
    async with AsyncExitStack() as exits:
        enter = exits.enter_async_context
        ingest = await enter(running(create_ingest(ingest_settings(infra)), "http://ingest"))
        mapper = await enter(running(create_mapper(mapper_settings(infra)), "http://mapper"))
        errors = await enter(running(create_errors(errors_settings(infra)), "http://errors"))
        poster = await enter(running_poster(infra))
        yield Stack(
            infra,
            ingest,
            mapper,
            poster,
            errors,
            await enter(tap(kafka_bootstrap, INBOUND.name)),
            await enter(tap(kafka_bootstrap, ACCEPTED.name)),
            await enter(tap(kafka_bootstrap, COMMANDS.name)),
            await enter(tap(kafka_bootstrap, ERRORS.name)),
            captured,
        )
