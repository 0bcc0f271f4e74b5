"""The issue-7 exactly-once run: 5,000 commands for 20 realms, injected faults, a forced
token expiry per realm, and the poster process SIGKILLed three times mid-run.

Used by `run.py` (third scenario). The poster runs as its own process
(`python -m qbsync_poster`) so it can be killed; the emulator's export is the judge:
every invoice DocNumber and every payment exactly once per realm.

Injected kinds are 500, 503, timeout and drop. Injected 429s are left out here: the
emulator answers them with `Retry-After: 60`, which the client honours, so a 10% share
would turn the run into hours of waiting (the 429 path is covered in tests/poster,
where the answer's Retry-After is rewritten).
"""

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from cryptography.fernet import Fernet
from qbsync_core.commands import Entity, Operation, PostingCommand, command_id_for
from qbsync_core.db import create_pool, migrate
from qbsync_core.errors import ErrorCategory
from qbsync_core.topics import ERRORS, POSTED
from qbsync_poster.connections import Connections
from qbsync_poster.migrations_path import MIGRATIONS, SCHEMA
from qbsync_poster.settings import PosterSettings
from qbsync_qbo import TokenSet

REALMS = 20
INVOICES = 150
PAYMENTS = 100
KILLS = 3
PR_SET_PDEATHSIG = 1


def payment(inv: PostingCommand, index: int) -> PostingCommand:
    assert inv.customer is not None
    event = f"pay-{index}"
    return PostingCommand(
        command_id=command_id_for(inv.tenant_id, "bench", event, 0, "create", "Payment"),
        tenant_id=inv.tenant_id,
        realm_id=inv.realm_id,
        event_id=event,
        source="bench",
        event_type="payment.received",
        sequence=0,
        operation=Operation.CREATE,
        entity=Entity.PAYMENT,
        upstream_ref=f"payment:{inv.tenant_id}:{index}",
        body={
            "CustomerRef": {"$ref": inv.customer.upstream_ref},
            "TotalAmt": "120.00",
            "PrivateNote": f"Upstream payment {index}",
            "Line": [
                {
                    "Amount": "120.00",
                    "LinkedTxn": [{"TxnId": {"$ref": inv.upstream_ref}, "TxnType": "Invoice"}],
                }
            ],
        },
        customer=inv.customer,
        depends_on=[inv.upstream_ref],
        category=ErrorCategory.PAYMENT,
        occurred_at=datetime.now(UTC),
    )


def _die_with_parent() -> None:
    """In the child: SIGKILL it when the bench dies (even by SIGKILL or `timeout`)."""
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _spawn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "qbsync_poster", "--port", str(port)],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,  # prctl only: safe before exec
    )


async def connect_realms(stack: Any, key: str, tenants: list[str]) -> list[str]:
    """Create a realm in the emulator per tenant and store its tokens (under `key`) as a
    connection, the way the poster processes will read them. Returns the realm ids."""
    settings = PosterSettings(
        kafka_bootstrap_servers=stack.bootstrap,
        database_url=stack.database_url,
        token_keys=key,  # type: ignore[arg-type]
        qbo_base_url=stack.qbo,
        oauth_token_url=f"{stack.qbo}/oauth2/v1/tokens/bearer",
    )
    await migrate(stack.database_url, SCHEMA, MIGRATIONS)
    pool = await create_pool(stack.database_url, SCHEMA, max_size=2)
    realms: list[str] = []
    try:
        async with httpx.AsyncClient() as http:
            connections = Connections(pool, http, settings)
            for tenant in tenants:
                realm = str((await stack.admin("POST", "realms", {"name": tenant}))["realm_id"])
                tokens = await stack.admin("POST", f"realms/{realm}/tokens")
                await connections.connect_with_tokens(
                    tenant,
                    TokenSet(
                        realm_id=realm,
                        access_token=tokens["access_token"],
                        refresh_token=tokens["refresh_token"],
                        expires_at=datetime.now(UTC) + timedelta(seconds=3600),
                    ),
                )
                realms.append(realm)
    finally:
        await pool.close()
    return realms


def poster_env(stack: Any, key: str, group: str, **extra: str) -> dict[str, str]:
    """The environment of a `python -m qbsync_poster` process of the bench's stack."""
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap,
        "DATABASE_URL": stack.database_url,
        "QBSYNC_KAFKA_IDEMPOTENT_PRODUCER": "false",
        "QBSYNC_QBO_BASE_URL": stack.qbo,
        "QBSYNC_QBO_TOKEN_URL": f"{stack.qbo}/oauth2/v1/tokens/bearer",
        "QBSYNC_POSTER_TOKEN_KEYS": key,
        "QBSYNC_POSTER_GROUP_ID": group,
        **extra,
    }


