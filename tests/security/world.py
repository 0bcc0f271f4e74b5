"""Two tenants with data in every service, and keys of every kind, for the isolation tests.

Tenant A owns what the probes aim at; tenant B's keys make the probes. B also has
the same kinds of data, so each probe can be repeated on B's own data: a probe that
answers 404 for B's own things too would prove nothing.
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer
from qbsync_core.errors import ErrorCategory
from qbsync_core.records import (
    CONNECTION_FIELD,
    ErrorRecord,
    Reason,
    Stage,
    encode_payload,
    record_id_for,
)
from qbsync_core.topics import ERRORS

from tests.fixtures.apps import bearer, errors_key, ingest_key, poster_key
from tests.security.conftest import Stack


@dataclass
class Tenant:
    """One tenant's ids and keys."""

    id: str
    ingest_key: str
    errors_key: str
    poster_key: str
    records: dict[str, str] = field(default_factory=dict)
    """Kind (account, service, mapping, stopper, connection) -> error record id."""
    webhook_id: str = ""
    realm: str = ""

    @property
    def errors_key_id(self) -> str:
        return self.errors_key.split("_")[1]

    @property
    def poster_key_id(self) -> str:
        return self.poster_key.split("_")[1]

    def ids(self) -> dict[str, str]:
        """Values for the path templates of every route."""
        return {
            "tenant": self.id,
            "tenant_id": self.id,
            "record_id": self.records["account"],
            "customer_ref": STOPPED_CUSTOMER,
            "webhook_id": self.webhook_id,
        }


@dataclass
class World:
    """Tenants A (the target) and B (the intruder), and the operators' keys."""

    a: Tenant
    b: Tenant
    errors_operator: str
    poster_operator: str


STOPPED_CUSTOMER = "stop-me"


def _record(tenant: str, kind: str) -> ErrorRecord:
    raw = f'{{"probe": "{kind}", "n": "{uuid.uuid4()}", "tenant_id": "{tenant}"}}'.encode()
    category, stage, field_name, customer = {
        "account": (ErrorCategory.ACCOUNT, Stage.POSTER, "customer", f"cust-{tenant}"),
        "service": (ErrorCategory.SERVICE, Stage.MAPPER, "item", None),
        "mapping": (ErrorCategory.MAPPING, Stage.MAPPER, "lines[0].item", None),
        "stopper": (ErrorCategory.ACCOUNT, Stage.MAPPER, "customer", STOPPED_CUSTOMER),
        "connection": (ErrorCategory.ACCOUNT, Stage.POSTER, CONNECTION_FIELD, None),
    }[kind]
    return ErrorRecord(
        record_id=record_id_for(stage, tenant, raw),
        tenant_id=tenant,
        category=category,
        stage=stage,
        cause=f"{kind} probe of {tenant}",
        reasons=[Reason(field=field_name, message="probe")],
        payload_b64=encode_payload(raw),
        customer_ref=customer,
        command_id=f"cmd-{uuid.uuid4().hex}" if stage is Stage.POSTER else None,
    )


async def _poll(check: Any, what: str, timeout: float = 90.0) -> Any:
    # Generous: in the whole suite the fresh consumer groups first read the backlog.
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def build_world(stack: Stack) -> World:
    """Create both tenants' keys and data in every service."""
    infra = stack.infra
    operator = await errors_key(infra, None)
    poster_operator = await poster_key(stack.poster, None)
    tenants = []
    for prefix in ("sa", "sb"):
        tid = f"{prefix}-{uuid.uuid4().hex[:10]}"
        tenants.append(
            Tenant(
                tid,
                await ingest_key(infra, tid),
                await errors_key(infra, tid),
                await poster_key(stack.poster, tid),
            )
        )
    a, b = tenants
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka)
    await producer.start()
    try:
        for tenant in (a, b):
            for kind in ("account", "service", "mapping", "stopper", "connection"):
                record = _record(tenant.id, kind)
                tenant.records[kind] = record.record_id
                await producer.send_and_wait(
                    ERRORS.name, record.model_dump_json().encode(), key=tenant.id.encode()
                )
    finally:
        await producer.stop()
    http, auth = stack.errors.http, bearer(operator)
    for tenant in (a, b):
        for record_id in tenant.records.values():

            async def stored(record_id: str = record_id) -> bool:
                resp = await http.get(f"/v1/errors/{record_id}", headers=auth)
                return resp.status_code == 200

            await _poll(stored, f"error {record_id} stored")
        stop = await http.post(
            f"/v1/errors/{tenant.records['stopper']}/account/stop-syncing", headers=auth
        )
        assert stop.status_code == 200, stop.text
        hook = await http.post(
            f"/v1/tenants/{tenant.id}/webhooks",
            json={"url": "http://127.0.0.1:9/hook"},
            headers=auth,
        )
        assert hook.status_code == 201, hook.text
        tenant.webhook_id = hook.json()["webhook_id"]
        tenant.realm = await stack.poster.connect(tenant.id)

    async def paused() -> bool:
        counts = (await http.get("/v1/errors/counts", headers=auth)).json()
        return {a.id, b.id} <= set(counts["paused_tenants"])

    await _poll(paused, "both tenants paused for their failing connection")
    return World(a, b, operator, poster_operator)


async def snapshot(stack: Stack, world: World, tenant: Tenant) -> dict[str, Any]:
    """What an operator sees of `tenant` in the errors service and the poster."""
    http, auth = stack.errors.http, bearer(world.errors_operator)
    errors = {}
    for kind, record_id in tenant.records.items():
        body = (await http.get(f"/v1/errors/{record_id}", headers=auth)).json()
        errors[kind] = (body.get("status"), body.get("attempts"), body.get("resolution"))
    hooks = (await http.get(f"/v1/tenants/{tenant.id}/webhooks", headers=auth)).json()
    stopped = (await http.get(f"/v1/tenants/{tenant.id}/customers/stopped", headers=auth)).json()
    counts = (await http.get("/v1/errors/counts", headers=auth)).json()
    pool = stack.poster.resources.ready().pool
    states = await pool.fetchval(
        "SELECT count(*) FROM oauth_states WHERE tenant_id = $1", tenant.id
    )
    return {
        "errors": errors,
        "webhooks": sorted(h["webhook_id"] for h in hooks),
        "stopped": sorted(c["customer_ref"] for c in stopped),
        "paused": tenant.id in counts["paused_tenants"],
        "oauth_states": states,
    }
