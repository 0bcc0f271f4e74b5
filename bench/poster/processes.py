"""The many-realm scenario with the poster as its own processes, as it is deployed.

Production runs two poster replicas in one consumer group (deploy/k8s/base/poster.yaml):
each takes half the partitions of qbsync.commands.v1, and a tenant is keyed to one
partition, so one realm's commands (and its limiter) stay in one process. Here the
posters (`python -m qbsync_poster`) share the 2 cores with the broker, PostgreSQL, the
emulator and this load generator, whose own work (building and serialising the commands)
is done before the clock starts.
"""

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.producer.message_accumulator import BatchBuilder
from cryptography.fernet import Fernet
from qbsync_core.commands import PostingCommand
from qbsync_core.topics import COMMANDS, POSTED
from qbsync_poster.settings import PosterSettings

from bench.cpu import (
    cpu_by_program,
    cpu_seconds,
    machine_busy_seconds,
    program_deltas,
    reference_seconds,
    sampled,
    stop_sampling,
)
from bench.poster.chaos import _spawn, connect_realms, poster_env

Factory = Callable[[str, str, int, int], PostingCommand]


@dataclass(frozen=True)
class ManyRun:
    """One many-realm run: its rate, and the CPU seconds that bought it."""

    commands: int
    seconds: float
    poster_cpu: float
    emulator_cpu: float
    busy: float
    """Share of the whole machine (all cores) that was busy."""
    reference: float
    """`bench.cpu.reference_seconds` just before the run (lower is a faster machine)."""
    line: str

    @property
    def rate(self) -> float:
        return self.commands / self.seconds

    def ms_per_command(self, cpu_seconds: float) -> float:
        return cpu_seconds / self.commands * 1000


COMMAND_HEADERS = [("qbsync-kind", b"posting-command")]
BATCH_BYTES = 256 * 1024
"""Record batches the harness sends (aiokafka's default is 16 KB, about 15 commands)."""


def _record_batches(
    producer: AIOKafkaProducer, payloads: list[tuple[bytes, bytes]], partitions: int
) -> list[tuple[int, BatchBuilder]]:
    """The commands as Kafka record batches per partition, built before the clock starts.

    The harness shares the two cores with the posters. Building 20,000 records one
    `send` at a time inside the timed window cost it about a second of CPU that the
    product never spends (its commands come from the mapper, elsewhere). Partitions are
    the default partitioner's, as `send` would choose; batches of a partition keep the
    commands' order.
    """
    partitioner = DefaultPartitioner()
    every = list(range(partitions))
    building: dict[int, BatchBuilder] = {}
    built: list[tuple[int, BatchBuilder]] = []
    for value, key in payloads:
        partition = partitioner(key, every, every)
        batch = building.get(partition)
        if batch is None:
            batch = building[partition] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None, headers=COMMAND_HEADERS) is None:
            built.append((partition, batch))
            batch = building[partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None, headers=COMMAND_HEADERS) is None:
                raise ValueError(f"a command of {len(value):,} bytes exceeds {BATCH_BYTES:,}")
    return built + list(building.items())


@contextlib.contextmanager
def posters(
    env: dict[str, str], count: int, base: Path, port: Callable[[], int]
) -> Iterator[list[tuple[subprocess.Popen[bytes], int]]]:
    procs = [
        (_spawn(env, p, base / f"poster-many-{i}.log"), p)
        for i, p in enumerate(port() for _ in range(count))
    ]
    try:
        yield procs
    finally:
        for proc, _ in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in procs:
            proc.wait(30)


