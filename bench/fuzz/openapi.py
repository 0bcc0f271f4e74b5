"""Schemathesis against a service's OpenAPI: no 5xx, and every answer as documented.

The cases come from each operation's schema (valid data, and with `negative` also
data that breaks it); they are sent through any `httpx.AsyncClient` (in process or
over the network) on the caller's event loop, and each answer goes through
schemathesis's conformance checks: status code documented, content type, headers and
body matching the documented schema, and not a server error.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Err

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Report:
    """Cases sent and what failed, per operation."""

    cases: int = 0
    failures: list[str] = field(default_factory=list)
    per_operation: dict[str, int] = field(default_factory=dict)


def fuzz_openapi(
    loop: asyncio.AbstractEventLoop,
    client: httpx.AsyncClient,
    openapi: dict[str, Any],
    headers: dict[str, str],
    examples: int,
    *,
    skip: Callable[[str], bool] = lambda _: False,
) -> Report:
    """Run `examples` positive and `examples` negative cases per operation.

    Args:
        loop: the loop `client` (and the app, when in process) runs on; not running now.
        client: where requests go (its base URL is the service's).
        openapi: the service's OpenAPI document.
        headers: sent with every case (the API key).
        examples: cases per operation and generation mode.
        skip: operation labels ("GET /path") not to fuzz.
    """
    schema = schemathesis.openapi.from_dict(openapi)
    report = Report()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            report.failures.append(f"unusable operation in the schema: {result.err()}")
            continue
        operation = result.ok()
        if skip(operation.label):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run(loop, client, operation, mode, headers, examples, report)
    return report


def _run(
    loop: asyncio.AbstractEventLoop,
    client: httpx.AsyncClient,
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    examples: int,
    report: Report,
) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def one(case: schemathesis.Case[Any]) -> None:
        kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
        kwargs.pop("cookies", None)
        if isinstance(kwargs.get("data"), str | bytes):  # requests' name for a raw body
            kwargs["content"] = kwargs.pop("data")
        request = client.build_request(**kwargs)
        response = loop.run_until_complete(client.send(request))
        report.cases += 1
        report.per_operation[operation.label] = report.per_operation.get(operation.label, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as failure:  # FailureGroup is the latter
            status = response.status_code
            report.failures.append(
                f"{operation.label} [{mode.value}] {status} {request.url}: {failure!r}"[:1000]
            )

    try:
        one()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameters, no body).
        if mode is not GenerationMode.NEGATIVE:
            raise
