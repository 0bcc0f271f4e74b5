"""`qbsync dev up/down/status`: the embedded broker and database as one stack.

The stack's state (pids, ports, log files) is kept in `$QBSYNC_HOME/stack.json`;
the connection settings services read are written to `$QBSYNC_HOME/dev.env`.
"""

import asyncio
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qbsync_core.settings import dev_env_file, qbsync_home

from qbsync_dev.http_components import (
    EMULATORS,
    SERVICES,
    HttpComponentSpec,
    HttpHandle,
    http_answers,
    start_http,
    wait_http,
)
from qbsync_dev.kafka import BrokerHandle, broker_answers, start_broker, wait_broker
from qbsync_dev.postgres import PostgresHandle, database_answers, start_postgres, wait_postgres
from qbsync_dev.processes import ProcessRef, free_port
from qbsync_dev.service_keys import MAPPER_POSTER_KEY, new_key, store_poster_operator_key

DEFAULT_KAFKA_PORT = 19092
DEFAULT_POSTGRES_PORT = 15432


@dataclass
class Component:
    """One process of the stack as recorded in stack.json."""

    pid: int
    create_time: float
    url: str
    log_file: str
    health_url: str | None = None
    env_var: str | None = None

    @property
    def process(self) -> ProcessRef:
        """The recorded process identity."""
        return ProcessRef(self.pid, self.create_time)


@dataclass
class StackState:
    """What `dev up` started; read back by `status` and `down`."""

    broker: Component
    database: Component
    started_at: float
    services: dict[str, Component] = field(default_factory=dict)
    infrastructure_seconds: float = 0.0
    """From `dev up` until broker, database and emulators answered."""
    services_seconds: float = 0.0
    """From then until every service answered its readiness check."""

    def components(self) -> dict[str, Component]:
        """Every component by name, infrastructure first."""
        return {"broker": self.broker, "database": self.database, **self.services}


def trace_store(home: Path | None = None) -> Path:
    """The local span store the stack's services write (docs/tracing.md)."""
    return (home or qbsync_home()) / "traces.db"


def state_file(home: Path | None = None) -> Path:
    """Path of stack.json."""
    return (home or qbsync_home()) / "stack.json"


def read_state(home: Path | None = None) -> StackState | None:
    """The recorded stack, or None when no stack was started."""
    path = state_file(home)
    if not path.is_file():
        return None
    raw = json.loads(path.read_text())
    return StackState(
        broker=Component(**raw["broker"]),
        database=Component(**raw["database"]),
        started_at=raw["started_at"],
        services={k: Component(**v) for k, v in raw.get("services", {}).items()},
        infrastructure_seconds=raw.get("infrastructure_seconds", 0.0),
        services_seconds=raw.get("services_seconds", 0.0),
    )


def _write_state(state: StackState, home: Path) -> None:
    state_file(home).write_text(json.dumps(asdict(state), indent=2))
    env = (
        f"KAFKA_BOOTSTRAP_SERVERS={state.broker.url}\n"
        f"DATABASE_URL={state.database.url}\n"
        "# Tansu (memory storage) does not implement idempotent producers.\n"
        "QBSYNC_KAFKA_IDEMPOTENT_PRODUCER=false\n"
        "# Every service records its spans here; `qbsync trace ID` prints them.\n"
        f"QBSYNC_TRACE_STORE={trace_store(home)}\n"
    )
    env += "".join(f"{c.env_var}={c.url}\n" for c in state.services.values() if c.env_var)
    sandbox = state.services.get("qbo_sandbox")
    if sandbox is not None:  # the poster's OAuth2 flow goes to the emulator, as to Intuit
        env += (
            f"QBSYNC_QBO_AUTHORIZE_URL={sandbox.url}/oauth2/authorize\n"
            f"QBSYNC_QBO_TOKEN_URL={sandbox.url}/oauth2/v1/tokens/bearer\n"
        )
    env_file = home / dev_env_file().name
    env_file.write_text(env)


