"""The whole product on the embedded default, started once for the end-to-end tests.

`e2e_stack` runs what `make run` runs (broker, PostgreSQL, the QBO emulator and the
four services) in a temporary QBSYNC_HOME with free ports, so it never collides with
a developer's own `qbsync dev up`. A component that cannot start fails the tests.
"""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from qbsync_dev.stack import StackState, start_stack, stop_stack


@pytest.fixture(scope="session")
def e2e_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """QBSYNC_HOME of the end-to-end stack (logs under logs/)."""
    return tmp_path_factory.mktemp("qbsync-home")


@pytest.fixture(scope="session")
def e2e_stack(e2e_home: Path) -> Iterator[StackState]:
    """Every component of the dev stack, running and answering."""
    try:
        state = asyncio.run(start_stack(e2e_home, timeout=90.0))
    except Exception as exc:  # noqa: BLE001 - reported as a failure, never a skip
        pytest.fail(f"the end-to-end stack could not start: {exc}", pytrace=False)
    yield state
    stop_stack(e2e_home)
