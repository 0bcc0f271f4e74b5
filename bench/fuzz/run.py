"""Bad input, full form (issue 10): 10,000+ cases each, against the dev stack's processes.

Starts the embedded stack (broker, PostgreSQL, emulator, the four services as their
own processes) in a temporary QBSYNC_HOME, then:
- Kafka intake: `--kafka-cases` random and mutated messages on qbsync.inbound.v1;
  each must end as an accepted event or an error record (none lost, consumer alive);
- schemathesis against ingest's and errors' OpenAPI over HTTP (tenant-scoped keys),
  positive and negative cases: no 5xx, every answer documented and conforming.
Prints a Markdown section (cases run, failures); exits 1 when anything failed.
`make test` runs the reduced form (tests/fuzz/).
"""

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import httpx
from qbsync_dev.stack import StackState, start_stack, stop_stack

from bench.chaos.tenants import api_key
from bench.fuzz.driver import fuzz_inbound
from bench.fuzz.kafka_intake import messages
from bench.fuzz.openapi import Report, fuzz_openapi


def _openapi(loop: asyncio.AbstractEventLoop, client: httpx.AsyncClient) -> dict[str, object]:
    document: dict[str, object] = loop.run_until_complete(client.get("/openapi.json")).json()
    return document


def _schemathesis(
    loop: asyncio.AbstractEventLoop, url: str, key: str, examples: int
) -> tuple[Report, float]:
    began = time.monotonic()
    client = httpx.AsyncClient(base_url=url, timeout=30.0)
    try:
        headers = {"Authorization": f"Bearer {key}"}
        report = fuzz_openapi(loop, client, _openapi(loop, client), headers, examples)
    finally:
        loop.run_until_complete(client.aclose())
    return report, time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kafka-cases", type=int, default=10_000)
    parser.add_argument("--ingest-examples", type=int, default=3_400, help="per operation/mode")
    parser.add_argument("--errors-examples", type=int, default=450, help="per operation/mode")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="qbsync-fuzz-"))
    loop = asyncio.new_event_loop()
    failures: list[str] = []
    try:
        state: StackState = loop.run_until_complete(start_stack(home, timeout=120.0))
        db, broker = state.database.url, state.broker.url
        tenant = f"fz-{uuid.uuid4().hex[:10]}"
        cases = messages(args.seed, args.kafka_cases, tenant)
        began = time.monotonic()
        verdict = loop.run_until_complete(fuzz_inbound(broker, db, cases, timeout=600.0))
        kafka_s = time.monotonic() - began
        failures += [f"kafka lost: {c.kind} {(c.value or b'')[:80]!r}" for c in verdict.lost]
        ingest_key = loop.run_until_complete(api_key(db, "ingest", tenant))
        errors_key = loop.run_until_complete(api_key(db, "errors", tenant))
        ingest, ingest_s = _schemathesis(
            loop, state.services["ingest"].url, ingest_key, args.ingest_examples
        )
        errors, errors_s = _schemathesis(
            loop, state.services["errors"].url, errors_key, args.errors_examples
        )
        failures += [f"ingest: {f}" for f in ingest.failures]
        failures += [f"errors: {f}" for f in errors.failures]
    finally:
        stop_stack(home)
        loop.close()
        shutil.rmtree(home, ignore_errors=True)  # PostgreSQL's data too
    kinds = Counter(c.kind for c in cases)
    print("## fuzz\n")
    print(f"Seed {args.seed} (`python bench/fuzz/run.py --seed {args.seed}` replays it).\n")
    print("| target | cases | failures | time |")
    print("|---|---|---|---|")
    print(
        f"| Kafka intake (qbsync.inbound.v1) | {verdict.total:,} (accepted {verdict.accepted:,}, "
        f"rejected {verdict.rejected:,}, duplicate {verdict.duplicate:,}) | "
        f"{len(verdict.lost)} lost | {kafka_s:.0f} s |"
    )
    print(f"| ingest OpenAPI | {ingest.cases:,} | {len(ingest.failures)} | {ingest_s:.0f} s |")
    print(f"| errors OpenAPI | {errors.cases:,} | {len(errors.failures)} | {errors_s:.0f} s |")
    print("\nKafka cases by kind: " + ", ".join(f"{k} {n:,}" for k, n in kinds.most_common()))
    if failures:
        print("\nFailures (first 20):\n")
        for failure in failures[:20]:
            print(f"- {failure[:300]}")
        print("\n".join(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
