"""Every service process (and the emulator) starts with the collector tuned for batches.

The default thresholds cost the poster about a quarter of its CPU in full collections
(qbsync_core.gc_settings; figures in docs/performance.md). Each `__main__` is run in a
child process with uvicorn's `run` replaced, so this process's collector is untouched.
"""

import json
import os
import subprocess
import sys

import pytest
from qbsync_core.gc_settings import MIDDLE_THRESHOLD, OLD_THRESHOLD, YOUNG_THRESHOLD

PROBE = """
import gc, importlib, json, sys
import uvicorn

seen = {}

def run(app, **options):
    seen["threshold"] = gc.get_threshold()
    seen["frozen"] = gc.get_freeze_count()

uvicorn.run = run
package = sys.argv[1]
sys.argv = [package]
importlib.import_module(package + ".__main__").main()
print(json.dumps(seen))
"""


@pytest.mark.parametrize(
    "package",
    ["qbsync_ingest", "qbsync_mapper", "qbsync_poster", "qbsync_errors", "qbsync_sandbox"],
)
def test_main_tunes_the_collector_before_serving(package: str) -> None:
    # Required settings only: building an app does no I/O, so nothing listens there.
    env = {
        **os.environ,
        "DATABASE_URL": "postgresql://probe:probe@127.0.0.1:9/probe",
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, package], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["threshold"] == [YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD]
    # The app was built before the freeze, so its objects are out of every collection.
    assert seen["frozen"] > 10_000
