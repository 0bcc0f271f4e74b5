"""Ingest and errors in process on the real broker and database, for the fuzz tests.

Package-scoped: they stop when the package ends, so their consumers (fresh groups)
do not keep reading the topics while other packages run.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass

import pytest

from tests.fixtures.apps import (
    Infra,
    Service,
    create_errors,
    create_ingest,
    errors_settings,
    ingest_settings,
    running,
)


@dataclass
class Fuzzed:
    """The apps under fuzz and where their infrastructure is."""

    infra: Infra
    ingest: Service
    errors: Service


@pytest.fixture(scope="package")
async def fuzzed(
    kafka_bootstrap: str, database_url: str, kafka_idempotent: bool
) -> AsyncIterator[Fuzzed]:
    infra = Infra(kafka_bootstrap, database_url, kafka_idempotent)
    async with AsyncExitStack() as exits:
        ingest = await exits.enter_async_context(
            running(create_ingest(ingest_settings(infra)), "http://ingest")
        )
        errors = await exits.enter_async_context(
            running(create_errors(errors_settings(infra)), "http://errors")
        )
        yield Fuzzed(infra, ingest, errors)


@pytest.fixture(scope="package")
async def fuzz_loop() -> asyncio.AbstractEventLoop:
    """The session's event loop, for the sync (hypothesis) tests that drive the apps."""
    return asyncio.get_running_loop()
