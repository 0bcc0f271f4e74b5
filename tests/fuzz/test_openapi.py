"""Reduced schemathesis run against ingest's and errors' OpenAPI (the full one: bench/fuzz).

The apps run in process with the real broker and database behind them; every case
must get a documented, schema-conforming answer and never a 5xx.
"""

import asyncio
import uuid

import pytest

from bench.fuzz.openapi import fuzz_openapi
from tests.fixtures.apps import bearer, errors_key, ingest_key
from tests.fuzz.conftest import Fuzzed

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

EXAMPLES = 5  # per operation and mode: ~130 cases for errors
INGEST_EXAMPLES = 20  # ingest has few operations: ~60 cases


def test_ingest_answers_every_generated_request_as_documented(
    fuzzed: Fuzzed, fuzz_loop: asyncio.AbstractEventLoop
) -> None:
    tenant = f"fz-{uuid.uuid4().hex[:10]}"
    key = fuzz_loop.run_until_complete(ingest_key(fuzzed.infra, tenant))
    report = fuzz_openapi(
        fuzz_loop, fuzzed.ingest.http, fuzzed.ingest.app.openapi(), bearer(key), INGEST_EXAMPLES
    )
    assert report.failures == []
    assert report.cases >= 50


def test_errors_answers_every_generated_request_as_documented(
    fuzzed: Fuzzed, fuzz_loop: asyncio.AbstractEventLoop
) -> None:
    # A tenant key: generated bulk actions then touch only this (empty) tenant.
    tenant = f"fz-{uuid.uuid4().hex[:10]}"
    key = fuzz_loop.run_until_complete(errors_key(fuzzed.infra, tenant))
    report = fuzz_openapi(
        fuzz_loop, fuzzed.errors.http, fuzzed.errors.app.openapi(), bearer(key), EXAMPLES
    )
    assert report.failures == []
    assert report.cases >= 100


async def test_nul_characters_are_refused_not_a_server_error(fuzzed: Fuzzed) -> None:
    # Found by the full run: `tenant=%00` reached PostgreSQL (which cannot store NUL): 500.
    key = bearer(await errors_key(fuzzed.infra, f"fz-{uuid.uuid4().hex[:10]}"))
    http = fuzzed.errors.http
    answers = [
        await http.get("/v1/errors", params={"tenant": "a\x00b"}, headers=key),
        await http.get("/v1/errors", params={"text": "\x00"}, headers=key),
        await http.get("/v1/errors/a%00b", headers=key),
        await http.post("/v1/errors/resync", json={"tenant": "a\x00"}, headers=key),
    ]
    assert [a.status_code for a in answers] == [422] * len(answers)
