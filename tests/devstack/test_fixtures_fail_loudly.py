"""The infrastructure fixtures fail, never skip, when the broker or database cannot be reached."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from qbsync_dev.processes import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("variable", "target"),
    [
        ("KAFKA_BOOTSTRAP_SERVERS", "tests/libs/test_kafka_real.py::TestTopics"),
        ("DATABASE_URL", "tests/libs/test_db_real.py::TestPool"),
    ],
)
def test_unreachable_infrastructure_is_an_error_not_a_skip(variable: str, target: str) -> None:
    port = free_port()
    value = (
        f"127.0.0.1:{port}"
        if variable.startswith("KAFKA")
        else f"postgresql://x@127.0.0.1:{port}/x"
    )
    env = {**os.environ, variable: value}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", target, "-q", "-p", "no:cacheprovider", "--timeout", "60"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode != 0, summary
    assert "skipped" not in summary
    assert "error" in summary or "failed" in summary