async def _group_settled(bootstrap: str, group: str, members: int, timeout: float) -> None:
    """Wait until the group has `members` members sharing every partition of the topic.

    Timing starts after the join: group joins take seconds on the embedded broker.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    deadline = time.perf_counter() + timeout
    try:
        while time.perf_counter() < deadline:
            described = await admin.describe_consumer_groups([group])
            groups = getattr(described[0], "groups", [])
            if groups:
                state, group_members = groups[0][2], groups[0][5]
                if state == "Stable" and len(group_members) == members:
                    return
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
    raise RuntimeError(f"{members} posters did not settle in group {group}")


async def many_realms_processes(
    stack: Any,
    factory: Factory,
    base: Path,
    port: Callable[[], int],
    *,
    realms: int,
    per_realm: int,
    count: int,
) -> "ManyRun":
    """Run the scenario once; `ManyRun.line` is a CPU line for stderr."""
    await stack.admin("POST", "limits", {"enabled": False})
    await stack.admin("POST", "latency", {"fixed_ms": 0})
    key = Fernet.generate_key().decode()
    group = f"bench-many-{uuid.uuid4().hex[:6]}"
    tenants = [f"{group}-{i}" for i in range(realms)]
    realm_ids = await connect_realms(stack, key, tenants)
    commands = [
        factory(tenant, realm, n, 5)
        for tenant, realm in zip(tenants, realm_ids, strict=True)
        for n in range(per_realm)
    ]
    payloads = [(c.model_dump_json().encode(), c.tenant_id.encode()) for c in commands]
    env = poster_env(
        stack,
        key,
        group,
        QBSYNC_POSTER_LIMITS_ENABLED="false",
        QBSYNC_POSTER_KAFKA_MAX_RECORDS="2000",
        QBSYNC_POSTER_CDC_INTERVAL_S="0",
        QBSYNC_LOG_LEVEL=os.environ.get("BENCH_POSTER_LOG_LEVEL", "WARNING"),
    )
    # A topic per run: a new group reads from the start, and must not redo the last run's.
    topic = f"bench.commands.{group}"
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=COMMANDS.partitions, replication_factor=1)]
        )
    finally:
        await admin.close()
    env["QBSYNC_POSTER_COMMANDS_TOPIC"] = topic
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, enable_auto_commit=False)
    await consumer.start()
    parts = [TopicPartition(POSTED.name, p) for p in range(POSTED.partitions)]
    consumer.assign(parts)
    await consumer.seek_to_end(*parts)  # may land early on Tansu: older records are ignored
    for tp in parts:
        await consumer.position(tp)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, max_batch_size=BATCH_BYTES)
    await producer.start()
    with posters(env, count, base, port) as procs:
        default = PosterSettings.model_fields["consumers"].default
        members = count * int(env.get("QBSYNC_POSTER_CONSUMERS", default))
        await _group_settled(stack.bootstrap, group, members, timeout=120)
        pids = [proc.pid for proc, _ in procs]
        spies = sampled(
            {**{f"poster-{i}": pid for i, pid in enumerate(pids)}, "emulator": stack.qbo_pid}
        )
        wanted = {c.command_id for c in commands}
        batches = _record_batches(producer, payloads, COMMANDS.partitions)
        reference = reference_seconds()
        cpu_before = [cpu_seconds(p) for p in [*pids, stack.qbo_pid]]
        busy = machine_busy_seconds()
        programs = cpu_by_program()
        started = time.perf_counter()
        try:
            futures = [
                await producer.send_batch(batch, topic, partition=partition)
                for partition, batch in batches
            ]
            await asyncio.gather(*futures)
            while wanted and time.perf_counter() - started < 600:
                fetched = await consumer.getmany(timeout_ms=100, max_records=5000)
                for records in fetched.values():
                    for r in records:
                        wanted.discard(orjson.loads(r.value or b"{}").get("command_id", ""))
            seconds = time.perf_counter() - started
        finally:
            await producer.stop()
            await consumer.stop()
            stop_sampling(spies)
        if wanted:
            raise RuntimeError(f"{len(wanted)} commands not posted within 600 s")
        cpu = [cpu_seconds(p) - b for p, b in zip([*pids, stack.qbo_pid], cpu_before, strict=True)]
        busy = machine_busy_seconds() - busy
        top = program_deltas(programs, cpu_by_program())
    stats = (await stack.admin("GET", "stats"))["realms"]
    requests = sum(stats.get(r, {}).get("requests", 0) for r in realm_ids)
    cores = os.cpu_count() or 1
    line = (
        f"many realms, {count} poster processes (from "
        f"{datetime.fromtimestamp(time.time() - seconds, UTC):%H:%M:%S.%f}): "
        f"{requests:,} QBO requests; {seconds:.1f} s "
        f"wall; CPU: posters {' + '.join(f'{c:.1f}' for c in cpu[:-1])} s "
        f"({sum(cpu[:-1]) / len(commands) * 1000:.2f} ms/command), emulator {cpu[-1]:.1f} s, "
        f"whole machine {busy:.1f} s ({busy / seconds / cores:.0%} of "
        f"{cores} cores); by program: {top}; reference loop {reference:.2f} s"
    )
    return ManyRun(
        commands=len(commands),
        seconds=seconds,
        poster_cpu=sum(cpu[:-1]),
        emulator_cpu=cpu[-1],
        busy=busy / seconds / cores,
        reference=reference,
        line=line,
    )
