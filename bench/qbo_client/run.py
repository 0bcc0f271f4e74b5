"""Benchmark: post N invoices to one realm through QboClient vs a plain loop.

Usage:
    python bench/qbo_client/run.py [--invoices 3000] [--latency-ms 150] [--plain-invoices N]

The emulator runs in a subprocess (uvicorn) with Intuit's limits on: 500 requests/min,
10 concurrent requests, batches of at most 30 items, 40 batch requests/min, all per
realm, and a fixed latency per request (150 ms by default, via `/_admin/latency`).

The per-realm ceiling (invoices/minute) follows from those limits. A `/batch` request
is also a request, so in one minute a realm can take at most
    B batch requests of S invoices          = 40 x 30 = 1,200 invoices
    plus R - B single-invoice requests      = 500 - 40 = 460 invoices
    ceiling = B*S + (R - B)                 = 1,660 invoices/min.
(The emulator counts a batch against both windows, as Intuit's limits page implies; if a
batch did not count against the 500, the ceiling would be B*S + R = 1,700.)
Concurrency does not bind: at 150 ms a request, 10 in flight allow 4,000 requests/min.

The plain loop sends one invoice per request, one request at a time: at 150 ms latency
it peaks near 60/0.15 = 400 invoices/min, under the 500/min limit, so it never batches
and should see no 429; on a 429 it waits Retry-After (or 60 s) and resends.

Measured (3,000 invoices, 150 ms): client 1,640 invoices/min in 109.8 s = 98.8 % of the
ceiling with 0 429s; plain loop 384 invoices/min in 469 s with 0 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
from qbsync_qbo import LimitSettings, QboClient, RealmLimiter, StaticToken, WriteOp

REQUESTS_PER_MIN = 500
MAX_CONCURRENT = 10
BATCH_MAX_ITEMS = 30
BATCH_PER_MIN = 40
CEILING_PER_MIN = BATCH_PER_MIN * BATCH_MAX_ITEMS + (REQUESTS_PER_MIN - BATCH_PER_MIN)

SERVER_CODE = (
    "import sys, uvicorn\n"
    "from qbsync_sandbox.app import create_app\n"
    "from qbsync_sandbox.settings import SandboxSettings\n"
    "uvicorn.run(create_app(SandboxSettings()), host='127.0.0.1', port=int(sys.argv[1]),"
    " log_level='warning')\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def emulator(port: int) -> Iterator[str]:
    """Run the emulator in a subprocess with Intuit's limits on; yield its base URL."""
    env = {
        **os.environ,
        "QBSYNC_SANDBOX_LIMITS_ENABLED": "true",
        "QBSYNC_SANDBOX_REQUESTS_PER_MINUTE": str(REQUESTS_PER_MIN),
        "QBSYNC_SANDBOX_MAX_CONCURRENT": str(MAX_CONCURRENT),
        "QBSYNC_SANDBOX_BATCH_MAX_ITEMS": str(BATCH_MAX_ITEMS),
        "QBSYNC_SANDBOX_BATCH_REQUESTS_PER_MINUTE": str(BATCH_PER_MIN),
    }
    if importlib.util.find_spec("qbsync_sandbox.__main__") is not None:
        cmd = [sys.executable, "-m", "qbsync_sandbox", "--port", str(port)]
    else:
        cmd = [sys.executable, "-c", SERVER_CODE, str(port)]
    proc = subprocess.Popen(cmd, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/_admin/stats", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("emulator did not start") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def new_realm(admin: httpx.AsyncClient) -> tuple[str, str]:
    realm = (await admin.post("/_admin/realms")).raise_for_status().json()["realm_id"]
    tokens = (await admin.post(f"/_admin/realms/{realm}/tokens")).raise_for_status().json()
    return str(realm), str(tokens["access_token"])


async def throttled_count(admin: httpx.AsyncClient, realm: str) -> int:
    stats = (await admin.get("/_admin/stats")).raise_for_status().json()
    realm_stats: dict[str, Any] = stats.get("realms", {}).get(realm, {})
    return int(realm_stats.get("throttled", 0))


async def invoice_refs(client: QboClient, tag: str) -> tuple[dict[str, str], dict[str, str]]:
    """Create a customer and pick a service item for the invoices."""
    customer = await client.create(
        "Customer", {"DisplayName": f"Bench customer {tag}"}, f"bench-cust-{tag}"
    )
    items = await client.query("SELECT * FROM Item WHERE Type = 'Service' MAXRESULTS 1")
    item = items.entities[0]
    return {"value": customer.id}, {"value": item.id, "name": str(item.get("Name", ""))}


def invoice_body(n: int, tag: str, customer: dict[str, str], item: dict[str, str]) -> Any:
    return {
        "DocNumber": f"B{tag[:8]}-{n}",
        "CustomerRef": customer,
        "Line": [
            {
                "Amount": 10.0,
                "DetailType": "SalesItemLineDetail",
                "SalesItemLineDetail": {"ItemRef": item, "Qty": 1, "UnitPrice": 10.0},
            }
        ],
    }


async def run_client(base: str, admin: httpx.AsyncClient, http: httpx.AsyncClient, n: int) -> None:
    realm, token = await new_realm(admin)
    limiter = RealmLimiter(LimitSettings())  # Intuit's figures, 1 % safety margin
    client = QboClient(base, realm, StaticToken(token), http, limiter)
    tag = uuid.uuid4().hex[:8]
    customer, item = await invoice_refs(client, tag)
    ops = [
        WriteOp("create", "Invoice", invoice_body(i, tag, customer, item), f"bench-{tag}-{i}")
        for i in range(n)
    ]
    # Start the clock after the set-up requests, and let their rate tokens drain first so
    # the measured window holds only invoice requests.
    await asyncio.sleep(2)
    start = time.monotonic()
    results = await client.write_many(ops)
    elapsed = time.monotonic() - start
    failed = [r for r in results if r.error is not None]
    rate = n / elapsed * 60
    print(f"client: {n} invoices in {elapsed:.1f} s = {rate:.0f} invoices/min")
    throttled = await throttled_count(admin, realm)
    print(f"client: failed {len(failed)}; 429s seen by emulator {throttled}")
    print(f"client: 429s answered to the client's limiter {limiter.throttled_count}")
    if failed:
        print(f"client: first failure {failed[0].error!r}")
    print(f"client: share of ceiling {rate / CEILING_PER_MIN:.1%} (ceiling {CEILING_PER_MIN}/min)")


async def run_plain(base: str, admin: httpx.AsyncClient, http: httpx.AsyncClient, n: int) -> None:
    realm, token = await new_realm(admin)
    setup = QboClient(base, realm, StaticToken(token), http)
    tag = uuid.uuid4().hex[:8]
    customer, item = await invoice_refs(setup, tag)
    url = f"{base}/v3/company/{realm}/invoice"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    start = time.monotonic()
    for i in range(n):
        params = {"minorversion": "75", "requestid": f"plain-{tag}-{i}"}
        while True:
            resp = await http.post(
                url, params=params, headers=headers, json=invoice_body(i, tag, customer, item)
            )
            if resp.status_code != 429:
                break
            await asyncio.sleep(float(resp.headers.get("retry-after", 60)))
        resp.raise_for_status()
    elapsed = time.monotonic() - start
    print(f"plain:  {n} invoices in {elapsed:.1f} s = {n / elapsed * 60:.0f} invoices/min")
    print(f"plain:  429s seen by emulator {await throttled_count(admin, realm)}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--invoices", type=int, default=3000)
    parser.add_argument("--plain-invoices", type=int, default=None)
    parser.add_argument("--latency-ms", type=int, default=150)
    parser.add_argument("--skip-plain", action="store_true")
    args = parser.parse_args()
    plain_n = args.invoices if args.plain_invoices is None else args.plain_invoices
    with emulator(free_port()) as base:
        async with (
            httpx.AsyncClient(base_url=base, timeout=30) as admin,
            httpx.AsyncClient(timeout=httpx.Timeout(30), limits=httpx.Limits()) as http,
        ):
            await admin.post("/_admin/latency", json={"fixed_ms": args.latency_ms})
            print(
                f"limits: {REQUESTS_PER_MIN} req/min, {MAX_CONCURRENT} concurrent, "
                f"batch {BATCH_MAX_ITEMS} x {BATCH_PER_MIN}/min; latency {args.latency_ms} ms"
            )
            print(
                f"ceiling: {BATCH_PER_MIN}x{BATCH_MAX_ITEMS} + ({REQUESTS_PER_MIN}-{BATCH_PER_MIN})"
                f" = {CEILING_PER_MIN} invoices/min per realm"
            )
            await run_client(base, admin, http, args.invoices)
            if not args.skip_plain:
                await run_plain(base, admin, http, plain_n)


if __name__ == "__main__":
    asyncio.run(main())
