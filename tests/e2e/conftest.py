"""The whole product on the embedded default, started once for the end-to-end tests.

`e2e_stack` runs what `make run` runs (broker, PostgreSQL, the QBO emulator and the
four services) in a temporary QBSYNC_HOME with free ports, so it never collides with
a developer's own `qbsync dev up`. A component that cannot start fails the tests.
"""

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from qbsync_dev.demo.stack_api import Keys, StackUrls
from qbsync_dev.stack import StackState, start_stack, stop_stack

T = TypeVar("T")


@pytest.fixture(scope="session")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """QBSYNC_HOME of the end-to-end stack (logs under logs/)."""
    return tmp_path_factory.mktemp("qbsync-home")


@pytest.fixture(scope="session")
def e2e_stack(e2e_home: Path) -> Iterator[StackState]:
    """Every component of the dev stack, running and answering."""
    try:
        # Kernel-picked ports only: never the defaults a developer's own stack (or another
        # test session starting at the same moment) prefers.
        state = asyncio.run(
            start_stack(
                e2e_home, kafka_port=0, postgres_port=0, timeout=90.0, default_http_ports=False
            )
        )
    except Exception as exc:  # noqa: BLE001 - reported as a failure, never a skip
        pytest.fail(f"the end-to-end stack could not start: {exc}", pytrace=False)
    yield state
    stop_stack(e2e_home)


@pytest.fixture(scope="session")
def e2e_urls(e2e_stack: StackState) -> StackUrls:
    """Where each component of the end-to-end stack answers."""
    return StackUrls.of(e2e_stack)


@pytest.fixture(scope="session")
def e2e_keys(e2e_stack: StackState, e2e_home: Path) -> Keys:
    """Operator keys of the errors API and the poster API, made by their own commands."""
    del e2e_stack
    return Keys.create(e2e_home)


def eventually(probe: Callable[[], T | None], what: str, timeout: float = 120.0) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout`.

    The bound is generous: a guard against a hang, not a performance assertion.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}", pytrace=False)
        time.sleep(0.5)
