"""How long `qbsync dev up --detach` takes until broker and database both answer.

Cold = a new QBSYNC_HOME (initdb runs); warm = the cluster directory already exists.
Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 10.0


def _timed_up(home: Path) -> float:
    env = {**os.environ, "QBSYNC_HOME": str(home)}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env.pop("DATABASE_URL", None)
    cmd = [sys.executable, "-m", "qbsync_dev", "dev"]
    started = time.perf_counter()
    subprocess.run(
        [*cmd, "up", "--detach", "--kafka-port", "0", "--postgres-port", "0"],
        env=env,
        check=True,
        capture_output=True,
    )
    elapsed = time.perf_counter() - started
    subprocess.run([*cmd, "down"], env=env, check=True, capture_output=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cold, warm = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp)
            cold.append(_timed_up(home))
            warm.append(_timed_up(home))
    print("## Dev stack startup (`qbsync dev up --detach`, issue 2)\n")
    print(
        f"Goal: broker and database answer in under {GOAL_SECONDS:.0f} s. {args.runs} runs each; "
        "wall time of the whole command, Python start-up included.\n"
    )
    print("| start | median s | max s | goal met |")
    print("|---|---|---|---|")
    for name, values in (("cold (initdb)", cold), ("warm", warm)):
        print(
            f"| {name} | {statistics.median(values):.2f} | {max(values):.2f} | "
            f"{'yes' if max(values) < GOAL_SECONDS else 'NO'} |"
        )
    print()


if __name__ == "__main__":
    main()
