"""How long `qbsync dev up --detach` takes until broker and database (then services) answer.

Cold = a new QBSYNC_HOME (initdb runs); warm = the cluster directory already exists.
Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

GOAL_SECONDS = 10.0


def _timed_up(home: Path) -> tuple[float, float]:
    env = {**os.environ, "QBSYNC_HOME": str(home)}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    env.pop("DATABASE_URL", None)
    cmd = [sys.executable, "-m", "qbsync_dev", "dev"]
    subprocess.run(
        [*cmd, "up", "--detach", "--kafka-port", "0", "--postgres-port", "0"],
        env=env,
        check=True,
        capture_output=True,
    )
    state = json.loads((home / "stack.json").read_text())
    subprocess.run([*cmd, "down"], env=env, check=True, capture_output=True)
    return state["infrastructure_seconds"], state["services_seconds"]


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
        f"Goal: broker and database answer in under {GOAL_SECONDS:.0f} s. {args.runs} runs each, "
        "timed by the stack itself (stack.json): infrastructure = broker, PostgreSQL and the "
        "QBO sandbox answering; services = then every service's readiness check (ingest "
        "joins its consumer group).\n"
    )
    print("| start | infrastructure median s | max s | goal met | services median s |")
    print("|---|---|---|---|---|")
    for name, values in (("cold (initdb)", cold), ("warm", warm)):
        infra = [v[0] for v in values]
        services = [v[1] for v in values]
        print(
            f"| {name} | {statistics.median(infra):.2f} | {max(infra):.2f} | "
            f"{'yes' if max(infra) < GOAL_SECONDS else 'NO'} | {statistics.median(services):.2f} |"
        )
    print()


if __name__ == "__main__":
    main()