async def start_stack(
    home: Path,
    *,
    kafka_port: int = DEFAULT_KAFKA_PORT,
    postgres_port: int = DEFAULT_POSTGRES_PORT,
    timeout: float = 30.0,
    default_http_ports: bool = True,
) -> StackState:
    """Start broker and database side by side, wait for both, record them.

    `default_http_ports=False` gives the emulator and services ports the kernel picks,
    never 18080-18084, which other stacks on the machine prefer (a chaos run restarts a
    killed service on its old port, which must not be taken meanwhile).

    Raises:
        qbsync_dev.processes.StartupError: a component did not come up (both are stopped).
    """
    home.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before anything runs
    began = time.monotonic()
    logs = home / "logs"
    broker = start_broker(free_port(kafka_port), logs / "broker.log")
    database = start_postgres(home / "pgdata", free_port(postgres_port), logs / "postgres.log")
    http = [
        start_http(spec, free_port(_preferred(spec, default_http_ports)), logs / f"{spec.name}.log")
        for spec in EMULATORS
    ]
    started = [broker.process, database.process, *(h.process for h in http)]
    try:
        await asyncio.gather(
            wait_broker(broker, timeout),
            wait_postgres(database, timeout),
            *(wait_http(handle, timeout) for handle in http),
        )
        state = StackState(
            broker=_component(broker),
            database=_component(database),
            started_at=time.time(),
            services={h.spec.name: _component(h) for h in http},
            infrastructure_seconds=time.monotonic() - began,
        )
        _write_state(state, home)
        ports = {s.name: free_port(_preferred(s, default_http_ports)) for s in SERVICES}
        mapper_key = new_key()
        env = {
            **os.environ,
            "QBSYNC_HOME": str(home),
            "QBSYNC_POSTER_OAUTH_REDIRECT_URI": f"http://127.0.0.1:{ports['poster']}/callback",
            MAPPER_POSTER_KEY: mapper_key.token,
        }
        services = [
            start_http(spec, ports[spec.name], logs / f"{spec.name}.log", env) for spec in SERVICES
        ]
        started += [h.process for h in services]
        await asyncio.gather(*(wait_http(handle, timeout) for handle in services))
        # The poster answers once it has migrated: its api_keys table exists.
        await store_poster_operator_key(state.database.url, mapper_key)
    except BaseException:
        for process in started:
            process.stop()
        state_file(home).unlink(missing_ok=True)
        raise
    state.services.update({h.spec.name: _component(h) for h in services})
    state.services_seconds = time.monotonic() - began - state.infrastructure_seconds
    _write_state(state, home)
    return state


def _preferred(spec: HttpComponentSpec, default_http_ports: bool) -> int | None:
    return spec.preferred_port if default_http_ports else None


def _component(handle: BrokerHandle | PostgresHandle | HttpHandle) -> Component:
    if isinstance(handle, HttpHandle):
        return Component(
            handle.process.pid,
            handle.process.create_time,
            handle.base_url,
            str(handle.log_file),
            health_url=handle.base_url + handle.spec.health_path,
            env_var=handle.spec.env_var,
        )
    url = handle.bootstrap_servers if isinstance(handle, BrokerHandle) else handle.database_url
    return Component(handle.process.pid, handle.process.create_time, url, str(handle.log_file))


def stop_stack(home: Path) -> list[str]:
    """Stop every recorded component (services first); return the names stopped."""
    state = read_state(home)
    if state is None:
        return []
    stopped = []
    for name, component in reversed(list(state.components().items())):
        if component.process.alive():
            component.process.stop()
            stopped.append(name)
    state_file(home).unlink(missing_ok=True)
    (home / dev_env_file().name).unlink(missing_ok=True)
    return stopped


async def stack_status(home: Path) -> dict[str, dict[str, object]]:
    """For each component: url, pid, whether its process runs and whether it answers."""
    state = read_state(home)
    if state is None:
        return {}
    report: dict[str, dict[str, object]] = {}
    for name, component in state.components().items():
        running = component.process.alive()
        if name == "broker":
            answers = running and await broker_answers(component.url)
        elif name == "database":
            answers = running and await database_answers(component.url)
        else:
            answers = running and await http_answers(component.health_url or component.url)
        report[name] = {
            "url": component.url,
            "pid": component.pid,
            "running": running,
            "answers": answers,
            "log_file": component.log_file,
        }
    return report
