"""HTTP processes of the dev stack (the QBO sandbox emulator now, the services later).

Each is a Python module run as `python -m <module> --host 127.0.0.1 --port N`
and is ready when its health URL answers 200.
"""

import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from qbsync_dev.processes import ProcessRef, spawn, wait_ready

HOST = "127.0.0.1"


@dataclass(frozen=True)
class HttpComponentSpec:
    """How to run one HTTP component."""

    name: str
    module: str
    preferred_port: int
    health_path: str
    env_var: str | None = None
    """The setting services read its base URL from (written to dev.env), if any."""


QBO_SANDBOX = HttpComponentSpec(
    name="qbo_sandbox",
    module="qbsync_sandbox",
    preferred_port=18080,
    health_path="/_admin/health",
    env_var="QBSYNC_QBO_BASE_URL",
)

INGEST = HttpComponentSpec(
    name="ingest",
    module="qbsync_ingest",
    preferred_port=18081,
    health_path="/readyz",
)

MAPPER = HttpComponentSpec(
    name="mapper",
    module="qbsync_mapper",
    preferred_port=18082,
    health_path="/health",
)

POSTER = HttpComponentSpec(
    name="poster",
    module="qbsync_poster",
    preferred_port=18083,
    health_path="/health",
    env_var="QBSYNC_POSTER_URL",
)

ERRORS = HttpComponentSpec(
    name="errors",
    module="qbsync_errors",
    preferred_port=18084,
    health_path="/readyz",
    env_var="QBSYNC_ERRORS_URL",
)

EMULATORS: tuple[HttpComponentSpec, ...] = (QBO_SANDBOX,)
"""Started with the infrastructure; services read their URLs from dev.env."""

SERVICES: tuple[HttpComponentSpec, ...] = (INGEST, MAPPER, POSTER, ERRORS)
"""qbsync's own services; started once dev.env exists, since they read it."""


@dataclass(frozen=True)
class HttpHandle:
    """A running HTTP component."""

    spec: HttpComponentSpec
    process: ProcessRef
    port: int
    log_file: Path

    @property
    def base_url(self) -> str:
        """Its base URL."""
        return f"http://{HOST}:{self.port}"


def start_http(
    spec: HttpComponentSpec, port: int, log_file: Path, env: dict[str, str] | None = None
) -> HttpHandle:
    """Spawn the component's module on 127.0.0.1:`port`."""
    argv = [sys.executable, "-m", spec.module, "--host", HOST, "--port", str(port)]
    return HttpHandle(spec, spawn(argv, log_file, env=env), port, log_file)


async def http_answers(url: str) -> bool:
    """True when GET `url` answers 200."""
    try:
        async with httpx.AsyncClient(timeout=1.0) as client:
            return (await client.get(url)).status_code == httpx.codes.OK
    except httpx.HTTPError:
        return False


async def wait_http(handle: HttpHandle, timeout: float = 20.0) -> None:
    """Wait until the health URL answers.

    Raises:
        StartupError: the process exited or did not answer within `timeout` seconds.
    """
    url = handle.base_url + handle.spec.health_path
    await wait_ready(
        handle.process,
        lambda: http_answers(url),
        what=f"{handle.spec.name} at {url}",
        log_file=handle.log_file,
        timeout=timeout,
        interval=0.1,
    )