async def run_chaos(
    stack: Any, invoice_factory: Any, base: Path, port: int, *, kills_wanted: int = KILLS
) -> tuple[str, bool]:
    """Run the scenario; returns (Markdown table row, every realm exactly once)."""
    key = Fernet.generate_key().decode()
    group = f"bench-chaos-{os.getpid()}-{int(time.time())}"
    await stack.admin("POST", "limits", {"enabled": True, "reset_windows": True})
    await stack.admin("POST", "latency", {"fixed_ms": 0})
    tenants = [f"chaos-{group}-{r}" for r in range(REALMS)]
    realms = await connect_realms(stack, key, tenants)
    commands: list[PostingCommand] = []
    for tenant, realm in zip(tenants, realms, strict=True):
        invoices = [invoice_factory(tenant, realm, i, 10) for i in range(INVOICES)]
        pays = [payment(invoices[i], i) for i in range(PAYMENTS)]
        pairs = [c for pair in zip(invoices[:PAYMENTS], pays, strict=True) for c in pair]
        commands += pairs + invoices[PAYMENTS:]
    env = poster_env(
        stack,
        key,
        group,
        QBSYNC_POSTER_RETRY_MAX_ATTEMPTS="10",
        QBSYNC_POSTER_RETRY_INITIAL_S="0.05",
        QBSYNC_POSTER_RETRY_MAX_S="1",
        # An injected "drop" leaves the socket open mid-body: fail it fast.
        QBSYNC_POSTER_QBO_TIMEOUT_S="2",
        QBSYNC_LOG_LEVEL=os.environ.get("BENCH_CHAOS_LOG_LEVEL", "WARNING"),
    )
    await stack.admin(
        "POST",
        "faults",
        {"share": 0.1, "kinds": ["500", "503", "timeout", "drop"], "timeout_s": 0.2, "seed": 3},
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    await consumer.start()
    parts = [TopicPartition(POSTED.name, p) for p in range(POSTED.partitions)]
    parts += [TopicPartition(ERRORS.name, p) for p in range(ERRORS.partitions)]
    consumer.assign(parts)
    await consumer.seek_to_end(*parts)
    for tp in parts:
        await consumer.position(tp)
    log = base / "poster-chaos.log"
    proc = _spawn(env, port, log)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, linger_ms=5)
    await producer.start()
    started = time.perf_counter()
    outcome: dict[str, str] = {}
    kills = 0
    try:
        futures = [
            await producer.send(
                "qbsync.commands.v1",
                c.model_dump_json().encode(),
                key=c.tenant_id.encode(),
                headers=[("qbsync-kind", b"posting-command")],
            )
            for c in commands
        ]
        await asyncio.gather(*futures)
        wanted = {c.command_id for c in commands}
        expired = False
        while len(outcome.keys() & wanted) < len(wanted) and time.perf_counter() - started < 900:
            batches = await consumer.getmany(timeout_ms=500, max_records=5000)
            for records in batches.values():
                for record in records:
                    value = json.loads(record.value or b"{}")
                    cid = value.get("command_id")
                    if cid in wanted:
                        outcome[cid] = "error" if "category" in value else "posted"
            done = len(outcome.keys() & wanted)
            if not expired and done > len(wanted) * 0.2:
                expired = True
                for realm in realms:
                    await stack.admin("POST", f"realms/{realm}/expire-tokens")
            if kills < kills_wanted and done > len(wanted) * (0.25 + 0.2 * kills):
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
                proc = _spawn(env, port, log)
    finally:
        await stack.admin("DELETE", "faults")
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        await producer.stop()
        await consumer.stop()
    seconds = time.perf_counter() - started
    exact = 0
    for realm in realms:
        state = (await stack.admin("GET", f"realms/{realm}/export"))["entities"]
        numbers = sorted(int(i["DocNumber"]) for i in state.get("Invoice", []))
        if numbers == list(range(10_000, 10_000 + INVOICES)) and (
            len(state.get("Payment", [])) == PAYMENTS
        ):
            exact += 1
    errors = sum(1 for v in outcome.values() if v == "error")
    ok = exact == REALMS and kills == kills_wanted
    row = (
        f"| {REALMS} realms, 10% injected 500/503/timeout/drop, token expiry per realm, "
        f"{kills} SIGKILLs | {len(commands):,} commands in {seconds:.0f} s | "
        f"**{exact}/{REALMS} realms exactly once** in the emulator's export, "
        f"{errors} error records (later outcome wins) | every entity exactly once: "
        f"{'met' if ok else 'NOT met'} |"
    )
    return row, ok
