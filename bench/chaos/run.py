"""The issue-10 chaos run on the whole stack (embedded default).

Usage:
    python bench/chaos/run.py [--tenants 20] [--events 20000] [--kills 3] [--send-seconds 120]

Starts the dev stack (broker, PostgreSQL, QBO emulator, the four services) in a temporary
QBSYNC_HOME, connects and configures the tenants, runs bench/chaos/driver.py and prints a
Markdown section for docs/benchmarks.md: lost, duplicated and wrong entities against the
ledger the events describe, and open errors that were not planted (goal 0 each).
"""

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from qbsync_dev.stack import start_stack, stop_stack

from bench.chaos.driver import FAULT_KINDS, ChaosConfig, ChaosResult, chaos_env, run_chaos


def report(result: ChaosResult, load: str) -> str:
    c, v, e = result.config, result.verdict, result.errors
    sends = sum(n for path, n in result.sends.items() if path.startswith("http"))
    kills = ", ".join(f"{name} {n}" for name, n in sorted(result.kills.items()))
    ok = "met" if result.passed else "NOT met"
    lines = [
        "## Chaos: the whole stack (issue 10)\n",
        f"`python bench/chaos/run.py`: {c.tenants} tenants, {c.events:,} events (invoices, "
        "payments - some before their invoice - and planted failures), each sent 2-3 times "
        f"over HTTP ({sends:,} items) and the Kafka inbound topic ({result.sends['kafka']:,}); "
        f"SIGKILL + restart: {kills}; {c.fault_share:.0%} of QBO calls answered "
        f"{'/'.join(FAULT_KINDS)} ({result.injected:,} of {result.qbo_requests:,} requests); "
        f"every realm's access tokens expired every {c.expire_every_s:.0f} s ({result.expiries} "
        f"rounds); emulator limits {'on' if c.limits else 'off'}. Load during the run: {load}.\n",
        "| measure | result | goal |",
        "|---|---|---|",
        f"| lost / duplicated / wrong entities (of {v.checked:,} expected) | "
        f"**{v.lost} / {v.duplicated} / {v.wrong}** | 0 / 0 / 0 |",
        f"| open errors not planted | **{e.unplanted_open}** | 0 |",
        f"| planted errors open | {e.planted_open} of {e.planted} | all |",
        f"| converged (QBO exact, only planted errors open) | "
        f"{'yes' if result.converged else 'NO'} after {result.seconds:.0f} s | {ok} |",
        "",
    ]
    if v.samples or e.samples:
        lines += ["```", *v.samples, *e.samples, "```", ""]
    lines += [
        "Conditions (bench/chaos/driver.py `chaos_env`): retries quicker than production's so "
        "a run ends in minutes - the poster tries a QBO call 10 times (backoff 0.05-1 s) with a "
        "2 s read timeout (an injected timeout hangs 3 s), the errors service replays a "
        "retriable error after 5 s (doubling, at most 30 s); an injected 429 says "
        "`Retry-After: 1`. Events of one tenant do not depend on arrival order (invoices, "
        "payments), since copies over two paths arrive in no guaranteed order; the expected "
        "ledger is computed from the events alone (bench/chaos/workload.py) and compared with "
        "the emulator's export (bench/chaos/judge.py). A killed service is restarted on its "
        "port after 0.5-3 s; kills are one at a time.",
        "",
    ]
    return "\n".join(lines)


async def main_async(config: ChaosConfig) -> None:
    os.environ.update(chaos_env(config))
    log: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        state = await start_stack(
            home, kafka_port=0, postgres_port=0, timeout=90.0, default_http_ports=False
        )
        try:
            result = await run_chaos(home, state, config, log)
        finally:
            print("\n".join(log), file=sys.stderr)
            stop_stack(home)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(report(result, f"load average {load} (1/5/15 min) at the end"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--send-seconds", type=float, default=120.0)
    parser.add_argument("--limits", action="store_true")
    parser.add_argument("--killed", default="ingest,mapper,poster,errors")
    parser.add_argument("--fault-share", type=float, default=0.1)
    parser.add_argument("--expire-every", type=float, default=30.0)
    parser.add_argument("--settle-timeout", type=float, default=600.0)
    args = parser.parse_args()
    config = ChaosConfig(
        tenants=args.tenants,
        events=args.events,
        kills_per_service=args.kills,
        send_seconds=args.send_seconds,
        limits=args.limits,
        killed=tuple(args.killed.split(",")),
        fault_share=args.fault_share,
        expire_every_s=args.expire_every,
        settle_timeout_s=args.settle_timeout,
    )
    asyncio.run(main_async(config))


if __name__ == "__main__":
    main()
